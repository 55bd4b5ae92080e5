"""The authorization rules the state resolution tests run with: the small double and the real rules.

Scenarios run with both, so an outcome depends on state resolution and not on a shortcut in the double (nor on a
detail of the real rules).
"""

from __future__ import annotations

import pytest

from protocol.auth import check_auth as auth_rules
from tests.protocol.state_res.simple_auth import check_simple_auth

CHECKERS = [check_simple_auth, auth_rules]
CHECKER_IDS = ["simple_auth", "auth_rules"]
with_each_checker = pytest.mark.parametrize("check_auth", CHECKERS, ids=CHECKER_IDS)
