"""Other servers' signing keys, as fetched (Server-Server API, "Retrieving server keys").

Rows are written by whoever fetched the keys (a web process verifying a request, a task verifying an event); a
newer fetch of the same key replaces the row. Nothing here decides validity: ``protocol.federation.server_keys``
does, from what these rows return.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from persistence.tables import server_keys
from persistence.upsert import upsert
from protocol.canonical_json import encode_canonical_json
from protocol.federation.server_keys import KeyResponse, ServerKey
from protocol.signing import decode_verify_key, encode_verify_key


@dataclass(frozen=True)
class StoredResponse:
    """A key response as fetched, for a notary to hand on."""

    published_valid_until_ts: int
    key_json: dict[str, Any]


class ServerKeyStore:
    def store_response(self, conn: Connection, response: KeyResponse, fetched_ts: int, fetched_from: str) -> None:
        key_json = encode_canonical_json(response.signed).decode()
        for key in response.keys:
            upsert(conn, server_keys, {"server_name": key.server_name, "key_id": key.key_id}, {
                "verify_key": encode_verify_key(key.verify_key), "valid_until_ts": key.valid_until_ts,
                "expired": key.expired, "published_valid_until_ts": response.valid_until_ts,
                "fetched_ts": fetched_ts, "fetched_from": fetched_from, "key_json": key_json,
            })

    def get_key(self, conn: Connection, server_name: str, key_id: str) -> ServerKey | None:
        row = conn.execute(select(server_keys).where(server_keys.c.server_name == server_name,
                                                     server_keys.c.key_id == key_id)).one_or_none()
        if row is None:
            return None
        return ServerKey(row.server_name, row.key_id, decode_verify_key(row.key_id, row.verify_key),
                         int(row.valid_until_ts), bool(row.expired))

    def get_responses(self, conn: Connection, server_name: str) -> list[StoredResponse]:
        """Every distinct response that published a key of ``server_name``, newest validity first."""
        rows = conn.execute(select(server_keys.c.published_valid_until_ts, server_keys.c.key_json)
                            .where(server_keys.c.server_name == server_name)
                            .order_by(server_keys.c.published_valid_until_ts.desc())).all()
        seen: dict[str, StoredResponse] = {}
        for row in rows:
            seen.setdefault(row.key_json, StoredResponse(int(row.published_valid_until_ts), json.loads(row.key_json)))
        return list(seen.values())
