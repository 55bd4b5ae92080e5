"""The body of ``/_matrix/federation/v1/media/download|thumbnail`` (Server-Server API, "Content Repository",
spec v1.11): ``multipart/mixed`` with exactly two parts, a JSON metadata object (empty today) and then either the
media bytes, with their own ``Content-Type`` and ``Content-Disposition``, or a ``Location`` to fetch them from."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


@dataclass(frozen=True)
class MediaPart:
    """The second part: ``content`` with its headers, or only a ``location`` to download it from."""

    metadata: dict[str, Any]
    content_type: str | None
    content_disposition: str | None
    content: bytes
    location: str | None = None


class MalformedMultipart(ValueError):
    """A federation media response that is not the two-part ``multipart/mixed`` the spec describes."""


def new_boundary() -> str:
    return secrets.token_hex(16)


def multipart_head(boundary: str, content_type: str, disposition: str) -> bytes:
    """Everything before the media bytes: the metadata part and the second part's headers."""
    return (f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n"
            f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Disposition: {disposition}\r\n\r\n").encode()


def multipart_tail(boundary: str) -> bytes:
    return f"\r\n--{boundary}--\r\n".encode()


def _headers(block: bytes) -> dict[str, str]:
    headers = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def parse_media_response(content_type: str, body: bytes) -> MediaPart:
    """Split a federation media response; raises MalformedMultipart."""
    if not content_type.lower().startswith("multipart/mixed"):
        raise MalformedMultipart(f"expected multipart/mixed, got {content_type!r}")
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise MalformedMultipart("multipart/mixed without a boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    sections = body.split(delimiter)
    # [preamble, part 1, part 2, "--" epilogue]
    if len(sections) < 4 or not sections[3].startswith(b"--"):
        raise MalformedMultipart("expected exactly two parts")
    parts = []
    for section in sections[1:3]:
        section = section.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, sep, content = section.partition(b"\r\n\r\n")
        if not sep:
            head, content = (b"", section[2:]) if section.startswith(b"\r\n") else (section, b"")
        parts.append((_headers(head), content))
    (_, meta_bytes), (headers, content) = parts
    try:
        metadata = json.loads(meta_bytes)
    except ValueError as exc:
        raise MalformedMultipart("the metadata part is not JSON") from exc
    if not isinstance(metadata, dict):
        raise MalformedMultipart("the metadata part is not a JSON object")
    return MediaPart(metadata, headers.get("content-type"), headers.get("content-disposition"), content,
                     headers.get("location"))


_FILENAME_STAR = re.compile(r"filename\*\s*=\s*(?:utf-8|UTF-8)''([^;]+)")
_FILENAME = re.compile(r'filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))')


def filename_from_disposition(value: str | None) -> str | None:
    """The file name a ``Content-Disposition`` gives (RFC 6266: ``filename*`` wins over ``filename``)."""
    if not value:
        return None
    star = _FILENAME_STAR.search(value)
    if star is not None:
        return unquote(star.group(1).strip()) or None
    plain = _FILENAME.search(value)
    if plain is None:
        return None
    quoted, token = plain.group(1), plain.group(2)
    name = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
    return name or None
