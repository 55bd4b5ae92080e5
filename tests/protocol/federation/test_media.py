"""The federation media body (spec v1.11 ``multipart/mixed``): what we serve parses back to what we stored, for
any bytes; answers that are not the spec's two parts are refused; file names come out of either disposition form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.federation.media import (
    MalformedMultipart,
    filename_from_disposition,
    multipart_head,
    multipart_tail,
    new_boundary,
    parse_media_response,
)


@given(content=st.binary(max_size=2048), content_type=st.sampled_from(["image/png", "text/plain; charset=utf-8"]))
def test_a_served_body_parses_back_to_its_content(content: bytes, content_type: str) -> None:
    boundary = new_boundary()
    body = multipart_head(boundary, content_type, "inline; filename=a.png") + content + multipart_tail(boundary)
    part = parse_media_response(f"multipart/mixed; boundary={boundary}", body)
    assert (part.metadata, part.content, part.content_type) == ({}, content, content_type)
    assert part.location is None


def test_a_location_part_has_no_content() -> None:
    body = (b'--xyz\r\nContent-Type: application/json\r\n\r\n{"a": 1}\r\n'
            b"--xyz\r\nLocation: https://cdn.example/file\r\n\r\n\r\n--xyz--\r\n")
    part = parse_media_response('multipart/mixed; boundary="xyz"', body)
    assert part.metadata == {"a": 1} and part.location == "https://cdn.example/file" and part.content == b""


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json", b"{}"),
    ("multipart/mixed", b"--x\r\n\r\n{}\r\n--x--"),
    ("multipart/mixed; boundary=x", b"--x\r\nContent-Type: application/json\r\n\r\n{}\r\n--x--\r\n"),
    ("multipart/mixed; boundary=x", b"--x\r\n\r\n[]\r\n--x\r\n\r\nbytes\r\n--x--\r\n"),
    ("multipart/mixed; boundary=x", b"--x\r\n\r\nnot json\r\n--x\r\n\r\nbytes\r\n--x--\r\n"),
])
def test_anything_but_two_parts_with_json_metadata_is_refused(content_type: str, body: bytes) -> None:
    with pytest.raises(MalformedMultipart):
        parse_media_response(content_type, body)


@pytest.mark.parametrize(("disposition", "name"), [
    ("inline; filename=cat.png", "cat.png"),
    ('attachment; filename="my \\"file\\".txt"', 'my "file".txt'),
    ("attachment; filename=fallback.txt; filename*=utf-8''%E2%9C%93.txt", "\u2713.txt"),
    ("inline", None),
    (None, None),
])
def test_file_names_come_from_either_form(disposition: str | None, name: str | None) -> None:
    assert filename_from_disposition(disposition) == name
