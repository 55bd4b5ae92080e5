"""URL previews (``preview_url``) as HTTP conversations in both shapes, against a web server of the test's own:
Open Graph data with the image kept as our media, and no way to reach an address the admin blocked, directly,
after DNS or through a redirect."""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from PIL import Image

from tests.conftest import HomeserverFactory
from tests.homeserver import HomeserverUnderTest
from tests.web.media import DOWNLOAD
from tests.web.pages import ROCK_PNG, PageServer, page_server

PREVIEW = "/_matrix/client/v1/media/preview_url"


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    with page_server() as server:
        yield server


def _preview(server: HomeserverUnderTest, token: str | None, url: str, base: str = PREVIEW) -> tuple[int, dict]:
    response = server.get(f"{base}?url={quote(url, safe='')}", token=token)
    return response.status_code, response.json  # type: ignore[return-value]


def test_a_page_is_described_by_its_open_graph_data_and_its_image_is_ours(
        homeserver: HomeserverUnderTest, pages: PageServer) -> None:
    token = homeserver.register("alice")["access_token"]
    status, body = _preview(homeserver, token, pages.url("/page.html"))
    assert status == 200, body
    assert body["og:title"] == "The Rock" and body["og:type"] == "video.movie"
    assert body["og:url"] == "http://www.imdb.com/title/tt0117500/"
    assert (body["og:image:width"], body["og:image:height"], body["matrix:image:size"]) == (279, 129, len(ROCK_PNG))
    assert body["og:image"].startswith("mxc://test.local/")
    image = homeserver.get(f"{DOWNLOAD}/test.local/{body['og:image'].rsplit('/', 1)[1]}", token=token)
    assert image.data == ROCK_PNG
    legacy_status, legacy = _preview(homeserver, token, pages.url("/page.html"), "/_matrix/media/v3/preview_url")
    assert legacy_status == 200 and legacy["og:title"] == "The Rock"


def test_pages_without_open_graph_images_and_other_content(homeserver: HomeserverUnderTest,
                                                          pages: PageServer) -> None:
    token = homeserver.register("alice")["access_token"]
    assert _preview(homeserver, token, pages.url("/title.html"))[1] == {
        "og:title": "Just a title", "og:description": "A page without Open Graph"}
    status, image = _preview(homeserver, token, pages.url("/rock.png"))
    assert status == 200 and image["og:image:type"] == "image/png" and image["og:image:width"] == 279
    assert _preview(homeserver, token, pages.url("/notes.txt")) == (200, {})
    redirected = _preview(homeserver, token, pages.url(f"/redirect-to/{quote(pages.url('/page.html'), safe='')}"))
    assert redirected[1]["og:title"] == "The Rock"


def test_blocked_addresses_are_never_fetched(homeserver: HomeserverUnderTest, pages: PageServer) -> None:
    token = homeserver.register("alice")["access_token"]
    before = list(pages.paths)
    redirect = pages.url(f"/redirect-to/{quote(pages.url('/x', '127.0.0.2'), safe='')}")
    for url in (pages.url("/page.html", host="127.0.0.2"), "http://10.0.0.1/", "http://[::1]:80/",
                "http://[::ffff:127.0.0.2]/", redirect):
        status, body = _preview(homeserver, token, url)
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN"), url
    assert all(path.startswith("/redirect-to/") for path in pages.paths[len(before):]), "only the redirect ran"


def test_bad_and_failing_previews_get_errors(homeserver: HomeserverUnderTest, pages: PageServer) -> None:
    token = homeserver.register("alice")["access_token"]
    assert homeserver.get(PREVIEW, token=token).json["errcode"] == "M_MISSING_PARAM"
    assert _preview(homeserver, token, "ftp://127.0.0.1/x")[1]["errcode"] == "M_INVALID_PARAM"
    assert homeserver.get(f"{PREVIEW}?url=http://127.0.0.1/&ts=yesterday", token=token).status_code == 400
    assert _preview(homeserver, None, pages.url("/page.html"))[0] == 401
    assert _preview(homeserver, token, pages.url("/missing"))[0] == 502
    assert _preview(homeserver, token, "http://127.0.0.1:1/")[0] == 502


def test_previews_are_absent_unless_enabled(make_homeserver: HomeserverFactory) -> None:
    server = make_homeserver(url_preview_enabled=False)
    token = server.register("alice")["access_token"]
    response = server.get(f"{PREVIEW}?url=http://127.0.0.1/", token=token)
    assert (response.status_code, response.json["errcode"]) == (404, "M_UNRECOGNIZED")


def test_a_preview_image_is_thumbnailed_like_an_upload(homeserver: HomeserverUnderTest, pages: PageServer) -> None:
    token = homeserver.register("alice")["access_token"]
    media_id = _preview(homeserver, token, pages.url("/page.html"))[1]["og:image"].rsplit("/", 1)[1]
    response = homeserver.get(f"/_matrix/client/v1/media/thumbnail/test.local/{media_id}?width=96&height=96"
                              "&method=crop", token=token)
    assert Image.open(io.BytesIO(response.data)).size == (96, 96)
