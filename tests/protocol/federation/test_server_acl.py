"""Server ACLs (Client-Server API, "Server Access Control Lists (ACLs) for rooms")."""

from __future__ import annotations

import pytest

from protocol.federation.server_acl import server_allowed


def test_no_acl_allows_everyone() -> None:
    assert server_allowed(None, "anyone.example")


@pytest.mark.parametrize(("content", "server", "allowed"), [
    ({"allow": ["*"]}, "good.example", True),
    ({"allow": ["*"], "deny": ["evil.example"]}, "evil.example", False),
    ({"allow": ["*"], "deny": ["*.evil.example"]}, "sub.evil.example", False),
    ({"allow": ["*"], "deny": ["*.evil.example"]}, "evil.example", True),
    ({"allow": ["good.example"]}, "other.example", False),
    ({"allow": ["goo?.example"]}, "good.example:8448", True),  # the port is not part of the match
    ({"allow": ["GOOD.example"]}, "good.EXAMPLE", True),
    ({}, "good.example", False),  # no allow list: nobody
    ({"allow": ["*"]}, "127.0.0.1:8448", True),
    ({"allow": ["*"], "allow_ip_literals": False}, "127.0.0.1:8448", False),
    ({"allow": ["*"], "allow_ip_literals": False}, "[::1]:8448", False),
    ({"allow": "*"}, "good.example", False),  # not a list: no globs
    ({"allow": ["*"], "deny": [5, "evil.example"]}, "evil.example", False),
])
def test_deny_wins_then_allow_must_match(content: dict[str, object], server: str, allowed: bool) -> None:
    assert server_allowed(content, server) is allowed
