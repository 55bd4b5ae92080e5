"""Invites that redeem a third-party invite: the ``content.third_party_invite`` branch of the invite rule.

Spec: rooms/v1 auth rule 5.3.1 (rooms/v6, v7: 4.3.1; v8-v11: 4.4.1; v12: 5.4.1) and Client-Server API
``m.room.third_party_invite`` for where the public keys live. Checking the identity server's signature needs no
I/O: the keys it may have signed with are in the ``m.room.third_party_invite`` event itself. Whether the identity
server has since revoked a key (``key_validity_url``) is a network question and not part of the auth rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.auth.errors import reject
from protocol.events.model import Event, StateKey
from protocol.signing import InvalidSignature, decode_verify_key, verify_json


def check_third_party_invite(event: Event, state: Mapping[StateKey, Event], target_membership: str | None) -> None:
    """Allow (return) or reject (raise) an invite carrying ``content.third_party_invite``, by sub-rules 1-8.

    Note that this branch does not require the sender to be joined: that was checked when they sent the
    ``m.room.third_party_invite`` event, whose sender must be this event's sender.
    """
    room_version = event.room_version

    def fail(reason: str) -> Exception:
        return reject(room_version, "member", "invite", f"third-party invite: {reason}")

    if target_membership == "ban":
        raise fail("the target user is banned")
    third_party_invite = event.content.get("third_party_invite")
    signed = third_party_invite.get("signed") if isinstance(third_party_invite, Mapping) else None
    if not isinstance(signed, Mapping):
        raise fail("content.third_party_invite has no 'signed' object")
    mxid, token = signed.get("mxid"), signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        raise fail("'signed' lacks 'mxid' or 'token'")
    if mxid != event.state_key:
        raise fail("'signed.mxid' does not match the state_key")
    invite_event = state.get(("m.room.third_party_invite", token))
    if invite_event is None:
        raise fail(f"no m.room.third_party_invite event for token {token!r}")
    if invite_event.sender != event.sender:
        raise fail("the sender did not send the m.room.third_party_invite event")
    if not signed_with_invite_key(signed, invite_event):
        raise fail("no signature in 'signed' matches a public key of the m.room.third_party_invite event")


def invite_public_keys(invite_event: Event) -> list[str]:
    """The Base64 public keys of an ``m.room.third_party_invite``: ``public_key`` and each ``public_keys`` entry."""
    content = invite_event.content
    keys = [content["public_key"]] if isinstance(content.get("public_key"), str) else []
    more = content.get("public_keys")
    if isinstance(more, list):
        keys += [entry["public_key"] for entry in more if isinstance(entry, Mapping)
                 and isinstance(entry.get("public_key"), str)]  # fmt: skip
    return keys


def signed_with_invite_key(signed: Mapping[str, Any], invite_event: Event) -> bool:
    """Whether any ed25519 signature in ``signed`` verifies with any public key of ``invite_event`` (rule 7)."""
    return any(signed_with_key(signed, public_key) for public_key in invite_public_keys(invite_event))


def signed_with_key(signed: Mapping[str, Any], public_key: str) -> bool:
    """Whether any ed25519 signature in ``signed`` verifies with ``public_key`` (Base64)."""
    signatures = signed.get("signatures")
    if not isinstance(signatures, Mapping):
        return False
    for signer, key_signatures in signatures.items():
        if not isinstance(key_signatures, Mapping):
            continue
        for key_id in key_signatures:
            if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
                continue
            try:
                verify_json(signed, signer, decode_verify_key(key_id, public_key))
            except (InvalidSignature, ValueError, TypeError):
                continue
            return True
    return False
