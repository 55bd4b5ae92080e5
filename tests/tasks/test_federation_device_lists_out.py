"""Our users' device and cross-signing key changes reach the servers sharing a room with them as
``m.device_list_update`` (one chain of stream ids per user) and ``m.signing_key_update``; remote users' rows and
users sharing no room with another server are not sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from persistence.database import Database
from persistence.stores.cross_signing import CrossSigningKey
from persistence.stores.device_lists import CROSS_SIGNING_KEY_TYPE
from persistence.stores.devices import Device
from persistence.stores.users import User
from tasks.context import TaskContext
from tasks.device_lists import drain
from tests.federation_remote import RemoteServer, running_remote_server
from tests.tasks.factories import RecordingDispatcher
from tests.tasks.federation_fixtures import ALICE, BOB, federation_context, pump, shared_room


@pytest.fixture
def remote() -> Iterator[RemoteServer]:
    with running_remote_server() as server:
        yield server


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def context(database: Database, remote: RemoteServer, dispatcher: RecordingDispatcher) -> TaskContext:
    context = federation_context(database, {"remote.test": remote.base_url}, dispatcher=dispatcher)
    shared_room(context, BOB)
    pump(context, dispatcher)
    remote.received.clear()
    return context


def _edus(remote: RemoteServer, edu_type: str) -> list[dict[str, Any]]:
    return [edu for item in remote.received for edu in item.edus(edu_type)]


def _keys(user_id: str, device_id: str) -> dict[str, Any]:
    return {"user_id": user_id, "device_id": device_id, "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
            "keys": {f"curve25519:{device_id}": "c" * 43, f"ed25519:{device_id}": "e" * 43},
            "signatures": {user_id: {f"ed25519:{device_id}": "s" * 86}}}


def _new_device(context: TaskContext, user_id: str, device_id: str, *, keys: bool = True) -> None:
    with context.database.write() as conn:
        if context.stores.users.get_user(conn, user_id) is None:
            context.stores.users.insert_user(conn, User(user_id, None, 0, False, False, None, False))
        context.stores.devices.insert_device(conn, Device(user_id, device_id, "private name", 0, None, None))
        if keys:
            context.stores.e2e_keys.upsert_device_keys(conn, user_id, device_id, _keys(user_id, device_id), 0)
        context.stores.outbox.insert_item(conn, "device_lists", user_id, {"device_id": device_id}, 0)


def _delete_device(context: TaskContext, user_id: str, device_id: str) -> None:
    with context.database.write() as conn:
        context.stores.devices.delete_devices(conn, user_id, [device_id])
        context.stores.outbox.insert_item(conn, "device_lists", user_id, {"device_id": device_id}, 0)


def test_new_and_deleted_devices_form_one_chain_of_stream_ids(context: TaskContext, remote: RemoteServer,
                                                              dispatcher: RecordingDispatcher) -> None:
    _new_device(context, ALICE, "D1")
    drain(context, user_id=ALICE)
    pump(context, dispatcher)
    _new_device(context, ALICE, "D2", keys=False)
    _delete_device(context, ALICE, "D1")
    drain(context, user_id=ALICE)
    pump(context, dispatcher)
    first, second, third = _edus(remote, "m.device_list_update")
    assert first["keys"] == _keys(ALICE, "D1")
    assert "device_display_name" not in first, "device names stay private"
    assert (second["device_id"], second["prev_id"], "keys" in second) == ("D2", [first["stream_id"]], False)
    assert (third["device_id"], third["prev_id"], third["deleted"]) == ("D1", [second["stream_id"]], True)
    assert first["stream_id"] < second["stream_id"] < third["stream_id"]
    with context.database.read() as conn:
        latest = context.stores.device_lists.list_changes(conn, ALICE)[-1].stream_id
    assert third["stream_id"] == latest, "the chain ends where /user/devices' stream_id starts"


def test_remote_users_rows_and_users_without_remote_company_are_not_sent(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher) -> None:
    with context.database.write() as conn:
        context.stores.outbox.insert_item(conn, "device_lists", BOB, {"device_id": "B1"}, 0)
    drain(context, user_id=BOB)
    _new_device(context, "@loner:test.local", "L1")
    drain(context, user_id="@loner:test.local")
    pump(context, dispatcher)
    assert _edus(remote, "m.device_list_update") == []


def test_a_cross_signing_key_change_sends_the_public_keys_but_not_the_user_signing_key(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher) -> None:
    master = {"user_id": ALICE, "usage": ["master"], "keys": {"ed25519:M": "M"}}
    user_signing = {"user_id": ALICE, "usage": ["user_signing"], "keys": {"ed25519:U": "U"}}
    with context.database.write() as conn:
        for key_type, key in (("master", master), ("user_signing", user_signing)):
            public = next(iter(key["keys"].values()))  # type: ignore[attr-defined]
            context.stores.cross_signing.upsert_key(conn, ALICE, CrossSigningKey(key_type, public, key), 0)
            context.stores.outbox.insert_item(conn, "device_lists", ALICE,
                                              {"device_id": public, CROSS_SIGNING_KEY_TYPE: key_type}, 0)
    drain(context, user_id=ALICE)
    pump(context, dispatcher)
    assert _edus(remote, "m.signing_key_update") == [{"user_id": ALICE, "master_key": master}]
    assert _edus(remote, "m.device_list_update") == []
