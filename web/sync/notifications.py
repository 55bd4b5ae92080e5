"""The unread notification counts of a ``/sync`` response's joined rooms (spec: "Receiving notifications").

A room's counts are its push actions (``tasks/push_actions.py``) after the user's read position, up to the
response's ``until``: all of them in ``unread_notifications``, or, when the timeline filter asks for
``unread_thread_notifications``, the main timeline's there and each thread's by its root id (threads without
any are left out, and so is the whole object when none has any). However many rooms the response holds, this
costs three queries (per few hundred rooms): where the user last spoke, their read receipts, then the counts.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from persistence.stores.push_actions import MAIN_THREAD, UnreadCounts
from protocol.sync_tokens import WriterPositions
from web.sync.rooms import SyncReader


def read_positions(reader: SyncReader, room_ids: Collection[str], until: WriterPositions) -> dict[str, int | None]:
    """Where the user has read each room up to (a stream ordering; None: nothing read yet): the later of their
    main-timeline ``m.read`` / ``m.read.private`` receipt and their own latest event there (a user has read what
    came before what they sent, as Synapse counts it). Two queries, whatever the number of rooms."""
    sent = reader.deps.stores.events.list_latest_sent(reader.conn, reader.user_id, room_ids, until)
    receipts = reader.deps.stores.receipts.list_read_positions(reader.conn, reader.user_id, room_ids)
    positions: dict[str, int | None] = {}
    for room_id in room_ids:
        known = [position for position in (sent.get(room_id), receipts.get(room_id)) if position is not None]
        positions[room_id] = max(known) if known else None
    return positions


def unread_sections(reader: SyncReader, room_ids: Collection[str], until: WriterPositions) -> dict[str, dict[str, Any]]:
    """room id -> the ``unread_notifications`` (and ``unread_thread_notifications``) keys of its join section."""
    if not room_ids:
        return {}
    positions = read_positions(reader, room_ids, until)
    store = reader.deps.stores.push_actions
    if not reader.filter.room.timeline.unread_thread_notifications:
        counts = store.count_unread(reader.conn, reader.user_id, positions, until)
        return {room_id: {"unread_notifications": counts.get(room_id, UnreadCounts()).to_client()}
                for room_id in room_ids}
    by_thread = store.count_unread_by_thread(reader.conn, reader.user_id, positions, until)
    sections: dict[str, dict[str, Any]] = {}
    for room_id in room_ids:
        threads = by_thread.get(room_id, {})
        section: dict[str, Any] = {"unread_notifications": threads.get(MAIN_THREAD, UnreadCounts()).to_client()}
        others = {thread_id: counts.to_client() for thread_id, counts in sorted(threads.items())
                  if thread_id != MAIN_THREAD}
        if others:
            section["unread_thread_notifications"] = others
        sections[room_id] = section
    return sections
