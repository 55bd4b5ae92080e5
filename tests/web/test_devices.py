"""Device management, and the device-list stream it feeds through the stream writer."""

from __future__ import annotations

from tests.homeserver import HomeserverUnderTest

DEVICES = "/_matrix/client/v3/devices"


def _device_list_rows(server: HomeserverUnderTest, user_id: str) -> list[tuple[int, str]]:
    with server.deps.database.read() as conn:
        return [(change.stream_id, change.device_id)
                for change in server.deps.stores.device_lists.list_changes(conn, user_id)]


def test_list_get_rename_devices(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice", device_id="ONE", initial_device_display_name="first")
    homeserver.login("alice", device_id="TWO")
    token = alice["access_token"]
    devices = homeserver.get(DEVICES, token=token).json["devices"]
    assert [(device["device_id"], device["display_name"]) for device in devices] == [("ONE", "first"), ("TWO", None)]
    assert all("last_seen_ts" in device for device in devices)

    assert homeserver.put(f"{DEVICES}/TWO", token=token, json={"display_name": "second"}).json == {}
    assert homeserver.get(f"{DEVICES}/TWO", token=token).json["display_name"] == "second"
    missing = homeserver.get(f"{DEVICES}/NOPE", token=token)
    assert (missing.status_code, missing.json["errcode"]) == (404, "M_NOT_FOUND")
    rename_missing = homeserver.put(f"{DEVICES}/NOPE", token=token, json={"display_name": "x"})
    assert rename_missing.status_code == 404


def test_other_users_devices_are_invisible(homeserver: HomeserverUnderTest) -> None:
    homeserver.register("bob", device_id="BOBS")
    carol = homeserver.register("carol")
    assert homeserver.get(f"{DEVICES}/BOBS", token=carol["access_token"]).status_code == 404
    assert homeserver.put(f"{DEVICES}/BOBS", token=carol["access_token"], json={"display_name": "x"}).status_code == 404


def test_delete_device_requires_uia_and_revokes_its_token(homeserver: HomeserverUnderTest) -> None:
    dave = homeserver.register("dave", device_id="KEEP")
    other = homeserver.login("dave", device_id="GONE")
    token = dave["access_token"]
    challenge = homeserver.delete(f"{DEVICES}/GONE", token=token, json={})
    assert challenge.status_code == 401
    done = homeserver.delete(f"{DEVICES}/GONE", token=token, json={
        "auth": homeserver.password_auth(dave["user_id"], session=challenge.json["session"])})
    assert done.status_code == 200
    assert homeserver.get("/_matrix/client/v3/account/whoami", token=other["access_token"]).status_code == 401
    assert [device["device_id"] for device in homeserver.get(DEVICES, token=token).json["devices"]] == ["KEEP"]


def test_delete_devices_in_bulk(homeserver: HomeserverUnderTest) -> None:
    erin = homeserver.register("erin", device_id="A")
    homeserver.login("erin", device_id="B")
    homeserver.login("erin", device_id="C")
    token = erin["access_token"]
    body = {"devices": ["B", "C", "UNKNOWN"]}
    challenge = homeserver.post("/_matrix/client/v3/delete_devices", token=token, json=body)
    assert challenge.status_code == 401
    done = homeserver.post("/_matrix/client/v3/delete_devices", token=token, json={
        **body, "auth": homeserver.password_auth(erin["user_id"], session=challenge.json["session"])})
    assert done.status_code == 200
    assert [device["device_id"] for device in homeserver.get(DEVICES, token=token).json["devices"]] == ["A"]


def test_device_changes_reach_the_device_list_stream_in_order(homeserver: HomeserverUnderTest) -> None:
    """New, renamed and deleted devices become stream rows, written by the device_lists writer task."""
    fay = homeserver.register("fay", device_id="D1")
    homeserver.login("fay", device_id="D2")
    homeserver.put(f"{DEVICES}/D2", token=fay["access_token"], json={"display_name": "renamed"})
    homeserver.post("/_matrix/client/v3/logout", token=homeserver.login("fay", device_id="D3")["access_token"])

    rows = homeserver.eventually(lambda: (r := _device_list_rows(homeserver, fay["user_id"])) and len(r) >= 5 and r)
    assert [device_id for _, device_id in rows] == ["D1", "D2", "D2", "D3", "D3"]
    stream_ids = [stream_id for stream_id, _ in rows]
    assert stream_ids == sorted(stream_ids) and len(set(stream_ids)) == len(stream_ids)
    with homeserver.deps.database.read() as conn:
        positions = homeserver.deps.stores.stream_ids.get_positions(conn, "device_lists")
        leftover = homeserver.deps.stores.outbox.list_items(conn, "device_lists", fay["user_id"], lock=False)
    assert positions["main"] >= stream_ids[-1]
    assert leftover == []
