"""Task-tier tests.

``tasks.events`` and ``tasks.federation`` import each other (the events writer pokes the fan-out; the membership
handshakes append through the events writer), and only loading ``tasks.federation`` first resolves; a test module
that imports ``tasks.events`` first would fail to load when run alone, so the package loads it here.
"""

import tasks.federation  # noqa: F401
