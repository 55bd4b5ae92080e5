"""Media with an S3-compatible bucket behind the local store (moto's S3 server), in both shapes: uploads reach the
bucket before the client hears of them, and a process whose disk lacks a file serves it, and thumbnails it, from
the bucket."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest
from PIL import Image

from persistence.media.storage import FileMediaStorage, content_key
from tests.conftest import HomeserverFactory
from tests.s3_server import bucket_keys, provider_config, s3_server
from tests.web.media import DOWNLOAD, THUMBNAIL, image_bytes, uploaded_media_id


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
