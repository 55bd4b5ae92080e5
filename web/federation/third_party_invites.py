"""Turning a third-party invite into a real one (Server-Server API, "Third-party invites": ``PUT /3pid/onbind``
from an identity server, ``PUT /exchange_third_party_invite/{roomId}`` between servers).

Once an identity server has bound the invited address to a user, that user's server hands the room's server the
partial invite: the original inviter (one of our users) as sender, the now-known user as state key, and the
identity server's signed proof. We issue the invite as the inviter would (the auth rules check the proof against
the room's ``m.room.third_party_invite`` event and its public keys): appended by the room's writer for a user of
ours, countersigned by the invitee's server first for anyone else ("Inviting to a room").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from federation_client.client import path_segment
from federation_client.errors import FederationError
from protocol.auth.third_party_invite import signed_with_key
from protocol.errors import BadJson, Forbidden, MatrixError
from protocol.events.model import Event
from protocol.federation.membership import server_of
from protocol.identifiers import is_valid_user_id
from tasks import api as tasks_api
from web.client.remote_membership import invite_remote
from web.deps import Deps, deps
from web.federation.auth import server_authenticated
from web.federation.membership import resident_room
from web.requests import json_body

logger = logging.getLogger(__name__)


def _invite_event(current: Deps, room_id: str, signed: object) -> Event:
    """The room's ``m.room.third_party_invite`` the proof names by its token; Forbidden when there is none."""
    token = signed.get("token") if isinstance(signed, Mapping) else None
    if not isinstance(token, str):
        raise Forbidden("The third-party invite's proof names no token")
    with current.database.read() as conn:
        state = current.stores.state.get_current_state_ids_for(conn, room_id, [("m.room.third_party_invite", token)])
        found = current.stores.events.get_events(conn, list(state.values()))
    invite_event = next((stored.event for stored in found.values()), None)
    if invite_event is None:
        raise Forbidden("No m.room.third_party_invite for this token")
    return invite_event


def _check_key_not_revoked(current: Deps, invite_event: Event, signed: Mapping[str, Any]) -> None:
    """Forbidden unless the identity server still vouches for a key that signed the proof: its
    ``key_validity_url`` answers ``{"valid": true}`` for it (Client-Server API, ``m.room.third_party_invite``;
    Synapse asks the same before it issues the invite). The auth rules check the signature alone."""
    listed = invite_event.content.get("public_keys")
    entries = [invite_event.content, *(listed if isinstance(listed, list) else [])]  # public_key's, then each
    for entry in entries:
        public_key, url = (entry.get("public_key"), entry.get("key_validity_url")) if isinstance(entry, Mapping) \
            else (None, None)
        if not isinstance(public_key, str) or not isinstance(url, str) or not signed_with_key(signed, public_key):
            continue
        try:
            query = f"public_key={quote(public_key, safe='')}"
            answer = current.federation.client.transport.request("GET", f"{url}?{query}")
            valid = answer.status == 200 and answer.json().get("valid") is True
        except (FederationError, ValueError, AttributeError) as exc:
            raise Forbidden(f"The identity server could not confirm its key: {exc}") from None
        if not valid:
            raise Forbidden("The identity server revoked the key that signed the third-party invite")
        return
    raise Forbidden("No public key of the m.room.third_party_invite signed the proof")


def _issue(current: Deps, room_id: str, sender: str, target: str, third_party_invite: Mapping[str, Any]) -> None:
    """The invite as ``sender`` (one of our users) would send it, in a room we are in."""
    with current.database.read() as conn:
        resident_room(current, conn, room_id)
    signed = third_party_invite.get("signed")
    invite_event = _invite_event(current, room_id, signed)
    assert isinstance(signed, Mapping)  # _invite_event found its token
    _check_key_not_revoked(current, invite_event, signed)
    # The name the room was told when the invite was made, as Synapse fills it in; the identity server's
    # onbind does not carry one.
    display_name = invite_event.content.get("display_name")
    content = {"membership": "invite", "third_party_invite": {
        **third_party_invite, **({"display_name": display_name} if isinstance(display_name, str) else {})}}
    if server_of(target) == current.config.server_name:
        tasks_api.create_event(current.dispatcher, room_id=room_id, sender=sender, event_type="m.room.member",
                               content=content, state_key=target)
    else:
        invite_remote(current, room_id, sender, target, content)


@server_authenticated
def exchange_third_party_invite(room_id: str, *, origin: str) -> dict[str, Any]:
    current = deps()
    body = json_body()
    if body.text("type") != "m.room.member" or body.text("room_id") != room_id:
        raise BadJson("The event must be an m.room.member event for this room")
    sender, target = body.text("sender"), body.text("state_key")
    if not is_valid_user_id(sender) or not is_valid_user_id(target):
        raise BadJson("sender and state_key must be user ids")
    if server_of(sender) != current.config.server_name:
        raise Forbidden("The inviter is not a user of this server")
    given = body.data.get("content")
    third_party_invite = given.get("third_party_invite") if isinstance(given, Mapping) else None
    if not isinstance(given, Mapping) or given.get("membership") != "invite" \
            or not isinstance(third_party_invite, Mapping) or not isinstance(third_party_invite.get("signed"),
                                                                              Mapping):
        raise BadJson("content must be an invite with a signed third_party_invite")
    _issue(current, room_id, sender, target, third_party_invite)
    return {}


def on_bind() -> dict[str, Any]:
    """``PUT /3pid/onbind``: an identity server tells us an address with pending invites is now bound to one of
    our users. Identity servers do not sign requests; what makes an invite real is the proof in ``signed``,
    which the room's auth rules check. Each invite goes to the inviter's server to be exchanged (or is issued
    here, when the inviter is ours); one that fails does not stop the others."""
    current = deps()
    body = json_body()
    mxid = body.text("mxid")
    if not is_valid_user_id(mxid) or server_of(mxid) != current.config.server_name:
        raise BadJson("mxid must be a user of this server")
    invites = body.data.get("invites", [])
    if not isinstance(invites, list):
        raise BadJson("invites must be a list")
    failures: list[MatrixError | FederationError] = []
    for invite in invites:
        if not isinstance(invite, Mapping) or invite.get("mxid") != mxid:
            continue
        room_id, sender, signed = invite.get("room_id"), invite.get("sender"), invite.get("signed")
        if not isinstance(room_id, str) or not isinstance(sender, str) or not isinstance(signed, Mapping):
            continue
        third_party_invite = {"display_name": invite.get("display_name") or invite.get("address") or mxid,
                              "signed": dict(signed)}
        try:
            _exchange(current, room_id, sender, mxid, third_party_invite)
        except (MatrixError, FederationError) as exc:
            logger.info("exchanging the third-party invite to %s for %s failed: %s", room_id, mxid, exc)
            failures.append(exc)
    # The identity server is told when an invite could not be issued (as Synapse answers it), once every
    # invite was tried.
    if failures:
        first = failures[0]
        raise first if isinstance(first, MatrixError) else Forbidden(f"A third-party invite failed: {first}")
    return {}


def _exchange(current: Deps, room_id: str, sender: str, mxid: str, third_party_invite: dict[str, Any]) -> None:
    if server_of(sender) == current.config.server_name:
        _issue(current, room_id, sender, mxid, third_party_invite)
        return
    partial = {"type": "m.room.member", "room_id": room_id, "sender": sender, "state_key": mxid,
               "content": {"membership": "invite", "third_party_invite": third_party_invite}}
    current.federation.client.put_json(
        server_of(sender), f"/_matrix/federation/v1/exchange_third_party_invite/{path_segment(room_id)}", partial)
