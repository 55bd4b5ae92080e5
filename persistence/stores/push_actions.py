"""Push actions: what the events writer's push rule evaluation decided per local recipient and event, kept only
where it notifies or highlights; ``/sync`` counts a user's unread notifications from them.

Written by the events writers, in the event's own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert

from persistence.tables import event_push_actions


@dataclass(frozen=True)
class PushAction:
    user_id: str
    notify: bool
    highlight: bool
    actions: tuple[Any, ...]


class PushActionsStore:
    def insert_push_actions(self, conn: Connection, *, event_id: str, room_id: str, stream_ordering: int,
                            instance_name: str, thread_id: str, actions: Sequence[PushAction]) -> None:
        """One event's rows, in one multi-row insert."""
        if not actions:
            return
        encoded: dict[int, str] = {}  # most recipients share a few rules' actions: encode each once
        rows = []
        for action in actions:
            text = encoded.get(id(action.actions))
            if text is None:
                text = encoded[id(action.actions)] = json.dumps(list(action.actions), separators=(",", ":"))
            rows.append({"user_id": action.user_id, "event_id": event_id, "room_id": room_id,
                         "stream_ordering": stream_ordering, "instance_name": instance_name, "thread_id": thread_id,
                         "notify": action.notify, "highlight": action.highlight, "actions": text})
        conn.execute(insert(event_push_actions), rows)
