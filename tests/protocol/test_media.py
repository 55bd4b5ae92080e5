"""The content repository's pure rules: media ids, content disposition, thumbnail geometry and choice."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocol.media import (
    ThumbnailSpec,
    content_disposition,
    cropped_size,
    is_valid_media_id,
    mxc_uris_in_content,
    parse_mxc_uri,
    scaled_size,
    select_thumbnail,
    served_content_type,
)


def test_media_ids_are_only_the_url_safe_alphabet() -> None:
    assert is_valid_media_id("AQwafuaFswefuhsfAFAgsw_-09")
    for bad in ("", "..", "a/b", "a.b", "%2e", "a\x00", "\u00e9", "x" * 256):
        assert not is_valid_media_id(bad), bad


def test_mxc_uris_parse_only_when_well_formed() -> None:
    assert parse_mxc_uri("mxc://example.org:8448/abc") == ("example.org:8448", "abc")
    for bad in ("mxc://example.org", "mxc://example.org/", "mxc://example.org/a/b", "https://example.org/abc",
                "mxc://bad host/abc", 42):
        assert parse_mxc_uri(bad) is None, bad
    content = {"url": "mxc://a.org/one", "info": {"thumbnail_url": "mxc://a.org/two"}, "avatar_url": "nope"}
    assert mxc_uris_in_content(content) == ["mxc://a.org/one", "mxc://a.org/two"]


def test_disposition_is_inline_only_for_safe_types() -> None:
    assert content_disposition("image/png", None) == "inline"
    assert content_disposition("IMAGE/PNG; x=y", "a.png") == "inline; filename=a.png"
    for unsafe in ("text/html", "image/svg+xml", "application/javascript", "application/octet-stream"):
        assert content_disposition(unsafe, None) == "attachment", unsafe


def test_file_names_are_encoded_as_rfc_6266_asks() -> None:
    assert content_disposition("text/plain", 'say "hi".txt') == 'inline; filename="say \\"hi\\".txt"'
    assert content_disposition("text/plain", "\u00e9t\u00e9.txt") == "inline; filename*=utf-8''%C3%A9t%C3%A9.txt"
    assert content_disposition("text/plain", "a\r\nb") == "inline; filename*=utf-8''a%0D%0Ab"


def test_text_is_served_with_a_charset() -> None:
    assert served_content_type("text/plain") == "text/plain; charset=utf-8"
    assert served_content_type("text/plain; charset=latin1") == "text/plain; charset=latin1"
    assert served_content_type(None) == "application/octet-stream"


sides = st.integers(min_value=1, max_value=5000)


@given(sides, sides, sides, sides)
def test_scale_fits_the_box_keeps_the_aspect_and_never_upscales(sw: int, sh: int, w: int, h: int) -> None:
    width, height = scaled_size(sw, sh, w, h)
    assert 1 <= width <= min(w, sw) or width == 1
    assert 1 <= height <= min(h, sh) or height == 1
    assert width == min(w, sw) or height == min(h, sh), "it fills the box (or the source) on one axis"


@given(sides, sides, sides, sides)
def test_crop_has_the_requested_aspect_and_never_upscales(sw: int, sh: int, w: int, h: int) -> None:
    width, height = cropped_size(sw, sh, w, h)
    assert width <= max(w, 1) and height <= max(h, 1)
    assert width <= sw or width == 1
    assert height <= sh or height == 1


def test_selection_prefers_the_smallest_thumbnail_that_is_large_enough() -> None:
    specs = [ThumbnailSpec(32, 32, "crop", "image/png"), ThumbnailSpec(96, 96, "crop", "image/png"),
             ThumbnailSpec(320, 160, "scale", "image/png"), ThumbnailSpec(640, 320, "scale", "image/png")]
    assert select_thumbnail(specs, 50, 50, "crop") == specs[1]
    assert select_thumbnail(specs, 200, 200, "scale") == specs[2]
    assert select_thumbnail(specs, 400, 200, "scale") == specs[3]
    assert select_thumbnail(specs, 2000, 2000, "scale") == specs[3], "the largest when none is large enough"
    assert select_thumbnail(specs[2:], 50, 50, "crop") == specs[2], "the other method when the asked one is absent"
    assert select_thumbnail([], 50, 50, "crop") is None
