"""The full Procfile deployment, started once per test session and shared by every client end-to-end module that
runs against the "procfile" shape (servers.E2E_SHAPES).

A dozen processes take a while to start, so one deployment serves them all: ``pytest -n`` hands every test that
uses it to the same worker as one unit (tests/scheduling.py), which runs them one after another, and the deployment
stops as soon as the last of them is done instead of idling until the session ends. Tests sharing the deployment
register accounts under fresh random names (servers.fresh_localpart).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.procfile import SharedDeployment, uses_procfile


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if uses_procfile(item):
            item.add_marker(pytest.mark.workers)


_SHARED = pytest.StashKey[SharedDeployment]()


@pytest.fixture(scope="session")
def procfile_deployment(request: pytest.FixtureRequest,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedDeployment]:
    shared = SharedDeployment(Path(tmp_path_factory.mktemp("procfile")), request.session)
    request.config.stash[_SHARED] = shared
    try:
        yield shared
    finally:
        shared.stop()
        del request.config.stash[_SHARED]


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """After the item's own fixtures are torn down: stop the deployment if this was the last test using it."""
    shared = item.config.stash.get(_SHARED, None)
    if shared is not None:
        shared.finished(item)
