"""Thumbnails (Client-Server API, "Thumbnails") as HTTP conversations in both shapes: the right size and method,
never upscaled, upright by EXIF, animated only when asked, and made once however many ask for them."""

from __future__ import annotations

import io

from PIL import Image

from tests.conftest import HomeserverFactory
from tests.homeserver import HomeserverUnderTest
from tests.web.media import THUMBNAIL, image_bytes, uploaded_media_id

LEGACY_THUMBNAIL = "/_matrix/media/v3/thumbnail"


def _thumbnail(server: HomeserverUnderTest, token: str | None, media_id: str, query: str,
               base: str = THUMBNAIL) -> tuple[int, Image.Image | None, dict[str, str]]:
    response = server.get(f"{base}/test.local/{media_id}?{query}", token=token)
    image = Image.open(io.BytesIO(response.data)) if response.status_code == 200 else None
    return response.status_code, image, dict(response.headers)


def _thumbnail_rows(server: HomeserverUnderTest, media_id: str) -> list[tuple[int, int, str, str]]:
    with server.deps.database.read() as conn:
        return [(spec.width, spec.height, spec.method, spec.content_type)
                for spec in server.deps.stores.media.list_thumbnails(conn, media_id)]


def test_scale_keeps_the_aspect_ratio_and_crop_fills_the_box(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    media_id = uploaded_media_id(homeserver, token, image_bytes(1000, 500), "image/png")
    status, image, headers = _thumbnail(homeserver, token, media_id, "width=320&height=240&method=scale")
    assert status == 200 and image is not None and image.size == (320, 160)
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"] == "inline; filename=thumbnail.png"
    assert headers["Content-Security-Policy"].startswith("sandbox;")
    _status, image, _headers = _thumbnail(homeserver, token, media_id, "width=96&height=96&method=crop")
    assert image is not None and image.size == (96, 96)
    # Not a configured size: the smallest configured thumbnail that is at least as large.
    _status, image, _headers = _thumbnail(homeserver, token, media_id, "width=50&height=50&method=scale")
    assert image is not None and image.size == (320, 160)


def test_configured_thumbnails_are_made_after_the_upload(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    media_id = uploaded_media_id(homeserver, token, image_bytes(700, 700, "JPEG"), "image/jpeg")
    expected = [(32, 32, "crop", "image/jpeg"), (96, 96, "crop", "image/jpeg"),
                (240, 240, "scale", "image/jpeg"), (480, 480, "scale", "image/jpeg"),
                (600, 600, "scale", "image/jpeg")]
    homeserver.eventually(lambda: sorted(_thumbnail_rows(homeserver, media_id)) == expected)
    _status, image, headers = _thumbnail(homeserver, token, media_id, "width=640&height=480")
    assert image is not None and image.size == (480, 480) and headers["Content-Type"] == "image/jpeg"
    assert sorted(_thumbnail_rows(homeserver, media_id)) == expected, "served from what was made, nothing new"


def test_an_image_no_larger_than_asked_is_served_itself(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    data = image_bytes(20, 10)
    media_id = uploaded_media_id(homeserver, token, data, "image/png")
    response = homeserver.get(f"{THUMBNAIL}/test.local/{media_id}?width=32&height=32&method=crop", token=token)
    assert response.status_code == 200 and response.data == data


def test_dynamic_thumbnails_have_the_exact_size_asked(make_homeserver: HomeserverFactory) -> None:
    server = make_homeserver(dynamic_thumbnails=True)
    token = server.register("alice")["access_token"]
    media_id = uploaded_media_id(server, token, image_bytes(1000, 500), "image/png")
    _status, image, _headers = _thumbnail(server, token, media_id, "width=50&height=50&method=scale")
    assert image is not None and image.size == (50, 25)
    _status, image, _headers = _thumbnail(server, token, media_id, "width=70&height=30&method=crop")
    assert image is not None and image.size == (70, 30)


def test_exif_orientation_is_applied_before_sizing(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW": stored 400x200, seen 200x400
    output = io.BytesIO()
    Image.new("RGB", (400, 200), (0, 90, 200)).save(output, "JPEG", exif=exif.tobytes())
    media_id = uploaded_media_id(homeserver, token, output.getvalue(), "image/jpeg")
    _status, image, _headers = _thumbnail(homeserver, token, media_id, "width=320&height=240&method=scale")
    assert image is not None and image.size == (120, 240)


def _animated_gif(width: int, height: int, frames: int = 3) -> bytes:
    images = [Image.new("RGB", (width, height), (40 * index, 0, 0)) for index in range(frames)]
    output = io.BytesIO()
    images[0].save(output, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return output.getvalue()


def test_animated_thumbnails_only_when_asked(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    media_id = uploaded_media_id(homeserver, token, _animated_gif(400, 400), "image/gif")
    _status, image, headers = _thumbnail(homeserver, token, media_id, "width=96&height=96&method=crop&animated=true")
    assert image is not None and headers["Content-Type"] == "image/webp"
    assert image.size == (96, 96) and getattr(image, "n_frames", 1) == 3
    for query in ("width=96&height=96&method=crop&animated=false", "width=96&height=96&method=crop"):
        _status, image, headers = _thumbnail(homeserver, token, media_id, query)
        assert image is not None and headers["Content-Type"] == "image/png"
        assert getattr(image, "n_frames", 1) == 1
    small = uploaded_media_id(homeserver, token, _animated_gif(20, 20), "image/gif")
    _status, image, headers = _thumbnail(homeserver, token, small, "width=96&height=96&animated=false")
    assert image is not None and headers["Content-Type"] == "image/png" and image.size == (20, 20)
    still = uploaded_media_id(homeserver, token, image_bytes(400, 400), "image/png")
    _status, image, headers = _thumbnail(homeserver, token, still, "width=96&height=96&method=crop&animated=true")
    assert headers["Content-Type"] == "image/png", "animated=true on a still image behaves as false"


def test_images_past_max_image_pixels_are_not_decoded(make_homeserver: HomeserverFactory) -> None:
    server = make_homeserver(max_image_pixels=10_000)
    token = server.register("alice")["access_token"]
    media_id = uploaded_media_id(server, token, image_bytes(200, 200), "image/png")
    response = server.get(f"{THUMBNAIL}/test.local/{media_id}?width=32&height=32", token=token)
    assert (response.status_code, response.json["errcode"]) == (413, "M_TOO_LARGE")
    assert _thumbnail_rows(server, media_id) == []


def test_bad_thumbnail_requests_get_the_specs_errors(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("alice")["access_token"]
    image = uploaded_media_id(homeserver, token, image_bytes(100, 100), "image/png")
    text = uploaded_media_id(homeserver, token, b"not an image", "text/plain")
    liar = uploaded_media_id(homeserver, token, b"not a png at all", "image/png")
    cases = {
        f"{image}?height=32": (400, "M_MISSING_PARAM"),
        f"{image}?width=32&height=-1": (400, "M_INVALID_PARAM"),
        f"{image}?width=x&height=32": (400, "M_INVALID_PARAM"),
        f"{image}?width=32&height=32&method=stretch": (400, "M_INVALID_PARAM"),
        f"{image}?width=32&height=32&animated=yes": (400, "M_INVALID_PARAM"),
        f"{text}?width=32&height=32": (400, "M_UNKNOWN"),
        f"{liar}?width=32&height=32": (400, "M_UNKNOWN"),
        "nosuchmedia?width=32&height=32": (404, "M_NOT_FOUND"),
    }
    for query, expected in cases.items():
        response = homeserver.get(f"{THUMBNAIL}/test.local/{query}", token=token)
        assert (response.status_code, response.json["errcode"]) == expected, query
    assert homeserver.get(f"{THUMBNAIL}/test.local/{image}?width=32&height=32").status_code == 401


def test_legacy_thumbnails_follow_the_authenticated_media_freeze(make_homeserver: HomeserverFactory) -> None:
    frozen = make_homeserver()
    token = frozen.register("alice")["access_token"]
    media_id = uploaded_media_id(frozen, token, image_bytes(100, 100), "image/png")
    assert _thumbnail(frozen, None, media_id, "width=32&height=32", LEGACY_THUMBNAIL)[0] == 404
    open_server = make_homeserver(enable_authenticated_media=False)
    token = open_server.register("alice")["access_token"]
    media_id = uploaded_media_id(open_server, token, image_bytes(100, 100), "image/png")
    _status, image, _headers = _thumbnail(open_server, None, media_id, "width=32&height=32&method=crop",
                                          LEGACY_THUMBNAIL)
    assert image is not None and image.size == (32, 32)
