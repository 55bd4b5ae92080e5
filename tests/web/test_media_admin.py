"""Synapse's media admin API as HTTP conversations in both shapes: quarantine, protection, listing and deleting a
room's or a user's media, and that only admins may."""

from __future__ import annotations

import time

from tests.homeserver import HomeserverUnderTest
from tests.web.media import DOWNLOAD, THUMBNAIL, image_bytes, uploaded_media_id

ADMIN = "/_synapse/admin/v1"


def _admin(server: HomeserverUnderTest, name: str = "root") -> str:
    token = str(server.register(name)["access_token"])
    with server.deps.database.write() as conn:
        server.deps.stores.users.update_admin(conn, f"@{name}:test.local", True)
    return token


def _room_with_image(server: HomeserverUnderTest, token: str, media_id: str) -> str:
    room_id = str(server.post("/_matrix/client/v3/createRoom", token=token, json={}).json["room_id"])
    response = server.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t{time.monotonic_ns()}",
                          token=token, json={"msgtype": "m.image", "body": "a.png",
                                             "url": f"mxc://test.local/{media_id}",
                                             "info": {"thumbnail_url": "mxc://elsewhere.example/thumb"}})
    assert response.status_code == 200, response.json
    return room_id


def test_quarantined_media_in_a_room_is_no_longer_served(homeserver: HomeserverUnderTest) -> None:
    root = _admin(homeserver)
    alice = homeserver.register("alice")["access_token"]
    media_id = uploaded_media_id(homeserver, alice, image_bytes(100, 100), "image/png")
    room_id = _room_with_image(homeserver, alice, media_id)
    listed = homeserver.get(f"{ADMIN}/room/{room_id}/media", token=root).json
    assert listed == {"local": [f"mxc://test.local/{media_id}"], "remote": ["mxc://elsewhere.example/thumb"]}
    response = homeserver.post(f"{ADMIN}/room/{room_id}/media/quarantine", token=root, json={})
    assert response.json == {"num_quarantined": 1}
    assert homeserver.get(f"{DOWNLOAD}/test.local/{media_id}", token=alice).status_code == 404
    thumbnail = homeserver.get(f"{THUMBNAIL}/test.local/{media_id}?width=32&height=32", token=alice)
    assert thumbnail.status_code == 404
    info = homeserver.get(f"{ADMIN}/media/test.local/{media_id}", token=root).json["media_info"]
    assert info["quarantined_by"] == "@root:test.local"
    homeserver.post(f"{ADMIN}/media/unquarantine/test.local/{media_id}", token=root, json={})
    assert homeserver.get(f"{DOWNLOAD}/test.local/{media_id}", token=alice).status_code == 200


def test_protected_media_cannot_be_quarantined(homeserver: HomeserverUnderTest) -> None:
    root = _admin(homeserver)
    alice = homeserver.register("alice")["access_token"]
    media_id = uploaded_media_id(homeserver, alice, b"keep me")
    assert homeserver.post(f"{ADMIN}/media/protect/{media_id}", token=root, json={}).json == {}
    homeserver.post(f"{ADMIN}/media/quarantine/test.local/{media_id}", token=root, json={})
    assert homeserver.post(f"{ADMIN}/user/@alice:test.local/media/quarantine", token=root,
                           json={}).json == {"num_quarantined": 0}
    assert homeserver.get(f"{DOWNLOAD}/test.local/{media_id}", token=alice).data == b"keep me"
    homeserver.post(f"{ADMIN}/media/unprotect/{media_id}", token=root, json={})
    assert homeserver.post(f"{ADMIN}/user/@alice:test.local/media/quarantine", token=root,
                           json={}).json == {"num_quarantined": 1}
    assert homeserver.post(f"{ADMIN}/media/protect/noSuchMedia", token=root, json={}).status_code == 404


