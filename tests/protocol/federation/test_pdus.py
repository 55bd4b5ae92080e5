"""Checks 1-3 on receipt of a PDU (Server-Server API, "Checks performed on receipt of a PDU"): format per room
version, signatures of every server that must sign, and the content hash (a mismatch redacts)."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.events.builder import EventTemplate, build_event
from protocol.events.model import Event
from protocol.events.signatures import hash_and_sign_event
from protocol.federation.pdus import (
    MAX_PREV_EVENTS,
    CheckedPdu,
    MalformedPdu,
    check_pdu,
    parse_pdu,
    required_signers,
)
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from protocol.signing import InvalidSignature, SigningKey, VerifyKey, generate_signing_key, key_id_of, verify_key_of

ORIGIN = "origin.example"
ORIGIN_KEY = generate_signing_key("k1")
OTHER = "other.example"
OTHER_KEY = generate_signing_key("k2")
KEYS = {(ORIGIN, key_id_of(ORIGIN_KEY)): verify_key_of(ORIGIN_KEY),
        (OTHER, key_id_of(OTHER_KEY)): verify_key_of(OTHER_KEY)}
NOW = 1_700_000_000_000
V10 = KNOWN_ROOM_VERSIONS["10"]


def lookup(server_name: str, key_id: str, at_ts: int | None) -> VerifyKey | None:
    return KEYS.get((server_name, key_id))


def signed(room_version: RoomVersion = V10, *, sender: str = f"@alice:{ORIGIN}", server: str = ORIGIN,
           key: SigningKey = ORIGIN_KEY, content: dict[str, Any] | None = None, event_type: str = "m.room.message",
           state_key: str | None = None) -> Event:
    room_id = f"!room:{ORIGIN}" if room_version.identifier != "12" else "!" + "A" * 43
    return build_event(room_version, EventTemplate(event_type, content or {"body": "hi"}, state_key),
                       room_id=room_id, sender=sender, prev_events=(), auth_events=(), origin_server_ts=NOW,
                       server_name=server, signing_key=key, opaque_id="opaque1")


@pytest.mark.parametrize("room_version", list(KNOWN_ROOM_VERSIONS.values()), ids=lambda v: v.identifier)
def test_a_well_formed_signed_event_passes_in_every_room_version(room_version: RoomVersion) -> None:
    event = signed(room_version)
    checked = check_pdu(dict(event.pdu), room_version, lookup)
    assert checked == CheckedPdu(checked.event)
    assert checked.event.event_id == event.event_id
    assert not checked.redacted


def test_a_content_hash_mismatch_redacts_and_keeps_the_event_id() -> None:
    event = signed(content={"body": "original"})
    tampered = {**event.pdu, "content": {"body": "changed"}}
    checked = check_pdu(tampered, V10, lookup)
    assert checked.redacted
    assert checked.event.event_id == event.event_id
    assert checked.event.content == {}


def test_a_signature_by_another_key_is_refused() -> None:
    forged = signed(key=generate_signing_key(key_id_of(ORIGIN_KEY).partition(":")[2]))
    with pytest.raises(InvalidSignature):
        check_pdu(dict(forged.pdu), V10, lookup)


def test_an_event_not_signed_by_the_senders_server_is_refused() -> None:
    relayed = signed(sender=f"@alice:{OTHER}", server=ORIGIN, key=ORIGIN_KEY)
    with pytest.raises(InvalidSignature):
        check_pdu(dict(relayed.pdu), V10, lookup)


def test_a_signature_by_an_unknown_key_is_refused() -> None:
    unknown = signed(key=generate_signing_key("unknown"))
    with pytest.raises(InvalidSignature):
        check_pdu(dict(unknown.pdu), V10, lookup)


def test_key_validity_is_asked_at_the_events_time_from_room_version_5() -> None:
    asked: list[int | None] = []

    def recording(server_name: str, key_id: str, at_ts: int | None) -> VerifyKey | None:
        asked.append(at_ts)
        return lookup(server_name, key_id, at_ts)

    check_pdu(dict(signed(KNOWN_ROOM_VERSIONS["5"]).pdu), KNOWN_ROOM_VERSIONS["5"], recording)
    check_pdu(dict(signed(KNOWN_ROOM_VERSIONS["4"]).pdu), KNOWN_ROOM_VERSIONS["4"], recording)
    assert asked == [NOW, None]


def test_v1_events_must_also_be_signed_by_the_server_of_their_event_id() -> None:
    v1 = KNOWN_ROOM_VERSIONS["1"]
    event = signed(v1, sender=f"@alice:{ORIGIN}", server=OTHER, key=OTHER_KEY)  # id names other.example
    assert required_signers(event) == {ORIGIN, OTHER}
    with pytest.raises(InvalidSignature):
        check_pdu(dict(event.pdu), v1, lookup)


def test_a_restricted_join_needs_the_authorising_servers_signature() -> None:
    join = signed(KNOWN_ROOM_VERSIONS["8"], event_type="m.room.member", state_key=f"@alice:{ORIGIN}",
                  content={"membership": "join", "join_authorised_via_users_server": f"@bob:{OTHER}"})
    assert required_signers(join) == {ORIGIN, OTHER}
    with pytest.raises(InvalidSignature):
        check_pdu(dict(join.pdu), KNOWN_ROOM_VERSIONS["8"], lookup)


@pytest.mark.parametrize(("field", "value"), [
    ("type", 5), ("sender", "not-a-user"), ("room_id", "no-sigil"), ("depth", -1), ("depth", "1"),
    ("origin_server_ts", "now"), ("content", []), ("prev_events", "x"), ("prev_events", [["$a:b", {}]]),
    ("auth_events", [5]), ("state_key", 3), ("hashes", {}), ("signatures", []),
    ("prev_events", ["$" + "A" * 43] * (MAX_PREV_EVENTS + 1)),
])
def test_malformed_fields_are_refused(field: str, value: Any) -> None:
    pdu = {**signed().pdu, field: value}
    with pytest.raises(MalformedPdu):
        parse_pdu(pdu, V10)


def test_missing_fields_and_non_objects_are_refused() -> None:
    for field in ("type", "sender", "room_id", "depth", "content", "prev_events", "auth_events", "hashes"):
        pdu = {key: value for key, value in signed().pdu.items() if key != field}
        with pytest.raises(MalformedPdu):
            parse_pdu(pdu, V10)
    with pytest.raises(MalformedPdu):
        parse_pdu(["not", "an", "object"], V10)


def test_floats_and_huge_integers_are_refused_from_room_version_6() -> None:
    with pytest.raises(MalformedPdu):
        parse_pdu({**signed().pdu, "content": {"n": 1.5}}, V10)
    with pytest.raises(MalformedPdu):
        parse_pdu({**signed().pdu, "content": {"n": 2**60}}, V10)


def _oversized(room_version: RoomVersion, **changes: Any) -> dict[str, Any]:
    """A signed PDU that breaks a size limit (the builder refuses to make one)."""
    unsigned = {key: value for key, value in signed(room_version).pdu.items() if key not in ("hashes", "signatures")}
    return hash_and_sign_event({**unsigned, **changes}, room_version, ORIGIN, ORIGIN_KEY)


def test_an_event_larger_than_64_kib_is_refused() -> None:
    with pytest.raises(MalformedPdu):
        check_pdu(_oversized(V10, content={"body": "x" * 70_000}), V10, lookup)


def test_a_field_too_long_in_bytes_is_kept_rejected_before_v11_and_refused_from_v11() -> None:
    long_key = "\u00e9" * 200  # 200 codepoints, 400 bytes
    checked = check_pdu(_oversized(V10, state_key=long_key), V10, lookup)
    assert checked.rejected_reason is not None
    v11 = KNOWN_ROOM_VERSIONS["11"]
    with pytest.raises(MalformedPdu):
        check_pdu(_oversized(v11, state_key=long_key), v11, lookup)


def test_unsigned_is_dropped_and_a_claimed_event_id_ignored_from_v3() -> None:
    event = signed()
    parsed = parse_pdu({**event.pdu, "unsigned": {"age": 1}, "event_id": "$forged"}, V10)
    assert parsed.event_id == event.event_id
    assert "unsigned" not in parsed.pdu and "event_id" not in parsed.pdu
