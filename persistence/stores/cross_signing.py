"""Cross-signing keys (master, self-signing, user-signing) and the signatures uploaded for keys afterwards.

A signature row says: ``user_id`` signed ``target_device_id`` of ``target_user_id`` (a device id or a master
key's public key) with ``key_id``. Readers merge them into the key objects they serve, choosing whose signatures
the requester may see.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import e2e_cross_signing_keys, e2e_cross_signing_signatures
from protocol.canonical_json import encode_canonical_json


@dataclass(frozen=True)
class CrossSigningKey:
    key_type: str
    public_key: str
    key: dict[str, Any]

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public_key}"


@dataclass(frozen=True)
class KeySignature:
    user_id: str
    key_id: str
    target_user_id: str
    target_device_id: str
    signature: str


class CrossSigningStore:
    def list_keys(self, conn: Connection, user_ids: Iterable[str]) -> dict[str, dict[str, CrossSigningKey]]:
        """user id -> key type -> key, for the users that uploaded any."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        table = e2e_cross_signing_keys
        rows = conn.execute(select(table.c.user_id, table.c.key_type, table.c.public_key, table.c.key_json)
                            .where(table.c.user_id.in_(wanted)))
        found: dict[str, dict[str, CrossSigningKey]] = {}
        for row in rows:
            found.setdefault(row.user_id, {})[row.key_type] = CrossSigningKey(
                row.key_type, row.public_key, json.loads(row.key_json))
        return found

    def get_key(self, conn: Connection, user_id: str, key_type: str) -> CrossSigningKey | None:
        return self.list_keys(conn, [user_id]).get(user_id, {}).get(key_type)

    def upsert_key(self, conn: Connection, user_id: str, key: CrossSigningKey, now_ms: int) -> None:
        """Store a new key of its type; signatures the replaced key made are dropped with it."""
        previous = self.get_key(conn, user_id, key.key_type)
        if previous is not None and previous.public_key != key.public_key:
            conn.execute(delete(e2e_cross_signing_signatures).where(
                e2e_cross_signing_signatures.c.user_id == user_id,
                e2e_cross_signing_signatures.c.key_id == previous.key_id))
        values = {"public_key": key.public_key, "key_json": encode_canonical_json(key.key).decode("utf-8"),
                  "ts": now_ms}
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(e2e_cross_signing_keys).values(user_id=user_id, key_type=key.key_type, **values)
                     .on_conflict_do_update(index_elements=["user_id", "key_type"], set_=values))

    def upsert_signatures(self, conn: Connection, signatures: list[KeySignature]) -> None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        for item in signatures:
            conn.execute(dialect.insert(e2e_cross_signing_signatures).values(**item.__dict__)
                         .on_conflict_do_update(
                             index_elements=["target_user_id", "target_device_id", "user_id", "key_id"],
                             set_={"signature": item.signature}))

    def list_signatures(self, conn: Connection, targets: Iterable[tuple[str, str]],
                        signers: Iterable[str]) -> dict[tuple[str, str], dict[str, dict[str, str]]]:
        """(target user, target key) -> signer -> key id -> signature, keeping only the given signers' own."""
        wanted, allowed = sorted(set(targets)), sorted(set(signers))
        if not wanted or not allowed:
            return {}
        table = e2e_cross_signing_signatures
        rows = conn.execute(select(table).where(
            tuple_(table.c.target_user_id, table.c.target_device_id).in_(wanted), table.c.user_id.in_(allowed)))
        found: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
        for row in rows:
            found.setdefault((row.target_user_id, row.target_device_id), {}).setdefault(
                row.user_id, {})[row.key_id] = row.signature
        return found

    def delete_signatures_of_devices(self, conn: Connection, user_id: str, device_ids: list[str]) -> None:
        """Signatures on a deleted device, and those it made on its user's master key, go with it."""
        if device_ids:
            table = e2e_cross_signing_signatures
            made = [f"ed25519:{device_id}" for device_id in device_ids]
            conn.execute(delete(table).where(or_(
                (table.c.target_user_id == user_id) & table.c.target_device_id.in_(device_ids),
                (table.c.user_id == user_id) & table.c.key_id.in_(made))))
