"""Migration 0013 on data written by the code before it: a dehydrated device's keys kept in its JSON columns are
published to the e2e key tables, and device-list rows of cross-signing keys are marked with the key's type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from config.database import DatabaseConfig
from persistence import migrate
from persistence.database import Database
from tests.conftest import RUN_ID
from tests.services import PG_HOST, PG_PORT, PG_USER, drop_pg_database, recreate_pg_database
from tests.web.key_owners import KeyedDevice

ALICE, BOB = "@alice:test.local", "@bob:test.local"


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0012(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of its own (the shared ones stay at head), migrated up to 0012."""
    if request.param == "sqlite":
        database = Database(DatabaseConfig("sqlite3", f"sqlite:///{tmp_path / 'old.db'}"))
    else:
        name = f"ganglion_test_{RUN_ID}_m0013"
        recreate_pg_database(name)
        request.addfinalizer(lambda: drop_pg_database(name))
        database = Database(DatabaseConfig("psycopg2", f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"))
    migrate.upgrade(database, "0012")
    yield database
    database.dispose()


def _insert(database: Database, table: str, **values: object) -> None:
    names = ", ".join(values)
    with database.write() as conn:
        conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"), values)


def _rows(database: Database, sql: str) -> list[tuple[object, ...]]:
    with database.read() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def _park(database: Database, user_id: str, device_id: str, keys: dict[str, object]) -> None:
    """A user with a dehydrated device whose keys wait in its JSON columns, as the code before 0013 kept them."""
    _insert(database, "users", user_id=user_id, password_hash=None, created_ts=1, is_guest=False, admin=False,
            user_type=None, deactivated=False)
    _insert(database, "devices", user_id=user_id, device_id=device_id, display_name=None, last_seen_ts=None,
            last_seen_ip=None, created_ts=1)
    _insert(database, "dehydrated_devices", user_id=user_id, device_id=device_id, device_data="{}",
            **{name: json.dumps(value) for name, value in keys.items()})


def test_waiting_dehydrated_keys_are_published_and_badly_signed_ones_dropped(at_0012: Database) -> None:
    device = KeyedDevice(ALICE, "DRY")
    one_time, fallback = device.one_time_keys(2), device.fallback_key()
    _park(at_0012, ALICE, "DRY", {"device_keys": device.device_keys(), "one_time_keys": one_time,
                           "fallback_keys": fallback})
    forged = {**KeyedDevice(BOB, "BAD").device_keys(), "signatures": {BOB: {"ed25519:BAD": "forged"}}}
    _park(at_0012, BOB, "BAD",
          {"device_keys": forged, "one_time_keys": {}, "fallback_keys": {}})

    migrate.upgrade(at_0012)

    assert _rows(at_0012, "SELECT device_id, key_json FROM e2e_device_keys") == [
        ("DRY", json.dumps(device.device_keys(), sort_keys=True, separators=(",", ":")))]
    assert sorted(_rows(at_0012, "SELECT algorithm, key_id FROM e2e_one_time_keys WHERE device_id = 'DRY'")) == [
        tuple(name.split(":")) for name in sorted(one_time)]
    assert _rows(at_0012, "SELECT key_id, used FROM e2e_fallback_keys") == [("FALLBACK1", False)]
    assert _rows(at_0012, "SELECT shard_key, payload FROM outbox")[0][0] == ALICE, "the new keys are announced"
    assert len(_rows(at_0012, "SELECT * FROM outbox")) == 1, "nothing published for the badly signed device"
    assert sorted(_rows(at_0012, "SELECT device_id FROM dehydrated_devices")) == [("BAD",), ("DRY",)]


def test_cross_signing_rows_are_marked_and_the_downgrade_undoes_the_schema(at_0012: Database) -> None:
    _insert(at_0012, "e2e_cross_signing_keys", user_id=ALICE, key_type="master", public_key="MASTERPK",
            key_json="{}", ts=1)
    for stream_id, device_id in ((1, "PHONE"), (2, "MASTERPK"), (3, "OLDPK")):
        _insert(at_0012, "device_lists_stream", stream_id=stream_id, user_id=ALICE, device_id=device_id,
                instance_name="master")
    for device_id in ("PHONE", "MASTERPK"):
        _insert(at_0012, "outbox", family="device_lists", shard_key=ALICE,
                payload=json.dumps({"device_id": device_id}), created_ts=1)

    migrate.upgrade(at_0012)

    assert _rows(at_0012, "SELECT device_id, cross_signing_key_type FROM device_lists_stream ORDER BY stream_id") == [
        ("PHONE", None), ("MASTERPK", "master"), ("OLDPK", None)], "a replaced key cannot be recognised"
    payloads = [json.loads(payload) if isinstance(payload, str) else payload
                for (payload,) in _rows(at_0012, "SELECT payload FROM outbox ORDER BY id")]
    assert payloads == [{"device_id": "PHONE"}, {"device_id": "MASTERPK", "cross_signing_key_type": "master"}]

    migrate.downgrade(at_0012, "0012")
    assert migrate.current_revision(at_0012) == "0012"
    assert _rows(at_0012, "SELECT device_id FROM device_lists_stream ORDER BY stream_id") == [
        ("PHONE",), ("MASTERPK",), ("OLDPK",)]
