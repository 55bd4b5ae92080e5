"""Uploading and downloading media (Client-Server API, "Content repository") as HTTP conversations in both shapes:
what comes back is byte-identical, and no refused, oversized or truncated upload leaves anything behind."""

from __future__ import annotations

import io
import os
import threading
from typing import Any

import pytest

from tests.conftest import HomeserverFactory
from tests.homeserver import HomeserverUnderTest
from tests.web.media import CREATE, DOWNLOAD, LEGACY_DOWNLOAD, staged_files, upload, uploaded_media_id

GENEROUS = {"per_second": 10000, "burst_count": 10000}


def _download(server: HomeserverUnderTest, token: str | None, media_id: str, suffix: str = "",
              *, base: str = DOWNLOAD, query: str = "") -> Any:
    return server.get(f"{base}/test.local/{media_id}{suffix}{query}", token=token)


def _rows(server: HomeserverUnderTest) -> int:
    with server.deps.database.read() as conn:
        return server.deps.stores.media.count_user_media(conn, "@alice:test.local")


def test_an_upload_downloads_byte_identical_with_its_type_and_name(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    data = os.urandom(300_000)
    media_id = uploaded_media_id(homeserver, token, data, "image/png", filename="photo.png")
    response = _download(homeserver, token, media_id)
    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Content-Disposition"] == "inline; filename=photo.png"
    assert response.headers["Content-Security-Policy"].startswith("sandbox;")
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    renamed = _download(homeserver, token, media_id, "/other%20name.png")
    assert renamed.headers["Content-Disposition"] == 'inline; filename="other name.png"'


def test_active_content_is_served_as_an_attachment_and_names_are_encoded(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    html = uploaded_media_id(homeserver, token, b"<script>alert(1)</script>", "text/html", filename="x.html")
    response = _download(homeserver, token, html)
    assert response.headers["Content-Disposition"] == "attachment; filename=x.html"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    unicode_name = uploaded_media_id(homeserver, token, b"hi", "text/plain", filename="na\u00efve \u2603.txt")
    disposition = _download(homeserver, token, unicode_name).headers["Content-Disposition"]
    assert disposition == "inline; filename*=utf-8''na%C3%AFve%20%E2%98%83.txt"
    untyped = uploaded_media_id(homeserver, token, b"\x00\x01", None)  # type: ignore[arg-type]
    response = _download(homeserver, token, untyped)
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == "attachment"


def test_uploads_need_a_token_and_the_authenticated_download_too(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    assert upload(homeserver, None, b"x").json["errcode"] == "M_MISSING_TOKEN"
    media_id = uploaded_media_id(homeserver, token, b"x")
    response = _download(homeserver, None, media_id)
    assert (response.status_code, response.json["errcode"]) == (401, "M_MISSING_TOKEN")


def test_legacy_download_is_frozen_for_media_uploaded_under_authenticated_media(
        make_homeserver: HomeserverFactory) -> None:
    frozen = make_homeserver()
    token = frozen.register("alice")["access_token"]
    media_id = uploaded_media_id(frozen, token, b"new media")
    response = _download(frozen, None, media_id, base=LEGACY_DOWNLOAD)
    assert (response.status_code, response.json["errcode"]) == (404, "M_NOT_FOUND")
    open_server = make_homeserver(enable_authenticated_media=False)
    token = open_server.register("alice")["access_token"]
    media_id = uploaded_media_id(open_server, token, b"old style")
    assert _download(open_server, None, media_id, base=LEGACY_DOWNLOAD).data == b"old style"
    assert _download(open_server, token, media_id).data == b"old style"


def test_unknown_malformed_and_uncached_remote_media_is_not_found(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    for path in ("/test.local/nosuchmedia", "/test.local/..", "/test.local/a.b", "/test.local/%2E%2E%2Fetc",
                 "/not a server/abc", "/other.example/abc?allow_remote=false"):
        response = homeserver.get(f"{DOWNLOAD}{path}", token=token)
        assert response.status_code == 404, path
        assert response.json["errcode"] in ("M_NOT_FOUND", "M_UNRECOGNIZED"), path
    traversal = homeserver.get(f"{DOWNLOAD}/test.local/..%2F..%2F..%2Fetc%2Fpasswd", token=token)
    assert traversal.status_code == 404
    assert homeserver.get(f"{DOWNLOAD}/test.local/abc?allow_remote=maybe", token=token).status_code == 400


def test_an_oversized_upload_is_refused_and_leaves_nothing(make_homeserver: HomeserverFactory) -> None:
    server = make_homeserver(max_upload_size=1000)
    token = server.register("alice")["access_token"]
    before = staged_files(server)
    response = upload(server, token, b"x" * 1001)
    assert (response.status_code, response.json["errcode"]) == (413, "M_TOO_LARGE")
    # A body sent without Content-Length (chunked) is stopped as it passes the limit.
    chunked = server.client.post("/_matrix/media/v3/upload", input_stream=io.BytesIO(b"y" * 5000),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
                                 environ_overrides={"wsgi.input_terminated": True})
    assert (chunked.status_code, chunked.json["errcode"]) == (413, "M_TOO_LARGE")
    assert staged_files(server) == before
    assert _rows(server) == 0
    assert upload(server, token, b"x" * 1000).status_code == 200
    assert server.get("/_matrix/client/v1/media/config", token=token).json == {"m.upload.size": 1000}
    assert server.get("/_matrix/media/v3/config", token=token).json == {"m.upload.size": 1000}


def test_a_truncated_upload_is_refused_and_leaves_nothing(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    before = staged_files(homeserver)
    response = homeserver.client.post(
        "/_matrix/media/v3/upload", input_stream=io.BytesIO(b"only part of it"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
        environ_overrides={"CONTENT_LENGTH": "100000"})  # the client promised more than it sent
    assert response.status_code == 400
    assert staged_files(homeserver) == before
    assert _rows(homeserver) == 0


def test_malformed_content_types_and_file_names_are_refused(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    assert upload(homeserver, token, b"x", "not a type").json["errcode"] == "M_INVALID_PARAM"
    assert upload(homeserver, token, b"x", filename="a/b").json["errcode"] == "M_INVALID_PARAM"
    assert upload(homeserver, token, b"x", filename="x" * 300).json["errcode"] == "M_INVALID_PARAM"
    assert _rows(homeserver) == 0


def test_an_empty_upload_is_kept_as_empty_content(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    media_id = uploaded_media_id(homeserver, token, b"")
    response = _download(homeserver, token, media_id)
    assert (response.status_code, response.data) == (200, b"")


def test_upload_quotas_refuse_what_passes_the_limit(make_homeserver: HomeserverFactory) -> None:
    server = make_homeserver(media_upload_limits=[{"time_period": "1d", "max_size": 100}])
    token = server.register("alice")["access_token"]
    assert upload(server, token, b"x" * 60).status_code == 200
    response = upload(server, token, b"x" * 60)
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")
    server.clock.advance(86_400_001)
    assert upload(server, token, b"x" * 60).status_code == 200


# --- asynchronous uploads (POST /create, then PUT) --------------------------------------------------------------------

def _create(server: HomeserverUnderTest, token: str) -> tuple[str, dict[str, Any]]:
    response = server.post(CREATE, token=token)
    assert response.status_code == 200, response.json
    return str(response.json["content_uri"].rsplit("/", 1)[1]), response.json  # type: ignore[return-value]


def _put(server: HomeserverUnderTest, token: str, media_id: str, data: bytes,
         server_name: str = "test.local") -> Any:
    return upload(server, token, data, "application/pdf", method="PUT",
                  path=f"/_matrix/media/v3/upload/{server_name}/{media_id}", filename="doc.pdf")


def test_created_media_waits_for_its_content_then_serves_it(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    media_id, body = _create(homeserver, token)
    assert body["unused_expires_at"] == homeserver.clock.now_ms() + 24 * 3600 * 1000
    waiting = _download(homeserver, token, media_id, query="?timeout_ms=0")
    assert (waiting.status_code, waiting.json["errcode"]) == (504, "M_NOT_YET_UPLOADED")
    assert _put(homeserver, token, media_id, b"%PDF-1.7").json == {}
    response = _download(homeserver, token, media_id)
    assert response.data == b"%PDF-1.7"
    assert response.headers["Content-Disposition"] == "attachment; filename=doc.pdf"


def test_a_waiting_download_returns_once_the_content_arrives(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    media_id, _body = _create(homeserver, token)
    results: list[Any] = []
    waiter = threading.Thread(target=lambda: results.append(
        _download(homeserver, token, media_id, query="?timeout_ms=10000")))
    waiter.start()
    assert _put(homeserver, token, media_id, b"late").status_code == 200
    waiter.join(15)
    assert results[0].status_code == 200 and results[0].data == b"late"


def test_created_media_takes_content_once_from_its_creator_before_it_expires(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    media_id, _body = _create(homeserver, alice)
    assert _put(homeserver, bob, media_id, b"x").json["errcode"] == "M_FORBIDDEN"
    assert _put(homeserver, alice, "neverCreated", b"x").json["errcode"] == "M_NOT_FOUND"
    assert _put(homeserver, alice, media_id, b"x", server_name="other.example").json["errcode"] == "M_NOT_FOUND"
    assert _put(homeserver, alice, media_id, b"first").status_code == 200
    again = _put(homeserver, alice, media_id, b"second")
    assert (again.status_code, again.json["errcode"]) == (409, "M_CANNOT_OVERWRITE_MEDIA")
    assert _download(homeserver, alice, media_id).data == b"first"
    uploaded_directly = uploaded_media_id(homeserver, alice, b"direct")
    assert _put(homeserver, alice, uploaded_directly, b"x").json["errcode"] == "M_CANNOT_OVERWRITE_MEDIA"
    expiring, _body = _create(homeserver, alice)
    homeserver.clock.advance(24 * 3600 * 1000 + 1)
    assert _put(homeserver, alice, expiring, b"late").json["errcode"] == "M_NOT_FOUND"
    assert _download(homeserver, alice, expiring, query="?timeout_ms=0").json["errcode"] == "M_NOT_FOUND"


def test_concurrent_uploads_to_one_created_id_keep_exactly_one(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    media_id, _body = _create(homeserver, token)
    bodies = {index: bytes([index]) * 200_000 for index in range(4)}
    results: dict[int, int] = {}
    threads = [threading.Thread(target=lambda index=index: results.__setitem__(
        index, _put(homeserver, token, media_id, bodies[index]).status_code)) for index in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [index for index, status in results.items() if status == 200]
    assert len(winners) == 1 and sorted(results.values()) == [200, 409, 409, 409]
    assert _download(homeserver, token, media_id).data == bodies[winners[0]]


def test_pending_uploads_are_limited_per_user(make_homeserver: HomeserverFactory) -> None:
    server = make_homeserver(max_pending_media_uploads=2, rc_media_create=GENEROUS)
    token = server.register("alice")["access_token"]
    media_id, _body = _create(server, token)
    _create(server, token)
    refused = server.post(CREATE, token=token)
    assert (refused.status_code, refused.json["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    _put(server, token, media_id, b"done")
    assert server.post(CREATE, token=token).status_code == 200


def test_creating_media_ids_is_rate_limited(make_homeserver: HomeserverFactory) -> None:
    server = make_homeserver(rc_media_create={"per_second": 0.001, "burst_count": 2},
                             max_pending_media_uploads=100)
    token = server.register("alice")["access_token"]
    assert [server.post(CREATE, token=token).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("enable_media_repo", [False])
def test_a_process_without_the_media_repo_serves_no_media(make_homeserver: HomeserverFactory,
                                                          enable_media_repo: bool) -> None:
    server = make_homeserver(enable_media_repo=enable_media_repo)
    token = server.register("alice")["access_token"]
    response = upload(server, token, b"x")
    assert (response.status_code, response.json["errcode"]) == (404, "M_UNRECOGNIZED")


def test_an_uploaded_avatar_appears_in_the_profile_and_in_sync(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = homeserver.post("/_matrix/client/v3/createRoom", token=alice, json={"preset": "public_chat"}).json[
        "room_id"]
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    avatar = b"\x89PNG avatar bytes"
    uri = upload(homeserver, alice, avatar, "image/png").json["content_uri"]
    response = homeserver.put("/_matrix/client/v3/profile/@alice:test.local/avatar_url", token=alice,
                              json={"avatar_url": uri})
    assert response.status_code == 200
    assert homeserver.get("/_matrix/client/v3/profile/@alice:test.local").json["avatar_url"] == uri

    def member_avatar() -> str | None:
        rooms = homeserver.get("/_matrix/client/v3/sync", token=bob).json["rooms"]["join"]
        members = [event for event in rooms[room_id]["state"]["events"] + rooms[room_id]["timeline"]["events"]
                   if event["type"] == "m.room.member" and event["state_key"] == "@alice:test.local"]
        return members[-1]["content"].get("avatar_url") if members else None

    homeserver.eventually(lambda: member_avatar() == uri)
    media_id = uri.rsplit("/", 1)[1]
    assert _download(homeserver, bob, media_id).data == avatar


@pytest.mark.parametrize("shape", ["workers"])  # processes sharing one database: the worker shape only
def test_with_the_media_repo_off_on_main_a_media_repository_worker_serves_media(
        make_homeserver: HomeserverFactory) -> None:
    """``enable_media_repo: false`` on the main config and a ``synapse.app.media_repository`` worker, as Synapse
    deployments split them: main answers no media request, the worker serves the uploads of main's users."""
    main = make_homeserver(enable_media_repo=False)
    media = make_homeserver(enable_media_repo=False, worker_app="synapse.app.media_repository",
                            worker_name="media1",
                            worker_listeners=[{"port": 8085, "type": "http", "resources": [{"names": ["media"]}]}])
    token = main.register("alice")["access_token"]
    assert upload(main, token, b"x").status_code == 404
    media_id = uploaded_media_id(media, token, b"served by the media worker")
    assert media.get(f"{DOWNLOAD}/test.local/{media_id}", token=token).data == b"served by the media worker"
    assert main.get(f"{DOWNLOAD}/test.local/{media_id}", token=token).status_code == 404
