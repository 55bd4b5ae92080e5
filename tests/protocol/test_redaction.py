"""The redaction algorithm per room version (spec: rooms/v1, v6, v8, v9 and v11 "Redactions")."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.redaction import kept_content_keys, kept_top_level_keys, redact_event
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tests.protocol.strategies import events
from tests.protocol.vectors import redactable_event

PRE_V11_TOP_LEVEL = {
    "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth", "prev_events",
    "prev_state", "auth_events", "origin", "origin_server_ts", "membership",
}  # fmt: skip
V11_TOP_LEVEL = PRE_V11_TOP_LEVEL - {"origin", "membership", "prev_state"}
POWER_LEVELS = {"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"}

# (event type, versions, content keys kept). Read off the "Redactions" section of each room version page.
CONTENT_TABLE: list[tuple[str, range, set[str]]] = [
    ("m.room.member", range(1, 9), {"membership"}),
    ("m.room.member", range(9, 13), {"membership", "join_authorised_via_users_server"}),
    ("m.room.create", range(1, 11), {"creator"}),
    ("m.room.join_rules", range(1, 8), {"join_rule"}),
    ("m.room.join_rules", range(8, 13), {"join_rule", "allow"}),
    ("m.room.power_levels", range(1, 11), POWER_LEVELS),
    ("m.room.power_levels", range(11, 13), POWER_LEVELS | {"invite"}),
    ("m.room.history_visibility", range(1, 13), {"history_visibility"}),
    ("m.room.aliases", range(1, 6), {"aliases"}),
    ("m.room.aliases", range(6, 13), set()),
    ("m.room.redaction", range(1, 11), set()),
    ("m.room.redaction", range(11, 13), {"redacts"}),
    ("m.room.message", range(1, 13), set()),
    ("m.room.name", range(1, 13), set()),
]
# Every content key any version keeps for any type, plus keys nobody keeps.
EVERY_CONTENT_KEY = {key for _, _, keys in CONTENT_TABLE for key in keys} | {"body", "name", "notifications"}

ALL_VERSIONS = list(KNOWN_ROOM_VERSIONS.values())


def version(number: int) -> RoomVersion:
    return KNOWN_ROOM_VERSIONS[str(number)]


@pytest.mark.parametrize("number", range(1, 13))
def test_top_level_keys_kept_per_version(number: int) -> None:
    expected = V11_TOP_LEVEL if number >= 11 else PRE_V11_TOP_LEVEL
    assert kept_top_level_keys(version(number)) == expected
    event = {key: 1 for key in PRE_V11_TOP_LEVEL | {"unsigned", "redacts", "extra", "age_ts"}} | {"type": "m.x"}
    assert set(redact_event(event, version(number))) == expected


@pytest.mark.parametrize(
    ("event_type", "number", "kept"),
    [(event_type, number, kept) for event_type, numbers, kept in CONTENT_TABLE for number in numbers],
)
def test_content_keys_kept_per_event_type_and_version(event_type: str, number: int, kept: set[str]) -> None:
    content = {key: f"value of {key}" for key in EVERY_CONTENT_KEY}
    redacted = redact_event({"type": event_type, "content": content}, version(number))
    assert redacted["content"] == {key: f"value of {key}" for key in kept}


@pytest.mark.parametrize("number", range(11, 13))
def test_create_events_keep_their_whole_content_from_v11(number: int) -> None:
    content = {"room_version": "11", "m.federate": False, "predecessor": {"room_id": "!old:x"}, "type": "m.space"}
    assert kept_content_keys("m.room.create", version(number)) is None
    assert redact_event({"type": "m.room.create", "content": content}, version(number))["content"] == content


def test_third_party_invite_keeps_only_signed_from_v11() -> None:
    signed = {"mxid": "@a:b", "token": "t", "signatures": {"id.example": {"ed25519:0": "s"}}}
    event: dict[str, Any] = {
        "type": "m.room.member",
        "content": {"membership": "invite", "third_party_invite": {"display_name": "alice", "signed": signed}},
    }
    kept = {"membership": "invite", "third_party_invite": {"signed": signed}}
    assert redact_event(event, version(11))["content"] == kept
    assert redact_event(event, version(10))["content"] == {"membership": "invite"}
    event["content"]["third_party_invite"] = {"display_name": "alice"}
    assert redact_event(event, version(12))["content"] == {"membership": "invite"}


def test_the_spec_example_event_loses_its_body_but_keeps_its_identity() -> None:
    event = redactable_event()
    redacted = redact_event(event, version(1))
    assert redacted == {
        "content": {},
        "event_id": "$0:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "type": "m.room.message",
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "signatures": {},
    }
    assert "origin" not in redact_event(event, version(11))


@pytest.mark.parametrize("content", [None, "text", ["membership"], 3])
def test_malformed_content_redacts_to_an_empty_object(content: Any) -> None:
    assert redact_event({"type": "m.room.member", "content": content}, version(10))["content"] == {}


def test_missing_content_stays_missing() -> None:
    assert redact_event({"type": "m.room.message", "sender": "@a:b"}, version(12)) == {
        "type": "m.room.message",
        "sender": "@a:b",
    }


@given(events(), st.sampled_from(ALL_VERSIONS))
def test_redaction_is_idempotent(event: dict[str, Any], room_version: RoomVersion) -> None:
    once = redact_event(event, room_version)
    assert redact_event(once, room_version) == once


@given(events(), st.sampled_from(ALL_VERSIONS))
def test_redaction_only_removes_and_never_mutates(event: dict[str, Any], room_version: RoomVersion) -> None:
    before = copy.deepcopy(event)
    redacted = redact_event(event, room_version)
    assert event == before
    assert set(redacted) <= set(event)
    for key, value in redacted.items():
        if key != "content":
            assert value == event[key]
