"""Conversations the media tests share: uploading bytes as a client does (not JSON), images made with Pillow."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from werkzeug.test import TestResponse

from persistence.media.storage import FileMediaStorage
from tests.homeserver import HomeserverUnderTest

UPLOAD = "/_matrix/media/v3/upload"
DOWNLOAD = "/_matrix/client/v1/media/download"
LEGACY_DOWNLOAD = "/_matrix/media/v3/download"
THUMBNAIL = "/_matrix/client/v1/media/thumbnail"
CREATE = "/_matrix/media/v1/create"


def upload(server: HomeserverUnderTest, token: str | None, data: bytes, content_type: str | None = "text/plain",
           *, path: str = UPLOAD, method: str = "POST", filename: str | None = None,
           headers: dict[str, str] | None = None) -> TestResponse:
    all_headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    query = {"filename": filename} if filename is not None else None
    return server.client.open(path, method=method, data=data, headers=all_headers, query_string=query)


def uploaded_media_id(server: HomeserverUnderTest, token: str, data: bytes, content_type: str = "text/plain",
                      **kwargs: Any) -> str:
    response = upload(server, token, data, content_type, **kwargs)
    assert response.status_code == 200, response.json
    uri = response.json["content_uri"]
    assert uri.startswith(f"mxc://{server.config.server_name}/")
    return str(uri.rsplit("/", 1)[1])


def image_bytes(width: int, height: int, fmt: str = "PNG", **save: Any) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(output, fmt, **save)
    return output.getvalue()


def staged_files(server: HomeserverUnderTest) -> list[str]:
    return FileMediaStorage(server.config.media.store_path).list_staged()
