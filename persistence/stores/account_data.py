"""Account data (Client-Server API, "Client Config"): the latest content per user, room and type.

Written only by the account_data stream writers; a row carries the stream position of its latest write, so
``/sync`` reads what changed in a range as the rows whose position lies in it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from persistence.stream_ranges import between
from persistence.tables import account_data
from persistence.upsert import upsert
from protocol.sync_tokens import WriterPositions

GLOBAL = ""
"""The room id of global account data."""
IGNORED_USERS_TYPE = "m.ignored_user_list"


@dataclass(frozen=True)
class AccountDataEntry:
    room_id: str
    type: str
    content: dict[str, Any]
    stream_id: int


def _entry(row: Any) -> AccountDataEntry:
    return AccountDataEntry(row.room_id, row.type, json.loads(row.content), int(row.stream_id))


class AccountDataStore:
    def upsert_account_data(self, conn: Connection, user_id: str, room_id: str, event_type: str,
                            content: dict[str, Any], stream_id: int, instance_name: str) -> None:
        upsert(conn, account_data, {"user_id": user_id, "room_id": room_id, "type": event_type},
               {"content": json.dumps(content, separators=(",", ":"), ensure_ascii=False),
                "stream_id": stream_id, "instance_name": instance_name})

    def get_account_data(self, conn: Connection, user_id: str, room_id: str,
                         event_type: str) -> dict[str, Any] | None:
        found = conn.execute(select(account_data.c.content).where(
            account_data.c.user_id == user_id, account_data.c.room_id == room_id,
            account_data.c.type == event_type)).scalar_one_or_none()
        return json.loads(found) if found is not None else None

    def list_account_data(self, conn: Connection, user_id: str, since: WriterPositions | None,
                          until: WriterPositions) -> list[AccountDataEntry]:
        """Entries written after ``since`` (all of them when None) and at or before ``until``, in stream order."""
        rows = conn.execute(select(account_data).where(
            account_data.c.user_id == user_id,
            between(account_data.c.instance_name, account_data.c.stream_id, since, until))
            .order_by(account_data.c.stream_id))
        return [_entry(row) for row in rows]

    def list_users_ignoring(self, conn: Connection, user_ids: Iterable[str], sender: str) -> set[str]:
        """Which of ``user_ids`` list ``sender`` in their ``m.ignored_user_list`` (one query; only users who
        keep such a list have a row to read)."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return set()
        rows = conn.execute(select(account_data.c.user_id, account_data.c.content).where(
            account_data.c.type == IGNORED_USERS_TYPE, account_data.c.room_id == GLOBAL,
            account_data.c.user_id.in_(wanted)))
        ignoring = set()
        for row in rows:
            listed = json.loads(row.content).get("ignored_users")
            if isinstance(listed, dict) and sender in listed:
                ignoring.add(row.user_id)
        return ignoring
