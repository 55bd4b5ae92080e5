"""Auth failures carry the rule number each room version's spec page gives the rule."""

from __future__ import annotations

import pytest

from protocol.auth import AuthError, rule_number
from protocol.errors import Forbidden
from tests.protocol.factories import version

# (section, subsection) -> the number read off rooms/v1, v3, v6, v7, v8, v10, v11 and v12.
NUMBERS: dict[tuple[str, str | None], tuple[str, ...]] = {
    ("create", "creator"): ("1.4", "1.4", "1.4", "1.4", "1.4", "1.4"),
    ("auth_events", "room_id"): ("2.5", "2.5", "2.5", "2.5", "2.5", "2.5", "2.5", "3.4"),
    ("federate", None): ("3", "3", "3", "3", "3", "3", "3", "4"),
    ("aliases", None): ("4", "4"),
    ("member", "fields"): ("5.1", "5.1", "4.1", "4.1", "4.1", "4.1", "4.1", "5.1"),
    ("member", "join"): ("5.2", "5.2", "4.2", "4.2", "4.3", "4.3", "4.3", "5.3"),
    ("member", "invite"): ("5.3", "5.3", "4.3", "4.3", "4.4", "4.4", "4.4", "5.4"),
    ("member", "unknown"): ("5.6", "5.6", "4.6", "4.7", "4.8", "4.8", "4.8", "5.8"),
    ("sender_joined", None): ("6", "6", "5", "5", "5", "5", "5", "6"),
    ("third_party_invite", None): ("7", "7", "6", "6", "6", "6", "6", "7"),
    ("required_power_level", None): ("8", "8", "7", "7", "7", "7", "7", "8"),
    ("state_key", None): ("9", "9", "8", "8", "8", "8", "8", "9"),
    ("power_levels", "users"): ("10.1", "10.1", "9.1", "9.1", "9.1", "9.3", "9.3", "10.3"),
    ("power_levels", "users_new_values"): ("10.7", "10.7", "9.7", "9.7", "9.7", "9.9", "9.9", "10.10"),
    ("redaction", None): ("11",),
}
PAGES = (1, 3, 6, 7, 8, 10, 11, 12)


@pytest.mark.parametrize(("rule", "numbers"), NUMBERS.items(), ids=[str(key) for key in NUMBERS])
def test_rule_numbers_match_each_versions_spec_page(rule: tuple[str, str | None], numbers: tuple[str, ...]) -> None:
    section, subsection = rule
    for page, expected in zip(PAGES, numbers, strict=False):
        assert rule_number(version(page), section, subsection) == expected, page


def test_rules_a_version_does_not_have_have_no_number() -> None:
    with pytest.raises(ValueError):
        rule_number(version(6), "aliases")
    with pytest.raises(ValueError):
        rule_number(version(3), "redaction")
    with pytest.raises(ValueError):
        rule_number(version(11), "room_id")
    with pytest.raises(ValueError):
        rule_number(version(12), "auth_events", "create")


def test_auth_errors_are_forbidden_errors_naming_their_rule() -> None:
    error = AuthError("4.3", "the sender is banned")
    assert isinstance(error, Forbidden)
    assert error.to_dict() == {"errcode": "M_FORBIDDEN", "error": "Auth rule 4.3 failed: the sender is banned"}
    assert (error.rule, error.reason, error.http_status) == ("4.3", "the sender is banned", 403)
