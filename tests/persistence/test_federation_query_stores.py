"""The stores behind federation queries, on SQLite and PostgreSQL: OpenID tokens expire, the remote media cache
keeps one row per file, and a remote user's device list is replaced whole by a resync and edited by updates."""

from __future__ import annotations

from persistence.database import Database
from persistence.stores.openid_tokens import OpenIdTokenStore
from persistence.stores.remote_devices import RemoteDevice, RemoteDeviceStore
from persistence.stores.remote_media import RemoteMedia, RemoteMediaStore, RemoteThumbnail
from persistence.stores.state import StateStore

BOB = "@bob:remote.test"


def test_openid_tokens_name_their_user_until_they_expire(database: Database) -> None:
    store = OpenIdTokenStore()
    with database.write() as conn:
        store.insert_token(conn, "digest-1", "@alice:test.local", 1_000)
        store.insert_token(conn, "digest-2", "@alice:test.local", 5_000)
    with database.read() as conn:
        assert store.get_user(conn, "digest-1", 999) == "@alice:test.local"
        assert store.get_user(conn, "digest-1", 1_000) is None
        assert store.get_user(conn, "unknown", 0) is None
    with database.write() as conn:
        assert store.delete_expired(conn, 1_000) == 1
    with database.read() as conn:
        assert store.get_user(conn, "digest-2", 1_000) == "@alice:test.local"


def test_remote_media_rows_are_one_per_file_and_record_access(database: Database) -> None:
    store = RemoteMediaStore()
    first = RemoteMedia("remote.test", "abcdef", "text/plain", 5, "a.txt", "0" * 64, 10, 10)
    with database.write() as conn:
        store.upsert_media(conn, first)
        store.upsert_media(conn, RemoteMedia("remote.test", "abcdef", "text/plain", 6, "b.txt", "1" * 64, 20, 20))
        store.update_last_access(conn, "remote.test", "abcdef", 99)
    with database.read() as conn:
        held = store.get_media(conn, "remote.test", "abcdef")
        assert held is not None and (held.media_length, held.upload_name, held.last_access_ts) == (6, "b.txt", 99)
        assert store.get_media(conn, "other.test", "abcdef") is None
    with database.write() as conn:
        store.upsert_thumbnail(conn, "remote.test", "abcdef", 32, 32, "crop", RemoteThumbnail("image/png", 100), 1)
        store.upsert_thumbnail(conn, "remote.test", "abcdef", 32, 32, "crop", RemoteThumbnail("image/jpeg", 90), 2)
    with database.read() as conn:
        assert store.get_thumbnail(conn, "remote.test", "abcdef", 32, 32, "crop") == RemoteThumbnail("image/jpeg", 90)
        assert store.get_thumbnail(conn, "remote.test", "abcdef", 32, 32, "scale") is None


def test_a_resync_replaces_devices_and_updates_edit_them(database: Database) -> None:
    store = RemoteDeviceStore()
    keys = {"user_id": BOB, "device_id": "A", "keys": {"ed25519:A": "key"}}
    with database.write() as conn:
        assert store.get_stream_id(conn, BOB) is None
        store.replace_devices(conn, BOB, [RemoteDevice(BOB, "A", "Phone", keys), RemoteDevice(BOB, "B", None, None)])
        store.upsert_cross_signing_key(conn, BOB, "master", {"user_id": BOB, "keys": {"ed25519:M": "M"}})
        store.upsert_stream_id(conn, BOB, 7, 100)
    with database.write() as conn:
        store.replace_devices(conn, BOB, [RemoteDevice(BOB, "A", "Phone", keys)])
        store.upsert_device(conn, RemoteDevice(BOB, "C", "Laptop", None))
        store.delete_device(conn, BOB, "A")
        store.upsert_stream_id(conn, BOB, 9, 200)
    with database.read() as conn:
        assert store.get_stream_id(conn, BOB) == 9
        assert store.list_tracked(conn, [BOB, "@carol:remote.test"]) == {BOB}
        assert [(device.device_id, device.display_name) for device in store.list_devices(conn, [BOB])[BOB]] == [
            ("C", "Laptop")]
        assert store.list_cross_signing_keys(conn, [BOB]) == {BOB: {"master": {"user_id": BOB,
                                                                             "keys": {"ed25519:M": "M"}}}}


def test_a_remote_user_is_worth_tracking_while_joined_with_one_of_ours(database: Database) -> None:
    store, state = RemoteDeviceStore(), StateStore()
    member = ("m.room.member", BOB)
    with database.write() as conn:
        state.upsert_current_state(conn, "!r:test.local", member, "$1", "join")
        state.upsert_current_state(conn, "!r:test.local", ("m.room.member", "@alice:testXlocal"), "$2", "join")
    with database.read() as conn:
        # A "_" in a server name is no LIKE wildcard: "test_local" is not "testXlocal".
        assert not store.shares_room_with_server(conn, BOB, "test_local")
        assert not store.shares_room_with_server(conn, BOB, "test.local")
    with database.write() as conn:
        state.upsert_current_state(conn, "!r:test.local", ("m.room.member", "@alice:test.local"), "$3", "invite")
    with database.read() as conn:
        assert not store.shares_room_with_server(conn, BOB, "test.local"), "an invited user is not joined yet"
    with database.write() as conn:
        state.upsert_current_state(conn, "!r:test.local", ("m.room.member", "@alice:test.local"), "$4", "join")
    with database.read() as conn:
        assert store.shares_room_with_server(conn, BOB, "test.local")
        assert not store.shares_room_with_server(conn, "@carol:remote.test", "test.local")
