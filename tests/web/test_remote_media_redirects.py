"""Another server's media that is somewhere else (Server-Server API v1.11, "Content Repository": the answer may
send us on, as a redirect or as a ``Location`` part): followed by the ``media`` queue's task, unsigned past the
origin, each hop's address checked as any outbound fetch's, and cached like media sent inline. Between the server
under test (both shapes, its tasks in a worker that knows ``remote.test``) and a real second Ganglion whose
answers a test app in front of it rewrites."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import HomeserverFactory
from tests.web.federation_pair import REMOTE, Pair, federating_pair
from tests.web.media import image_bytes, uploaded_media_id

DOWNLOAD = "/_matrix/client/v1/media/download"
THUMBNAIL = "/_matrix/client/v1/media/thumbnail"
FEDERATION_MEDIA = "/_matrix/federation/v1/media"
BLOCKED = "http://10.1.2.3/media"
"""A private address: never fetched, whoever points us at it."""


@pytest.fixture
def pair(make_homeserver_with_worker: HomeserverFactory, tmp_path: Path, sqlite_template: Path) -> Iterator[Pair]:
    with federating_pair(make_homeserver_with_worker, tmp_path, sqlite_template) as built:
        yield built


def _answer(start_response: Callable[..., Any], status: str, headers: list[tuple[str, str]],
            body: bytes = b"") -> list[bytes]:
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _cdn_in_front(pair: Pair, files: dict[str, tuple[str, bytes]], blocked_id: str) -> None:
    """``remote.test`` as a deployment behind a CDN: federation downloads answer 307 to ``/cdn/hop/<id>``, which
    answers 302 to ``/cdn/files/<id>`` (absolute); thumbnails answer a multipart whose second part is a
    ``Location``; ``blocked_id``'s download redirects to a private address."""
    served = pair.remote.app

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = str(environ["PATH_INFO"])
        here = f"http://{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        name = path.rpartition("/")[2]
        if path == f"{FEDERATION_MEDIA}/download/{blocked_id}":
            return _answer(start_response, "307 Temporary Redirect", [("Location", BLOCKED)])
        if path.startswith(f"{FEDERATION_MEDIA}/download/"):
            return _answer(start_response, "307 Temporary Redirect", [("Location", f"/cdn/hop/{name}")])
        if path.startswith("/cdn/hop/"):
            return _answer(start_response, "302 Found", [("Location", f"{here}/cdn/files/{name}")])
        if path.startswith("/cdn/files/") and name in files:
            content_type, body = files[name]
            return _answer(start_response, "200 OK", [("Content-Type", content_type),
                                                      ("Content-Disposition", 'attachment; filename="cdn.bin"')], body)
        if path.startswith(f"{FEDERATION_MEDIA}/thumbnail/"):
            boundary = "b0undary"
            body = (f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n"
                    f"--{boundary}\r\nLocation: {here}/cdn/hop/thumb-{name}\r\n\r\n\r\n--{boundary}--\r\n").encode()
            return _answer(start_response, "200 OK", [("Content-Type", f"multipart/mixed; boundary={boundary}")],
                           body)
        return served(environ, start_response)

    pair.remote_app.target = app


def test_remote_media_behind_redirects_is_fetched_through_them_and_cached(pair: Pair) -> None:
    local, remote = pair.local, pair.remote
    token = local.register("alice")["access_token"]
    bob = remote.register("bob")["access_token"]
    media_id = uploaded_media_id(remote, bob, b"elsewhere", "text/plain")
    picture = uploaded_media_id(remote, bob, image_bytes(300, 200), "image/png")
    blocked = uploaded_media_id(remote, bob, b"never fetched", "text/plain")
    thumbnail = image_bytes(32, 32)
    _cdn_in_front(pair, {media_id: ("text/plain", b"elsewhere"), f"thumb-{picture}": ("image/png", thumbnail)},
                  blocked)

    answer = local.get(f"{DOWNLOAD}/{REMOTE}/{media_id}", token=token)
    assert (answer.status_code, answer.get_data()) == (200, b"elsewhere")
    assert "cdn.bin" in answer.headers["Content-Disposition"], "the file name the final hop gave"
    assert [path for path in pair.remote_app.paths if path.endswith(media_id)] == [
        f"{FEDERATION_MEDIA}/download/{media_id}", f"/cdn/hop/{media_id}", f"/cdn/files/{media_id}"]
    cached = local.get(f"{DOWNLOAD}/{REMOTE}/{media_id}?allow_remote=false", token=token)
    assert cached.get_data() == b"elsewhere"

    scaled = local.get(f"{THUMBNAIL}/{REMOTE}/{picture}?width=32&height=32&method=crop", token=token)
    assert scaled.status_code == 200, scaled.get_data()[:200]
    assert Image.open(io.BytesIO(scaled.get_data())).size == (32, 32)
    assert f"/cdn/files/thumb-{picture}" in pair.remote_app.paths, "the Location part, through its redirect"

    refused = local.get(f"{DOWNLOAD}/{REMOTE}/{blocked}", token=token)
    assert (refused.status_code, refused.json["errcode"]) == (502, "M_UNKNOWN")
    after = local.get(f"{DOWNLOAD}/{REMOTE}/{blocked}?allow_remote=false", token=token)
    assert after.status_code == 404, "nothing was cached"
