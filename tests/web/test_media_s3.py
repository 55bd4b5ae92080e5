"""Media with an S3-compatible bucket behind the local store (moto's S3 server), in both shapes: uploads reach the
bucket before the client hears of them, a process whose disk lacks a file serves it, and thumbnails it, from the
bucket, and a client that allows redirects is sent to the bucket for it."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from persistence.media.storage import FileMediaStorage, content_key
from tests.conftest import HomeserverFactory
from tests.s3_server import bucket_keys, provider_config, s3_server
from tests.web.media import DOWNLOAD, LEGACY_DOWNLOAD, THUMBNAIL, image_bytes, uploaded_media_id


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


def test_uploads_reach_the_bucket_and_are_served_from_it(make_homeserver: HomeserverFactory,
                                                         s3_endpoint: str) -> None:
    server = make_homeserver(media_storage_providers=provider_config(s3_endpoint, prefix="web"))
    token = server.register("alice")["access_token"]
    data = os.urandom(200_000)
    media_id = uploaded_media_id(server, token, data, "application/octet-stream")
    picture = uploaded_media_id(server, token, image_bytes(500, 500), "image/png")
    assert f"web/{content_key(media_id)}" in bucket_keys(s3_endpoint)
    local = FileMediaStorage(server.config.media.store_path)
    local.delete(content_key(media_id))
    local.delete(content_key(picture))
    assert server.get(f"{DOWNLOAD}/test.local/{media_id}", token=token).data == data
    thumbnail = server.get(f"{THUMBNAIL}/test.local/{picture}?width=96&height=96&method=crop",
                           token=token)
    assert Image.open(io.BytesIO(thumbnail.data)).size == (96, 96)


def test_allow_redirect_sends_the_client_to_the_bucket_for_bytes_only_there(make_homeserver: HomeserverFactory,
                                                                            s3_endpoint: str) -> None:
    """Content repository, ``allow_redirect``: a 307 to a presigned bucket URL that answers with our headers, only
    for a client that allowed it and only for bytes our disk no longer holds."""
    server = make_homeserver(media_storage_providers=provider_config(s3_endpoint, prefix="redirect"),
                             enable_authenticated_media=False)
    token = server.register("alice")["access_token"]
    data = os.urandom(50_000)
    media_id = uploaded_media_id(server, token, data, "text/html", filename="page.html")
    paths = [f"{LEGACY_DOWNLOAD}/test.local/{media_id}", f"{DOWNLOAD}/test.local/{media_id}"]
    for path in paths:
        on_disk = server.get(f"{path}?allow_redirect=true", token=token)
        assert (on_disk.status_code, on_disk.data) == (200, data), "bytes on our disk are served by us"
    FileMediaStorage(server.config.media.store_path).delete(content_key(media_id))
    for path in paths:
        served = server.get(path, token=token)
        assert (served.status_code, served.data) == (200, data), "no redirect unless the client allows it"
        redirected = server.get(f"{path}?allow_redirect=true", token=token)
        assert redirected.status_code == 307
        assert redirected.headers["Location"].startswith(f"{s3_endpoint}/")
        assert redirected.headers["Cache-Control"] == "no-store"
        from_bucket = httpx.get(redirected.headers["Location"])
        assert (from_bucket.status_code, from_bucket.content) == (200, data)
        for header in ("Content-Type", "Content-Disposition"):
            assert from_bucket.headers[header] == served.headers[header], "the bucket answers with our headers"
        assert served.headers["Content-Disposition"].startswith("attachment"), "text/html is never inline"
    invalid = server.get(f"{paths[0]}?allow_redirect=yes", token=token)
    assert (invalid.status_code, invalid.json["errcode"]) == (400, "M_INVALID_PARAM")
