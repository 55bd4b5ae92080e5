"""Keeping membership events in step with profiles: a display name or avatar change reaches every room the user
is joined to as a new ``m.room.member`` join event, as Synapse does and clients expect (names in room timelines
come from membership events).

The profile write leaves one outbox row per joined room (same transaction) and pokes that room's events writer;
the writer drains the room's rows under the room lock and appends a join event for each user whose membership
no longer carries their current profile. Draining twice changes nothing, so lost or repeated pokes are harmless
(the outbox sweep re-pokes the lost ones).
"""

from __future__ import annotations

from typing import Any

from persistence.doorbell import Ring
from persistence.locks import lock_room
from protocol.errors import MatrixError
from protocol.events.builder import EventTemplate
from tasks.api import REFRESH_MEMBER_PROFILES
from tasks.context import TaskContext
from tasks.events import STREAM, append_event, ring_keys
from tasks.registry import TaskSpec

FAMILY = "member_profiles"
PROFILE_FIELDS = ("displayname", "avatar_url")


def _wanted_content(current: dict[str, Any], profile: dict[str, str]) -> dict[str, Any]:
    content = {key: value for key, value in current.items() if key not in PROFILE_FIELDS}
    return {**content, **profile}


def refresh_member_profiles(context: TaskContext, *, room_id: str) -> int:
    """Bring the joined members named in this room's outbox rows up to date; returns the events appended."""
    stores = context.stores
    appended = []
    with context.database.write() as conn:
        lock_room(conn, room_id)
        items = stores.outbox.list_items(conn, FAMILY, room_id, lock=True)
        room = stores.rooms.get_room(conn, room_id) if items else None
        for user_id in sorted({str(item.payload["user_id"]) for item in items}) if room else ():
            found = stores.state.get_membership(conn, room_id, user_id)
            member = stores.events.get_event(conn, found[1]) if found and found[0] == "join" else None
            if member is None or room is None:
                continue
            profile = stores.profiles.get_profile(conn, user_id)
            fields = {"displayname": profile.displayname, "avatar_url": profile.avatar_url} if profile else {}
            wanted = _wanted_content(dict(member.event.content), {k: v for k, v in fields.items() if v})
            if wanted == dict(member.event.content):
                continue
            try:
                with conn.begin_nested():
                    appended.append(append_event(context, conn, room, EventTemplate(
                        "m.room.member", wanted, user_id), user_id))
            except MatrixError:  # the rules refuse it now (say, a ban raced the change): nothing to refresh
                continue
        stores.outbox.delete_items(conn, [item.id for item in items])
    if appended:
        context.doorbell.ring(Ring(STREAM, context.instance_name, appended[-1].stream_ordering,
                                   ring_keys(room_id, [entry.event for entry in appended])))
    return len(appended)


TASKS = (TaskSpec(REFRESH_MEMBER_PROFILES, family=STREAM, body=refresh_member_profiles, shard_param="room_id"),)
