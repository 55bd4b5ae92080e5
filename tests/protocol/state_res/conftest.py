"""``check_auth``: each test that asks for it runs with the auth rules double and with the real rules."""

from __future__ import annotations

import pytest

from protocol.state_res import CheckAuth
from tests.protocol.state_res.checkers import CHECKER_IDS, CHECKERS


@pytest.fixture(params=CHECKERS, ids=CHECKER_IDS)
def check_auth(request: pytest.FixtureRequest) -> CheckAuth:
    checker: CheckAuth = request.param
    return checker
