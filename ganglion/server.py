"""Gunicorn, driven from Python so ``ganglion run`` and ``ganglion web`` need no separate gunicorn config.

The app is created in each worker after the fork (no preload), so database pools and doorbell threads belong to
the process that uses them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._app_factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._app_factory()

