"""Invites that redeem an m.room.third_party_invite: signatures checked against the invite event's public keys."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.auth import AuthError
from protocol.signing import encode_verify_key, generate_signing_key, sign_json, verify_key_of
from tests.protocol.factories import ALICE, ALL_VERSIONS, BOB, CAROL, Room, standard_room

IDENTITY_SERVER = "id.example"
TOKEN = "abc123"
# The invite rule's number on each version's page: rooms/v1 5.3, rooms/v6 4.3, rooms/v8 4.4, rooms/v12 5.4.
INVITE_RULE = {number: "5.3" if number <= 5 else "4.3" if number <= 7 else "4.4" if number <= 11 else "5.4"
               for number in range(1, 13)}  # fmt: skip


def _setup(room_version: Any, **invite_content: Any) -> tuple[Room, Any]:
    """A room where Bob (who may invite) sent an m.room.third_party_invite for TOKEN; returns the signing key."""
    key = generate_signing_key("1")
    room = standard_room(room_version, "invite", users={BOB: 50}, members=(BOB, CAROL))
    content = {"display_name": "a...@example.org", "key_validity_url": "https://id.example/isvalid",
               "public_key": encode_verify_key(verify_key_of(key)), **invite_content}  # fmt: skip
    room.send(BOB, "m.room.third_party_invite", content, state_key=TOKEN)
    return room, key


def _signed(key: Any, mxid: str = ALICE, token: str = TOKEN) -> dict[str, Any]:
    return sign_json({"mxid": mxid, "token": token}, IDENTITY_SERVER, key)


def _invite(room: Room, signed: Any, sender: str = BOB, target: str = ALICE) -> Any:
    return room.member(sender, "invite", target, third_party_invite={"display_name": "a...", "signed": signed})


def test_a_validly_signed_third_party_invite_is_allowed() -> None:
    for room_version in ALL_VERSIONS:
        room, key = _setup(room_version)
        room.check(_invite(room, _signed(key)))


def test_keys_listed_in_public_keys_count_too() -> None:
    other = generate_signing_key("2")
    for room_version in ALL_VERSIONS:
        room, _ = _setup(room_version, public_keys=[{"public_key": encode_verify_key(verify_key_of(other))}])
        room.check(_invite(room, _signed(other)))


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong key", "no signature in 'signed' matches"),
        ("tampered", "no signature in 'signed' matches"),
        ("unsigned", "no signature in 'signed' matches"),
        ("other mxid", "'signed.mxid' does not match"),
        ("unknown token", "no m.room.third_party_invite event"),
        ("no signed", "has no 'signed' object"),
        ("no token", "lacks 'mxid' or 'token'"),
        ("other sender", "did not send the m.room.third_party_invite"),
        ("banned target", "the target user is banned"),
    ],
)
def test_bad_third_party_invites_are_rejected_by_the_sub_rule_they_break(case: str, reason: str) -> None:
    for room_version in ALL_VERSIONS:
        room, key = _setup(room_version)
        signed: Any = _signed(key)
        sender = BOB
        if case == "wrong key":
            signed = _signed(generate_signing_key("1"))
        elif case == "tampered":
            signed = {**signed, "extra": 1}
        elif case == "unsigned":
            signed = {"mxid": ALICE, "token": TOKEN}
        elif case == "other mxid":
            signed = _signed(key, mxid=CAROL)
        elif case == "unknown token":
            signed = _signed(key, token="other")
        elif case == "no signed":
            signed = None
        elif case == "no token":
            signed = sign_json({"mxid": ALICE}, IDENTITY_SERVER, key)
        elif case == "other sender":
            sender = CAROL
        elif case == "banned target":
            room.send_member(BOB, "ban", ALICE)
        event = _invite(room, signed, sender=sender)
        with pytest.raises(AuthError, match=reason) as raised:
            room.check(event)
        assert raised.value.rule == INVITE_RULE[int(room_version.identifier)]


def test_a_third_party_invite_does_not_need_the_sender_to_be_joined_any_more() -> None:
    """Sub-rule 7 allows without the "sender is joined" check: it held when the invite event was sent."""
    for room_version in ALL_VERSIONS:
        room, key = _setup(room_version)
        room.send_member(BOB, "leave")
        room.check(_invite(room, _signed(key)))
        assert not room.allows(room.member(BOB, "invite", ALICE))


def test_sending_the_third_party_invite_event_needs_the_invite_level() -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version, users={BOB: 10}, members=(BOB,), invite=20)
        event = room.event(BOB, "m.room.third_party_invite", {"public_key": "x"}, state_key="t")
        with pytest.raises(AuthError, match="below invite"):
            room.check(event)
        room.set_power_levels(users={**room.creator_levels(), BOB: 20}, invite=20)
        room.check(room.event(BOB, "m.room.third_party_invite", {"public_key": "x"}, state_key="t"))
