"""Media end to end: matrix-nio uploads and downloads (over the authenticated ``/_matrix/client/v1/media`` paths,
as nio speaks them) against a real ``ganglion run``, a real worker-shape deployment and the Procfile deployment:
the bytes come back identical, thumbnails have the asked size, and an uploaded avatar is the profile's."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Awaitable, Iterator
from typing import TypeVar

import pytest
from nio import (
    MemoryDownloadResponse,
    ProfileGetAvatarResponse,
    ProfileSetAvatarResponse,
    ResizingMethod,
    ThumbnailResponse,
    UploadResponse,
)
from PIL import Image

from tests.e2e.nio_clients import expect, registered_client
from tests.e2e.servers import E2E_SHAPES, RunningServer, serving

pytestmark = pytest.mark.e2e
T = TypeVar("T")


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "media") as running:
        yield running


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout=90))  # type: ignore[arg-type]


def _png(width: int, height: int) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(output, "PNG")
    return output.getvalue()


def test_an_upload_downloads_byte_identical(server: RunningServer) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)

    async def scenario() -> tuple[UploadResponse, MemoryDownloadResponse, MemoryDownloadResponse]:
        alice = await registered_client(server, "media")
        bob = await registered_client(server, "viewer")
        try:
            uploaded, _keys = await alice.upload(io.BytesIO(data), "application/x-test", "blob.bin",
                                                 filesize=len(data))
            uploaded = expect(uploaded, UploadResponse)
            mine = expect(await alice.download(uploaded.content_uri), MemoryDownloadResponse)
            theirs = expect(await bob.download(uploaded.content_uri, "renamed.bin"), MemoryDownloadResponse)
            return uploaded, mine, theirs
        finally:
            await alice.close()
            await bob.close()

    uploaded, mine, theirs = run(scenario())
    assert uploaded.content_uri.startswith("mxc://")
    assert mine.body == data and theirs.body == data
    assert mine.content_type == "application/x-test"
    assert (mine.filename, theirs.filename) == ("blob.bin", "renamed.bin")


def test_thumbnails_have_the_asked_size_and_an_uploaded_avatar_is_the_profiles(server: RunningServer) -> None:
    async def scenario() -> tuple[ThumbnailResponse, ThumbnailResponse, str, str]:
        alice = await registered_client(server, "avatar")
        try:
            uploaded, _keys = await alice.upload(io.BytesIO(_png(800, 400)), "image/png", "me.png")
            uri = expect(uploaded, UploadResponse).content_uri
            server_name, media_id = uri[len("mxc://"):].split("/")
            scaled = expect(await alice.thumbnail(server_name, media_id, 320, 240, ResizingMethod.scale),
                            ThumbnailResponse)
            cropped = expect(await alice.thumbnail(server_name, media_id, 96, 96, ResizingMethod.crop),
                             ThumbnailResponse)
            expect(await alice.set_avatar(uri), ProfileSetAvatarResponse)
            avatar = expect(await alice.get_avatar(), ProfileGetAvatarResponse)
            return scaled, cropped, uri, avatar.avatar_url
        finally:
            await alice.close()

    scaled, cropped, uri, avatar_url = run(scenario())
    assert Image.open(io.BytesIO(scaled.body)).size == (320, 160)
    assert Image.open(io.BytesIO(cropped.body)).size == (96, 96)
    assert scaled.content_type == "image/png"
    assert avatar_url == uri
