"""Which membership events each device already holds, so lazy-loading syncs do not send them again (spec:
"Lazy-loading room members", ``include_redundant_members: false``).

The record is in the database (``persistence/stores/sent_members.py``), so a sync served by any process knows
what every other process sent. A device syncing from token T provably received every response whose events
positions T covers, so a member sent by such a response is held; one sent by a response it never received (it
retries from an older token) is not, and goes again — redundant at worst, never missing. A sync reads the record
only for rooms where it may send members, and writes only the members it sent that the device did not hold (and,
when the client rebuilds rooms from scratch, forgets what it held there): most syncs neither read nor write it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import Connection

from protocol.sync_tokens import WriterPositions
from web.deps import Deps


def held_members(deps: Deps, conn: Connection, user_id: str, device_id: str, since: WriterPositions,
                 room_ids: Collection[str]) -> dict[str, dict[str, str]]:
    """room id -> member -> the membership event the device syncing from ``since`` holds for them."""
    if not room_ids:
        return {}
    recorded = deps.stores.sent_members.list_sent_members(conn, user_id, device_id, room_ids)
    return {room_id: {member: sent.event_id for member, sent in members.items() if since.covers(sent.sent_until)}
            for room_id, members in recorded.items()}


def record_sent_members(deps: Deps, user_id: str, device_id: str, until: WriterPositions,
                        sent: Mapping[str, Mapping[str, str]], held: Mapping[str, Mapping[str, str]],
                        rebuilt_rooms: Collection[str], *, rebuilt_everything: bool) -> None:
    """After a response up to ``until`` sent ``sent`` (room id -> member -> event id): record what the device did
    not hold already. Rooms the client rebuilds from this response (``rebuilt_rooms``, or every room after an
    initial or ``full_state`` sync) hold only what it sent. Nothing is recorded for a device deleted (or logged
    out) while the response was built: its record went with it (``web/accounts/sessions.py``) and would not come
    back."""
    new = {room_id: changed for room_id, members in sent.items()
           if (changed := {member: event_id for member, event_id in members.items()
                           if held.get(room_id, {}).get(member) != event_id})}
    if not new and not rebuilt_everything and not rebuilt_rooms:
        return
    stores = deps.stores
    with deps.database.write() as conn:
        if stores.devices.get_device(conn, user_id, device_id, for_share=True) is None:
            return
        if rebuilt_everything:
            stores.sent_members.delete_sent_members(conn, user_id, device_id)
        elif rebuilt_rooms:
            stores.sent_members.delete_sent_members(conn, user_id, device_id, rebuilt_rooms)
        stores.sent_members.upsert_sent_members(conn, user_id, device_id, new, until)
