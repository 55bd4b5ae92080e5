"""A device's end-to-end encryption keys: its identity keys, its one-time keys and its fallback keys.

Keys are stored as the canonical JSON the client uploaded. A one-time key is handed out exactly once: claiming
takes a row lock that concurrent claims skip (PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite has one writer at a
time) and deletes the row in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, literal, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import devices, e2e_device_keys, e2e_fallback_keys, e2e_one_time_keys
from protocol.canonical_json import encode_canonical_json


def _encode(value: Any) -> str:
    return encode_canonical_json(value).decode("utf-8")


# What /sync tells a device about its own keys on every response, in one prebuilt statement (a sync hot path):
# rows ("otk", algorithm, count) per one-time key algorithm and ("fallback", algorithm, 0) per unused fallback key.
_KEY_COUNTS = union_all(
    select(literal("otk").label("kind"), e2e_one_time_keys.c.algorithm, func.count().label("n")).where(
        e2e_one_time_keys.c.user_id == bindparam("user_id"), e2e_one_time_keys.c.device_id == bindparam("device_id"))
    .group_by(e2e_one_time_keys.c.algorithm),
    select(literal("fallback").label("kind"), e2e_fallback_keys.c.algorithm, literal(0).label("n")).where(
        e2e_fallback_keys.c.user_id == bindparam("user_id"), e2e_fallback_keys.c.device_id == bindparam("device_id"),
        e2e_fallback_keys.c.used.is_(False)),
)


@dataclass(frozen=True)
class DeviceKeyCounts:
    one_time_keys: dict[str, int]
    unused_fallback_algorithms: list[str]


@dataclass(frozen=True)
class ClaimedKey:
    algorithm: str
    key_id: str
    value: Any

    @property
    def name(self) -> str:
        return f"{self.algorithm}:{self.key_id}"


@dataclass(frozen=True)
class DeviceKeys:
    device_id: str
    keys: dict[str, Any]
    display_name: str | None


class E2eKeyStore:
    # --- device identity keys ---------------------------------------------------------------------------------
    def get_device_keys(self, conn: Connection, user_id: str, device_id: str) -> dict[str, Any] | None:
        row = conn.execute(select(e2e_device_keys.c.key_json).where(
            e2e_device_keys.c.user_id == user_id, e2e_device_keys.c.device_id == device_id)).first()
        return json.loads(row.key_json) if row else None

    def upsert_device_keys(self, conn: Connection, user_id: str, device_id: str, keys: dict[str, Any],
                           now_ms: int) -> bool:
        """Store the device's keys; returns whether they differ from what was stored (then lists must change)."""
        encoded = _encode(keys)
        existing = conn.execute(select(e2e_device_keys.c.key_json).where(
            e2e_device_keys.c.user_id == user_id, e2e_device_keys.c.device_id == device_id)).first()
        if existing is not None and existing.key_json == encoded:
            return False
        values = {"key_json": encoded, "ts": now_ms}
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(e2e_device_keys).values(user_id=user_id, device_id=device_id, **values)
                     .on_conflict_do_update(index_elements=["user_id", "device_id"], set_=values))
        return True

    def list_device_keys(self, conn: Connection, wanted: dict[str, list[str]]) -> dict[str, list[DeviceKeys]]:
        """user id -> the keys of the listed devices (an empty list: every device) that still exist, with each
        device's display name."""
        if not wanted:
            return {}
        conditions = [
            and_(devices.c.user_id == user_id, devices.c.device_id.in_(device_ids)) if device_ids
            else devices.c.user_id == user_id
            for user_id, device_ids in wanted.items()
        ]
        rows = conn.execute(
            select(devices.c.user_id, devices.c.device_id, devices.c.display_name, e2e_device_keys.c.key_json)
            .join(e2e_device_keys, and_(e2e_device_keys.c.user_id == devices.c.user_id,
                                        e2e_device_keys.c.device_id == devices.c.device_id))
            .where(or_(*conditions)).order_by(devices.c.user_id, devices.c.device_id))
        found: dict[str, list[DeviceKeys]] = {}
        for row in rows:
            found.setdefault(row.user_id, []).append(
                DeviceKeys(row.device_id, json.loads(row.key_json), row.display_name))
        return found

    # --- one-time keys --------------------------------------------------------------------------------------------
    def get_one_time_keys(self, conn: Connection, user_id: str, device_id: str,
                          names: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """(algorithm, key id) -> stored value, for those of ``names`` the device holds unclaimed."""
        key_ids = sorted({key_id for _, key_id in names})
        if not key_ids:
            return {}
        rows = conn.execute(select(e2e_one_time_keys.c.algorithm, e2e_one_time_keys.c.key_id,
                                   e2e_one_time_keys.c.key_json).where(
            e2e_one_time_keys.c.user_id == user_id, e2e_one_time_keys.c.device_id == device_id,
            e2e_one_time_keys.c.key_id.in_(key_ids)))
        return {(row.algorithm, row.key_id): json.loads(row.key_json) for row in rows}

    def insert_one_time_keys(self, conn: Connection, user_id: str, device_id: str,
                             keys: list[tuple[str, str, Any]], now_ms: int) -> None:
        """Add keys; one a concurrent upload of the same request inserted first is left as it is."""
        if keys:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(dialect.insert(e2e_one_time_keys).on_conflict_do_nothing(), [
                {"user_id": user_id, "device_id": device_id, "algorithm": algorithm, "key_id": key_id,
                 "key_json": _encode(value), "ts": now_ms} for algorithm, key_id, value in keys])

    def count_one_time_keys(self, conn: Connection, user_id: str, device_id: str) -> dict[str, int]:
        rows = conn.execute(select(e2e_one_time_keys.c.algorithm, func.count()).where(
            e2e_one_time_keys.c.user_id == user_id, e2e_one_time_keys.c.device_id == device_id)
            .group_by(e2e_one_time_keys.c.algorithm))
        return {row[0]: int(row[1]) for row in rows}

    def claim_one_time_key(self, conn: Connection, user_id: str, device_id: str,
                           algorithm: str) -> ClaimedKey | None:
        """Take one unclaimed key of the algorithm away from the device, or None when it has none left.

        A key another transaction is claiming right now is skipped, not waited for: each claim gets a different
        key, and one that finds only locked keys falls back as if there were none.
        """
        table = e2e_one_time_keys
        row = conn.execute(select(table.c.key_id, table.c.key_json).where(
            table.c.user_id == user_id, table.c.device_id == device_id, table.c.algorithm == algorithm)
            .order_by(table.c.key_id).limit(1).with_for_update(skip_locked=True)).first()
        if row is None:
            return None
        conn.execute(delete(table).where(table.c.user_id == user_id, table.c.device_id == device_id,
                                         table.c.algorithm == algorithm, table.c.key_id == row.key_id))
        return ClaimedKey(algorithm, row.key_id, json.loads(row.key_json))

    # --- fallback keys ----------------------------------------------------------------------------------------
    def upsert_fallback_key(self, conn: Connection, user_id: str, device_id: str, algorithm: str, key_id: str,
                            value: Any) -> bool:
        """Replace the device's fallback key of the algorithm; returns whether it was replaced. The same key
        uploaded again keeps its ``used`` mark, so a client repeating its upload is not told its used key is
        fresh."""
        table = e2e_fallback_keys
        encoded = _encode(value)
        existing = conn.execute(select(table.c.key_id, table.c.key_json).where(
            table.c.user_id == user_id, table.c.device_id == device_id, table.c.algorithm == algorithm)).first()
        if existing is not None and (existing.key_id, existing.key_json) == (key_id, encoded):
            return False
        values = {"key_id": key_id, "key_json": encoded, "used": False}
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(table).values(user_id=user_id, device_id=device_id, algorithm=algorithm,
                                                  **values)
                     .on_conflict_do_update(index_elements=["user_id", "device_id", "algorithm"], set_=values))
        return True

    def claim_fallback_key(self, conn: Connection, user_id: str, device_id: str,
                           algorithm: str) -> ClaimedKey | None:
        """The device's fallback key of the algorithm, marked used (it stays until the client replaces it)."""
        table = e2e_fallback_keys
        row = conn.execute(select(table.c.key_id, table.c.key_json).where(
            table.c.user_id == user_id, table.c.device_id == device_id, table.c.algorithm == algorithm)).first()
        if row is None:
            return None
        conn.execute(update(table).where(table.c.user_id == user_id, table.c.device_id == device_id,
                                         table.c.algorithm == algorithm).values(used=True))
        return ClaimedKey(algorithm, row.key_id, json.loads(row.key_json))

    def get_key_counts(self, conn: Connection, user_id: str, device_id: str) -> DeviceKeyCounts:
        """The device's one-time keys per algorithm and its unused fallback key algorithms, in one query."""
        one_time: dict[str, int] = {}
        fallback: list[str] = []
        for kind, algorithm, count in conn.execute(_KEY_COUNTS, {"user_id": user_id, "device_id": device_id}):
            if kind == "otk":
                one_time[algorithm] = int(count)
            else:
                fallback.append(algorithm)
        return DeviceKeyCounts(one_time, sorted(fallback))

    def list_key_counts_of_users(self, conn: Connection, user_ids: Iterable[str]
                                 ) -> tuple[dict[str, dict[str, dict[str, int]]], dict[str, dict[str, list[str]]]]:
        """Every device of the users with its one-time key counts per algorithm and its unused fallback key
        algorithms, as MSC3202 puts them in an appservice transaction (``user -> device -> ...``): a device
        without keys is there with ``{}`` and ``[]``, so the appservice learns it has none."""
        wanted = sorted(set(user_ids))
        one_time: dict[str, dict[str, dict[str, int]]] = {}
        fallback: dict[str, dict[str, list[str]]] = {}
        if not wanted:
            return one_time, fallback
        for row in conn.execute(select(devices.c.user_id, devices.c.device_id).where(devices.c.user_id.in_(wanted))):
            one_time.setdefault(row.user_id, {})[row.device_id] = {}
            fallback.setdefault(row.user_id, {})[row.device_id] = []
        otk = e2e_one_time_keys
        for user_id, device_id, algorithm, count in conn.execute(
                select(otk.c.user_id, otk.c.device_id, otk.c.algorithm, func.count())
                .where(otk.c.user_id.in_(wanted)).group_by(otk.c.user_id, otk.c.device_id, otk.c.algorithm)):
            if device_id in one_time.get(user_id, {}):
                one_time[user_id][device_id][algorithm] = int(count)
        fbk = e2e_fallback_keys
        for user_id, device_id, algorithm in conn.execute(
                select(fbk.c.user_id, fbk.c.device_id, fbk.c.algorithm)
                .where(fbk.c.user_id.in_(wanted), fbk.c.used.is_(False)).order_by(fbk.c.algorithm)):
            if device_id in fallback.get(user_id, {}):
                fallback[user_id][device_id].append(algorithm)
        return one_time, fallback

    # --- devices going away -----------------------------------------------------------------------------------
    def delete_keys_of_devices(self, conn: Connection, user_id: str, device_ids: list[str]) -> None:
        """A deleted device takes its identity, one-time and fallback keys with it."""
        if device_ids:
            for table in (e2e_device_keys, e2e_one_time_keys, e2e_fallback_keys):
                conn.execute(delete(table).where(table.c.user_id == user_id, table.c.device_id.in_(device_ids)))
