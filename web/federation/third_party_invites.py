"""Turning a third-party invite into a real one (Server-Server API, "Third-party invites",
``PUT /exchange_third_party_invite/{roomId}``).

Once an identity server has bound the invited address to a user, that user's server hands the room's server the
partial invite: the original inviter (one of our users) as sender, the now-known user as state key, and the
identity server's signed proof. We issue the invite as the inviter would (the auth rules check the proof against
the room's ``m.room.third_party_invite`` event and its public keys): appended by the room's writer for a user of
ours, countersigned by the invitee's server first for anyone else ("Inviting to a room").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.errors import BadJson, Forbidden
from protocol.federation.membership import server_of
from protocol.identifiers import is_valid_user_id
from tasks import api as tasks_api
from web.client.remote_membership import invite_remote
from web.deps import deps
from web.federation.auth import server_authenticated
from web.federation.membership import resident_room
from web.requests import json_body


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
    with current.database.read() as conn:
        resident_room(current, conn, room_id)
    content = {"membership": "invite", "third_party_invite": dict(third_party_invite)}
    if server_of(target) == current.config.server_name:
        tasks_api.create_event(current.dispatcher, room_id=room_id, sender=sender, event_type="m.room.member",
                               content=content, state_key=target)
    else:
        invite_remote(current, room_id, sender, target, content)
    return {}
