"""Guests in rooms (Client-Server API, "Guest access"): only a room whose current ``m.room.guest_access`` is
``can_join`` takes or keeps guests. Guests are a local concept, so each server polices its own: it refuses a guest's
join itself and, when the room's guest access is revoked (by a local user or by an event received over federation,
as Synapse reacts to both), has its guests leave by their own membership events."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from protocol.errors import GuestAccessForbidden, MatrixError
from tasks import api as tasks_api
from web.deps import Deps

GUEST_ACCESS = ("m.room.guest_access", "")


def revokes_guest_access(event_type: str, state_key: str | None, content: Mapping[str, Any]) -> bool:
    """Whether an event of this shape takes guest access away (any value but ``can_join``)."""
    return (event_type, state_key) == GUEST_ACCESS and content.get("guest_access") != "can_join"


def guests_may_join(current: Deps, room_id: str) -> bool:
    """The room's current state allows guests. A room this server holds no state of (a remote room it is not
    in) does not: like Synapse, which judges a guest's join by its own view of the room, a server refuses a guest
    it cannot vouch for rather than asking the room's residents, who know nothing of guests."""
    with current.database.read() as conn:
        event_id = current.stores.state.get_current_state_event_id(conn, room_id, GUEST_ACCESS)
        stored = current.stores.events.get_event(conn, event_id) if event_id else None
    return stored is not None and stored.event.content.get("guest_access") == "can_join"


def check_guest_may_join(current: Deps, room_id: str) -> None:
    """403 ``M_GUEST_ACCESS_FORBIDDEN`` unless guests may join the room now."""
    if not guests_may_join(current, room_id):
        raise GuestAccessForbidden("Guest access is not allowed in this room")


def remove_guests(current: Deps, room_id: str) -> None:
    """Guest access was revoked: unless the current state allows guests again (a later event won), the local
    guests joined to or invited into the room leave it (Synapse's set). Each leaves by their own membership event
    (an invited one rejects the invite), so no power level is needed; one that fails (the guest left meanwhile)
    does not keep the others in."""
    if guests_may_join(current, room_id):
        return
    with current.database.read() as conn:
        members = current.stores.state.list_members(conn, room_id)
        present = [user_id for user_id, membership in members.items() if membership in ("join", "invite")]
        guests = current.stores.users.list_guests(conn, present)
    for guest in guests:
        with contextlib.suppress(MatrixError):
            tasks_api.create_event(current.dispatcher, room_id=room_id, sender=guest, event_type="m.room.member",
                                   content={"membership": "leave"}, state_key=guest)
