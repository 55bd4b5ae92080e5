"""Dehydrated devices' keys live in the end-to-end key tables like any device's (their three JSON columns go), and
device-list stream rows say when they are about a cross-signing key rather than a device.

Data: keys waiting in a dehydrated device's JSON columns are published, as ``PUT /dehydrated_device`` now does
(those failing ``/keys/upload``'s checks, which the old code did not apply, are dropped: the client replaces its
dehydrated device). A stream row or pending outbox row whose device id is one of the user's current cross-signing
public keys is marked with that key's type; rows for keys replaced since cannot be told apart and stay as they
were, read as devices that no longer exist.

Revision ID: 0013
Revises: 0012
"""

import json
import time
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

from protocol.canonical_json import encode_canonical_json
from protocol.e2e_keys import check_key_upload, is_self_signed
from protocol.errors import MatrixError

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

KEY_FIELDS = ("device_keys", "one_time_keys", "fallback_keys")
DEVICE_LISTS = "device_lists"

_dehydrated = sa.table("dehydrated_devices", sa.column("user_id"), sa.column("device_id"),
                       *(sa.column(name) for name in KEY_FIELDS))
_device_keys = sa.table("e2e_device_keys", sa.column("user_id"), sa.column("device_id"), sa.column("key_json"),
                        sa.column("ts"))
_one_time_keys = sa.table("e2e_one_time_keys", sa.column("user_id"), sa.column("device_id"), sa.column("algorithm"),
                          sa.column("key_id"), sa.column("key_json"), sa.column("ts"))
_fallback_keys = sa.table("e2e_fallback_keys", sa.column("user_id"), sa.column("device_id"),
                          sa.column("algorithm"), sa.column("key_id"), sa.column("key_json"), sa.column("used"))
_cross_signing_keys = sa.table("e2e_cross_signing_keys", sa.column("user_id"), sa.column("key_type"),
                               sa.column("public_key"))
_stream = sa.table("device_lists_stream", sa.column("user_id"), sa.column("device_id"),
                   sa.column("cross_signing_key_type"))
_outbox = sa.table("outbox", sa.column("id"), sa.column("family"), sa.column("shard_key"),
                   sa.column("payload", sa.JSON), sa.column("created_ts"))


def _encode(value: Any) -> str:
    return encode_canonical_json(value).decode("utf-8")


def _insert_new(conn: sa.Connection, table: sa.TableClause, rows: list[dict[str, Any]]) -> None:
    if rows:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def _publish_dehydrated_keys(conn: sa.Connection) -> None:
    now = int(time.time() * 1000)
    for row in conn.execute(sa.select(_dehydrated)).all():
        try:
            upload = check_key_upload({name: json.loads(getattr(row, name)) for name in KEY_FIELDS}, row.user_id,
                                      row.device_id)
        except (MatrixError, ValueError):
            continue
        # As written, this migration published only self-signed device keys (uploads refused the rest then);
        # /keys/upload later came to store them with a warning, but what was waiting here keeps the old rule.
        if upload.device_keys is not None and not is_self_signed(upload.device_keys, row.user_id, row.device_id):
            continue
        device = {"user_id": row.user_id, "device_id": row.device_id}
        if upload.device_keys is not None:
            _insert_new(conn, _device_keys, [{**device, "key_json": _encode(upload.device_keys), "ts": now}])
            conn.execute(sa.insert(_outbox).values(family=DEVICE_LISTS, shard_key=row.user_id,
                                                   payload={"device_id": row.device_id}, created_ts=now))
        _insert_new(conn, _one_time_keys, [{**device, "algorithm": key.algorithm, "key_id": key.key_id,
                                            "key_json": _encode(key.value), "ts": now}
                                           for key in upload.one_time_keys])
        _insert_new(conn, _fallback_keys, [{**device, "algorithm": key.algorithm, "key_id": key.key_id,
                                            "key_json": _encode(key.value), "used": False}
                                           for key in upload.fallback_keys])


def _mark_cross_signing_rows(conn: sa.Connection) -> None:
    key_type = (sa.select(_cross_signing_keys.c.key_type)
                .where(_cross_signing_keys.c.user_id == _stream.c.user_id,
                       _cross_signing_keys.c.public_key == _stream.c.device_id)
                .order_by(_cross_signing_keys.c.key_type).limit(1))
    conn.execute(sa.update(_stream).values(cross_signing_key_type=key_type.scalar_subquery())
                 .where(key_type.exists()))
    key_types = {(row.user_id, row.public_key): row.key_type for row in conn.execute(sa.select(_cross_signing_keys))}
    for item in conn.execute(sa.select(_outbox.c.id, _outbox.c.shard_key, _outbox.c.payload)
                             .where(_outbox.c.family == DEVICE_LISTS)).all():
        found = key_types.get((item.shard_key, item.payload.get("device_id")))
        if found is not None:
            conn.execute(sa.update(_outbox).where(_outbox.c.id == item.id)
                         .values(payload={**item.payload, "cross_signing_key_type": found}))


def upgrade() -> None:
    conn = op.get_bind()
    _publish_dehydrated_keys(conn)
    with op.batch_alter_table("dehydrated_devices") as batch:
        for name in KEY_FIELDS:
            batch.drop_column(name)
    op.add_column("device_lists_stream", sa.Column("cross_signing_key_type", sa.Text(), nullable=True))
    _mark_cross_signing_rows(conn)


def downgrade() -> None:
    with op.batch_alter_table("device_lists_stream") as batch:
        batch.drop_column("cross_signing_key_type")
    # The keys stay published in the e2e tables; the old columns come back empty.
    with op.batch_alter_table("dehydrated_devices") as batch:
        for name in KEY_FIELDS:
            batch.add_column(sa.Column(name, sa.Text(), nullable=False, server_default="{}"))
