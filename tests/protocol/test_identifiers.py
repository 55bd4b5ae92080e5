"""Identifier grammar (spec: Appendices, "Identifier Grammar")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import InvalidUsername, MatrixError
from protocol.identifiers import UserId, check_new_localpart, is_valid_server_name, localpart_of


@pytest.mark.parametrize("name", ["example.org", "localhost:8008", "1.2.3.4", "1.2.3.4:1234", "[::1]",
                                  "[1234:5678::abcd]:5678", "matrix-01.example.org"])
def test_valid_server_names(name: str) -> None:
    assert is_valid_server_name(name)


@pytest.mark.parametrize("name", ["", "exa mple.org", "example.org:", "example.org:0", "example.org:65536",
                                  "example.org:99999999", "[::1", "example.org:80:80", "ex_ample.org"])
def test_invalid_server_names(name: str) -> None:
    assert not is_valid_server_name(name)


def test_user_id_parsing_accepts_historical_localparts() -> None:
    assert UserId.parse("@Alice:example.org") == UserId("Alice", "example.org")
    assert str(UserId.parse("@a:localhost:8008")) == "@a:localhost:8008"
    for bad in ("alice:example.org", "@:example.org", "@alice", "@ali ce:example.org", "@a:b c"):
        with pytest.raises(ValueError):
            UserId.parse(bad)


def test_new_localparts_follow_the_strict_grammar() -> None:
    check_new_localpart("alice.b_c=d-e/f+g", "example.org")
    for bad in ("Alice", "al ice", "", "1234", "a" * 250):
        with pytest.raises(InvalidUsername):
            check_new_localpart(bad, "example.org")


def test_localpart_of_login_identifiers() -> None:
    assert localpart_of("Alice", "example.org") == "alice"
    assert localpart_of("@Alice:example.org", "example.org") == "alice"
    assert localpart_of("@alice:other.org", "example.org") is None


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._=-/+", min_size=1, max_size=40))
def test_strictly_valid_localparts_round_trip(localpart: str) -> None:
    if localpart.isdigit():
        return
    check_new_localpart(localpart, "example.org")
    assert UserId.parse(f"@{localpart}:example.org").localpart == localpart


def test_matrix_errors_survive_the_task_wire_format() -> None:
    error = InvalidUsername("nope")
    rebuilt = MatrixError.from_wire(error.to_wire())
    assert type(rebuilt) is InvalidUsername and rebuilt.message == "nope" and rebuilt.http_status == 400
    custom = MatrixError("odd", status=418)
    custom_wire = {**custom.to_wire(), "body": {"errcode": "M_CUSTOM", "error": "odd", "extra": 1}}
    rebuilt_custom = MatrixError.from_wire(custom_wire)
    assert rebuilt_custom.to_dict() == {"errcode": "M_CUSTOM", "error": "odd", "extra": 1}
    assert rebuilt_custom.http_status == 418
