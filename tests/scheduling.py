"""How ``pytest -n`` hands tests to its workers: one test at a time, except that the tests sharing one started
server travel together, so that server starts once per run and on one worker only.

An end-to-end module starts its server once per module and shape (a module-scoped fixture): its tests for one shape
form one work unit. Every test against the full Procfile deployment, a dozen processes shared by the whole session
(tests/e2e/conftest.py), forms one unit across modules. Everything else is scheduled test by test, as xdist's
default "load" scheduling does.

pytest-xdist's own ``--dist loadgroup`` would express the Procfile unit with ``xdist_group`` marks, but pytest-xdist
3.8 renames the node id through ``item._nodeid``, which pytest 9.2 no longer reads (nodes keep a structured
``_id``): the marks are silently ignored. Units here are computed from node ids alone, which the scheduler sees.
"""

from __future__ import annotations

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

E2E_DIRECTORY = "tests/e2e/"
PROCFILE_UNIT = "procfile"
PROCFILE_MODULE = f"{E2E_DIRECTORY}test_procfile_deployment.py"


def work_unit(nodeid: str) -> str:
    """The unit a test is scheduled in: node ids are ``path::name[params]`` relative to the repository root."""
    path, _, name = nodeid.partition("::")
    if not path.startswith(E2E_DIRECTORY):
        return nodeid
    params = name[name.index("["):] if "[" in name else ""
    if path == PROCFILE_MODULE or params == f"[{PROCFILE_UNIT}]":
        return PROCFILE_UNIT
    return f"{path}{params}"


class SharedServerScheduling(LoadScopeScheduling):
    """Load scheduling by work_unit; units are handed out largest first, so the long ones start early."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        self.log = log.sharedserversched if log is not None else Producer("sharedserversched")

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)
