"""Inviting by third-party identifier (Client-Server API, "Invite by third-party ID": ``POST
/rooms/{roomId}/invite`` with ``id_server``, ``id_access_token``, ``medium`` and ``address``, and createRoom's
``invite_3pid``).

The identity server is asked which user the address is bound to (``federation_client/identity.py``). A bound
address is invited as that user; an unbound one is stored at the identity server, and the room gets an
``m.room.third_party_invite`` event whose state key is the identity server's token and whose public keys will
check the signed proof the invitee's server presents once the address is bound (``/3pid/onbind``,
``web/federation/third_party_invites.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from federation_client.errors import FederationError
from federation_client.identity import lookup, store_invite
from protocol.errors import ConnectionFailed, InvalidParam
from protocol.identifiers import is_valid_server_name
from tasks import api as tasks_api
from web.deps import Deps
from web.requests import Body

MAX_ADDRESS_LENGTH = 512


@dataclass(frozen=True)
class ThirdPartyId:
    """One invitee as the client named them."""

    id_server: str
    id_access_token: str
    medium: str
    address: str

    @classmethod
    def from_body(cls, body: Body) -> ThirdPartyId:
        id_server = body.text("id_server", max_length=255)
        if not is_valid_server_name(id_server):
            raise InvalidParam("'id_server' is not a server name")
        return cls(id_server, body.text("id_access_token", max_length=1024), body.text("medium", max_length=64),
                   body.text("address", max_length=MAX_ADDRESS_LENGTH))


def bound_user(current: Deps, invitee: ThirdPartyId) -> str | None:
    """The user the address is bound to at the identity server, or None."""
    try:
        return lookup(current.federation.client.transport, invitee.id_server, invitee.id_access_token,
                      invitee.medium, invitee.address)
    except FederationError as exc:
        raise ConnectionFailed(f"The identity server {invitee.id_server} could not be asked: {exc}") from None


def invite_unbound(current: Deps, room_id: str, sender: str, invitee: ThirdPartyId) -> None:
    """Store the invitation at the identity server and send the room's ``m.room.third_party_invite`` event
    (the auth rules let a member with the invite level send it)."""
    request = {"medium": invitee.medium, "address": invitee.address, "room_id": room_id, "sender": sender}
    try:
        stored = store_invite(current.federation.client.transport, invitee.id_server, invitee.id_access_token,
                              request)
    except FederationError as exc:
        raise ConnectionFailed(f"The identity server {invitee.id_server} could not store the invite: {exc}") \
            from None
    first = stored.public_keys[0]
    content = {"display_name": stored.display_name, "key_validity_url": first["key_validity_url"],
               "public_key": first["public_key"], "public_keys": [dict(key) for key in stored.public_keys]}
    tasks_api.create_event(current.dispatcher, room_id=room_id, sender=sender,
                           event_type="m.room.third_party_invite", content=content, state_key=stored.token)
