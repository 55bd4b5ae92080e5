"""Server-side key backups (Client-Server API, "Server-side key backups"): backup versions and their keys.

Callers that change a user's backups hold ``lock_room_keys`` for the transaction first: the version numbering,
the "is this the current version" check, the etag and the key count are read-modify-writes that must see every
earlier writer's commit (two devices of one user upload to the same backup at once).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, tuple_, update

from persistence.locks import lock_user
from persistence.tables import room_key_backup_keys as keys_table
from persistence.tables import room_key_backup_versions as versions
from protocol.key_backup import RoomKeyData

ROOM_KEYS = "room_keys"
LOOKUP_CHUNK = 400
"""Sessions looked up per query: (room, session) pairs are two parameters each, under SQLite's limits."""


@dataclass(frozen=True)
class BackupVersion:
    user_id: str
    version: int
    algorithm: str
    auth_data: Any
    """As the client sent it: an object as the spec shapes it, or any JSON value (opaque, as Synapse keeps it)."""
    etag: int
    count: int
    deleted: bool


SessionKey = tuple[str, str]
"""(room id, session id)"""


def lock_room_keys(conn: Connection, user_id: str) -> None:
    """Hold the user's key-backup lock until the transaction ends (SQLite write transactions are serial anyway)."""
    lock_user(conn, ROOM_KEYS, user_id)


def _json(value: Any) -> str:
    """The client's JSON as it sent it (floats included, which canonical JSON would refuse); escapes keep NUL
    out of PostgreSQL text."""
    return json.dumps(value, separators=(",", ":"))


def _version(row: Any) -> BackupVersion:
    return BackupVersion(row.user_id, int(row.version), row.algorithm, json.loads(row.auth_data), int(row.etag),
                         int(row.key_count), bool(row.deleted))


def _key(row: Any) -> RoomKeyData:
    return RoomKeyData(int(row.first_message_index), int(row.forwarded_count), bool(row.is_verified),
                       json.loads(row.session_data))


def _key_values(data: RoomKeyData) -> dict[str, Any]:
    return {"first_message_index": data.first_message_index, "forwarded_count": data.forwarded_count,
            "is_verified": data.is_verified, "session_data": _json(data.session_data)}


class KeyBackupStore:
    # --- versions ---------------------------------------------------------------------------------------------
    def get_version(self, conn: Connection, user_id: str, version: int) -> BackupVersion | None:
        """The version, deleted or not."""
        row = conn.execute(select(versions).where(versions.c.user_id == user_id,
                                                  versions.c.version == version)).first()
        return None if row is None else _version(row)

    def get_current_version(self, conn: Connection, user_id: str) -> BackupVersion | None:
        """The latest version the user created and has not deleted: the one keys may be written to."""
        row = conn.execute(select(versions).where(versions.c.user_id == user_id, versions.c.deleted.is_(False))
                           .order_by(versions.c.version.desc()).limit(1)).first()
        return None if row is None else _version(row)

    def insert_version(self, conn: Connection, user_id: str, algorithm: str, auth_data: Any) -> int:
        """A new, empty version numbered after every earlier one, deleted ones included (they never come back)."""
        last = conn.execute(select(func.max(versions.c.version))
                            .where(versions.c.user_id == user_id)).scalar_one_or_none()
        number = 1 if last is None else int(last) + 1
        conn.execute(insert(versions).values(user_id=user_id, version=number, algorithm=algorithm,
                                             auth_data=_json(auth_data), etag=0,
                                             key_count=0, deleted=False))
        return number

    def update_auth_data(self, conn: Connection, user_id: str, version: int, auth_data: Any) -> None:
        conn.execute(update(versions).where(versions.c.user_id == user_id, versions.c.version == version)
                     .values(auth_data=_json(auth_data)))

    def update_counters(self, conn: Connection, user_id: str, version: int, etag: int, count: int) -> None:
        conn.execute(update(versions).where(versions.c.user_id == user_id, versions.c.version == version)
                     .values(etag=etag, key_count=count))

    def delete_version(self, conn: Connection, user_id: str, version: int) -> None:
        """Mark the version deleted and drop its keys (spec: "all key data related to the backup")."""
        conn.execute(delete(keys_table).where(keys_table.c.user_id == user_id, keys_table.c.version == version))
        conn.execute(update(versions).where(versions.c.user_id == user_id, versions.c.version == version)
                     .values(deleted=True, key_count=0))

    def delete_user_backups(self, conn: Connection, user_id: str) -> None:
        """Every version of the user's, with its keys (account deactivation)."""
        conn.execute(delete(keys_table).where(keys_table.c.user_id == user_id))
        conn.execute(update(versions).where(versions.c.user_id == user_id).values(deleted=True, key_count=0))

    # --- keys ---------------------------------------------------------------------------------------------------
    def list_keys(self, conn: Connection, user_id: str, version: int, room_id: str | None = None,
                  session_id: str | None = None) -> dict[SessionKey, RoomKeyData]:
        """The version's keys, or a room's, or one session's."""
        query = select(keys_table).where(keys_table.c.user_id == user_id, keys_table.c.version == version)
        if room_id is not None:
            query = query.where(keys_table.c.room_id == room_id)
        if session_id is not None:
            query = query.where(keys_table.c.session_id == session_id)
        return {(row.room_id, row.session_id): _key(row) for row in conn.execute(query)}

    def get_keys(self, conn: Connection, user_id: str, version: int,
                 sessions: Iterable[SessionKey]) -> dict[SessionKey, RoomKeyData]:
        """The stored keys of exactly these sessions (those that have one)."""
        wanted = list(sessions)
        found: dict[SessionKey, RoomKeyData] = {}
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start:start + LOOKUP_CHUNK]
            rows = conn.execute(select(keys_table).where(
                keys_table.c.user_id == user_id, keys_table.c.version == version,
                tuple_(keys_table.c.room_id, keys_table.c.session_id).in_(chunk)))
            found.update({(row.room_id, row.session_id): _key(row) for row in rows})
        return found

    def insert_keys(self, conn: Connection, user_id: str, version: int,
                    new: Mapping[SessionKey, RoomKeyData]) -> None:
        if new:
            conn.execute(insert(keys_table), [
                {"user_id": user_id, "version": version, "room_id": room_id, "session_id": session_id,
                 **_key_values(data)} for (room_id, session_id), data in new.items()])

    def update_keys(self, conn: Connection, user_id: str, version: int,
                    replaced: Mapping[SessionKey, RoomKeyData]) -> None:
        for (room_id, session_id), data in replaced.items():
            conn.execute(update(keys_table).where(
                keys_table.c.user_id == user_id, keys_table.c.version == version, keys_table.c.room_id == room_id,
                keys_table.c.session_id == session_id).values(**_key_values(data)))

    def delete_keys(self, conn: Connection, user_id: str, version: int, room_id: str | None = None,
                    session_id: str | None = None) -> int:
        """Delete the version's keys, or a room's, or one session's; how many there were."""
        statement = delete(keys_table).where(keys_table.c.user_id == user_id, keys_table.c.version == version)
        if room_id is not None:
            statement = statement.where(keys_table.c.room_id == room_id)
        if session_id is not None:
            statement = statement.where(keys_table.c.session_id == session_id)
        return conn.execute(statement).rowcount