def test_a_users_media_is_listed_in_pages_and_deleted(homeserver: HomeserverUnderTest) -> None:
    root = _admin(homeserver)
    alice = homeserver.register("alice")["access_token"]
    ids = []
    for index in range(3):
        ids.append(uploaded_media_id(homeserver, alice, b"x" * (index + 1), filename=f"f{index}.txt"))
        homeserver.clock.advance(1000)
    page = homeserver.get(f"{ADMIN}/users/@alice:test.local/media?limit=2", token=root).json
    assert [item["media_id"] for item in page["media"]] == ids[:2]
    assert (page["total"], page["next_token"]) == (3, 2)
    assert page["media"][0]["upload_name"] == "f0.txt" and page["media"][0]["media_length"] == 1
    rest = homeserver.get(f"{ADMIN}/user/@alice:test.local/media?from=2&dir=b&order_by=media_length",
                          token=root).json
    assert [item["media_length"] for item in rest["media"]] == [1] and "next_token" not in rest
    deleted = homeserver.delete(f"{ADMIN}/users/@alice:test.local/media?limit=2", token=root).json
    assert deleted == {"deleted_media": ids[:2], "total": 2}
    assert homeserver.get(f"{DOWNLOAD}/test.local/{ids[0]}", token=alice).status_code == 404
    assert homeserver.get(f"{DOWNLOAD}/test.local/{ids[2]}", token=alice).status_code == 200
    bad = homeserver.get(f"{ADMIN}/users/@alice:test.local/media?order_by=secret", token=root)
    assert bad.json["errcode"] == "M_INVALID_PARAM"


def test_deleting_one_media_removes_it_and_its_thumbnails(homeserver: HomeserverUnderTest) -> None:
    root = _admin(homeserver)
    alice = homeserver.register("alice")["access_token"]
    media_id = uploaded_media_id(homeserver, alice, image_bytes(400, 400), "image/png")
    assert homeserver.get(f"{THUMBNAIL}/test.local/{media_id}?width=32&height=32", token=alice).status_code == 200
    response = homeserver.delete(f"{ADMIN}/media/test.local/{media_id}", token=root)
    assert response.json == {"deleted_media": [media_id], "total": 1}
    with homeserver.deps.database.read() as conn:
        assert homeserver.deps.stores.media.list_thumbnails(conn, media_id) == []
    assert homeserver.get(f"{DOWNLOAD}/test.local/{media_id}", token=alice).status_code == 404
    assert homeserver.delete(f"{ADMIN}/media/test.local/{media_id}", token=root).status_code == 404
    assert homeserver.delete(f"{ADMIN}/media/other.example/{media_id}", token=root).status_code == 400


def test_media_older_than_a_date_is_deleted_on_request(homeserver: HomeserverUnderTest) -> None:
    root = _admin(homeserver)
    alice = homeserver.register("alice")["access_token"]
    old = uploaded_media_id(homeserver, alice, b"old" * 100)
    small_old = uploaded_media_id(homeserver, alice, b"o")
    homeserver.clock.advance(120_000)
    cutoff = homeserver.clock.now_ms()
    new = uploaded_media_id(homeserver, alice, b"new")
    response = homeserver.post(f"{ADMIN}/media/delete?before_ts={cutoff}&size_gt=10", token=root, json={})
    assert response.json == {"deleted_media": [old], "total": 1}
    assert homeserver.get(f"{DOWNLOAD}/test.local/{small_old}", token=alice).status_code == 200
    assert homeserver.get(f"{DOWNLOAD}/test.local/{new}", token=alice).status_code == 200
    assert homeserver.post(f"{ADMIN}/media/delete", token=root, json={}).status_code == 400
    purge = homeserver.post(f"{ADMIN}/purge_media_cache?before_ts={cutoff}", token=root, json={})
    assert purge.json == {"deleted": 0}, "the cache holds other servers' media only: ours is never purged"


def test_only_admins_may_use_the_media_admin_api(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    media_id = uploaded_media_id(homeserver, alice, b"mine")
    for method, path in (("GET", "/users/@alice:test.local/media"), ("DELETE", f"/media/test.local/{media_id}"),
                         ("POST", f"/media/protect/{media_id}"), ("POST", "/purge_media_cache?before_ts=1")):
        response = homeserver.request(method, f"{ADMIN}{path}", token=alice, json={})
        assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN"), path
        assert homeserver.request(method, f"{ADMIN}{path}", json={}).status_code == 401
