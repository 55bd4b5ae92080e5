"""``device_lists`` of an incremental sync (Client-Server API, "End-to-End Encryption": "Tracking the device
list for a user"): whose device lists the client must fetch again, and whom it may stop tracking.

``changed``: users who share a room with the syncing user (or are the user) and changed a device in the range,
plus everyone who came to share a room in it (they joined, were invited to or knocked on one of the user's rooms,
as with Synapse, or the user joined theirs).
``left``: users who left one of the user's rooms, or whose room the user left, and now share none. An initial
sync has neither: the client fetches every list it needs then.
"""

from __future__ import annotations

from web.sync.rooms import Range, SyncReader


def device_list_changes(reader: SyncReader, events: Range, devices: Range, *, joined: set[str],
                        fresh_joins: set[str], left_rooms: set[str]) -> dict[str, list[str]]:
    """``joined``: the user's rooms now. Each read is skipped when its stream did not move."""
    if devices.since is None or events.since is None:
        return {"changed": [], "left": []}
    stores = reader.deps.stores
    changed = set() if devices.unchanged else stores.device_lists.list_changed_users_sharing_rooms(
        reader.conn, reader.user_id, devices.since, devices.until)
    joined_now = joined
    arrived: set[str] = set()
    gone: set[str] = set()
    member_changes = [] if events.unchanged else stores.events.list_member_changes_in_rooms(
        reader.conn, joined_now, events.since, events.until)
    for member, membership in member_changes:
        if membership in ("join", "invite", "knock"):  # an invitee's keys are needed to encrypt for them too
            arrived.add(member)
        elif membership in ("leave", "ban"):
            gone.add(member)
    for room_id in fresh_joins & joined_now:
        arrived.update(stores.state.list_members(reader.conn, room_id, "join"))
    for room_id in left_rooms:
        gone.update(stores.state.list_members(reader.conn, room_id, "join"))
    arrived.discard(reader.user_id)
    gone.discard(reader.user_id)
    still_sharing = stores.state.list_users_sharing_a_room(reader.conn, reader.user_id, gone)
    return {"changed": sorted(changed | arrived), "left": sorted(gone - still_sharing - arrived)}

