"""Pure rules of the content repository (Client-Server API, "Content repository"): media ids, ``mxc://`` URIs,
how content is served (``Content-Disposition``, which types may be ``inline``), and thumbnail geometry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from protocol.identifiers import is_valid_server_name

# Spec, "Matrix Content (mxc://) URIs": a media id is only A-Za-z0-9, '_' and '-'. Checking this (rather than
# refusing '.' and '/') is what keeps ids from ever naming a path outside the store.
_MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")

# Spec, "Serving inline content": the types a server may serve with ``Content-Disposition: inline``.
INLINE_CONTENT_TYPES = frozenset({
    "text/css", "text/plain", "text/csv", "application/json", "application/ld+json",
    "image/jpeg", "image/gif", "image/png", "image/apng", "image/webp", "image/avif",
    "video/mp4", "video/webm", "video/ogg", "video/quicktime",
    "audio/mp4", "audio/webm", "audio/aac", "audio/mpeg", "audio/ogg", "audio/wave", "audio/wav",
    "audio/x-wav", "audio/x-pn-wav", "audio/flac", "audio/x-flac",
})

# The headers every served media response carries: the spec's recommended policy (plus Synapse's media-src) keeps
# an uploaded HTML or SVG file from running script on the server's origin even when a browser opens it directly.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
                                "style-src 'unsafe-inline'; media-src 'self'; object-src 'self';"),
    "X-Content-Security-Policy": "sandbox;",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow, noarchive, noimageindex",
}

DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_FILENAME_LENGTH = 255
# RFC 7230 "token" characters: a filename of only these needs no quoting in a header parameter.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def is_valid_media_id(media_id: str) -> bool:
    return _MEDIA_ID.fullmatch(media_id) is not None


def is_valid_media_origin(server_name: str) -> bool:
    return is_valid_server_name(server_name)


def mxc_uri(server_name: str, media_id: str) -> str:
    return f"mxc://{server_name}/{media_id}"


def parse_mxc_uri(uri: object) -> tuple[str, str] | None:
    """``(server_name, media_id)`` of a well-formed ``mxc://`` URI, else None."""
    if not isinstance(uri, str) or not uri.startswith("mxc://"):
        return None
    server_name, slash, media_id = uri[len("mxc://"):].partition("/")
    if not slash or not is_valid_media_origin(server_name) or not is_valid_media_id(media_id):
        return None
    return server_name, media_id


def base_content_type(content_type: str) -> str:
    """The media type without parameters, lower case: ``Text/HTML; charset=utf-8`` -> ``text/html``."""
    return content_type.split(";", 1)[0].strip().lower()


def is_inline_safe(content_type: str) -> bool:
    return base_content_type(content_type) in INLINE_CONTENT_TYPES


def served_content_type(content_type: str | None) -> str:
    """The ``Content-Type`` to serve stored content with: text gets an explicit charset (spec: "Adding a charset to
    text/* content types" is within bounds), and content stored without a type is ``application/octet-stream``."""
    if not content_type:
        return DEFAULT_CONTENT_TYPE
    if base_content_type(content_type).startswith("text/") and "charset" not in content_type.lower():
        return f"{content_type}; charset=utf-8"
    return content_type


def content_disposition(content_type: str, filename: str | None) -> str:
    """``inline`` only for the spec's safe types, ``attachment`` otherwise, with the file name encoded as RFC 6266
    wants: a plain token as is, other ASCII quoted, anything else as an RFC 8187 ``filename*`` parameter."""
    disposition = "inline" if is_inline_safe(content_type) else "attachment"
    if not filename:
        return disposition
    if _TOKEN.fullmatch(filename):
        return f"{disposition}; filename={filename}"
    if filename.isascii() and filename.isprintable():
        escaped = filename.replace("\\", "\\\\").replace('"', '\\"')
        return f'{disposition}; filename="{escaped}"'
    return f"{disposition}; filename*=utf-8''{quote(filename, safe='')}"


def is_acceptable_filename(filename: str) -> bool:
    """A name a client may give an upload: printable, no path separators, not too long."""
    return (0 < len(filename) <= MAX_FILENAME_LENGTH and filename.isprintable() and "/" not in filename
            and "\\" not in filename)


def is_acceptable_content_type(content_type: str) -> bool:
    """A ``type/subtype`` media type, optionally with parameters, in printable ASCII."""
    return (len(content_type) <= 255 and content_type.isascii() and content_type.isprintable()
            and re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;.*)?",
                             content_type) is not None)


# --- thumbnails -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ThumbnailSpec:
    """One thumbnail of one image: its pixel size, how it was made, and its content type."""

    width: int
    height: int
    method: str
    content_type: str


def scaled_size(source_width: int, source_height: int, width: int, height: int) -> tuple[int, int]:
    """"scale": the largest size of the source's aspect ratio that fits the requested box (so it fills the box on
    one axis), never larger than the source."""
    if source_width <= 0 or source_height <= 0:
        return (0, 0)
    if source_width * height <= width * source_height:  # the source is taller than the box: height decides
        new_height = min(height, source_height)
        new_width = max(1, round(source_width * new_height / source_height))
    else:
        new_width = min(width, source_width)
        new_height = max(1, round(source_height * new_width / source_width))
    return (new_width, new_height)


def cropped_size(source_width: int, source_height: int, width: int, height: int) -> tuple[int, int]:
    """"crop": the requested aspect ratio, at the requested size unless the source is smaller (never upscaled)."""
    if source_width >= width and source_height >= height:
        return (width, height)
    factor = min(source_width / width, source_height / height)
    return (max(1, int(width * factor)), max(1, int(height * factor)))


def thumbnail_size(method: str, source: tuple[int, int], requested: tuple[int, int]) -> tuple[int, int]:
    if method == "crop":
        return cropped_size(*source, *requested)
    return scaled_size(*source, *requested)


def needs_thumbnail(source: tuple[int, int], requested: tuple[int, int]) -> bool:
    """Whether the source is larger than the requested box on some axis; if not, the spec says to serve the
    original rather than a thumbnail (and never to upscale)."""
    return source[0] > requested[0] or source[1] > requested[1]


def select_thumbnail(candidates: list[ThumbnailSpec], width: int, height: int,
                     method: str) -> ThumbnailSpec | None:
    """The best of ``candidates`` for a request (spec: never smaller than requested where possible).

    ``crop`` prefers thumbnails covering the requested box, then the closest aspect ratio, then the smallest;
    ``scale`` prefers thumbnails covering the box on one axis, then the smallest. A thumbnail made by the other
    method is used only when none of the asked method exists.
    """
    if not candidates or width <= 0 or height <= 0:
        return None

    def key(spec: ThumbnailSpec) -> tuple[int, int, float, int]:
        other_method = 0 if spec.method == method else 1
        if method == "crop":
            covers = spec.width >= width and spec.height >= height
            aspect_error = abs(spec.width * height - spec.height * width) / (spec.height * width)
        else:
            covers = spec.width >= width or spec.height >= height
            aspect_error = 0.0
        area = spec.width * spec.height
        return (other_method, 0 if covers else 1, aspect_error, area if covers else -area)

    return min(candidates, key=key)


def mxc_uris_in_content(content: object) -> list[str]:
    """The ``mxc://`` URIs an event's content refers to: the file (``url``, also an avatar's), its thumbnail
    (``info.thumbnail_url``) and a member's ``avatar_url`` (what Synapse's room media admin API lists)."""
    if not isinstance(content, Mapping):
        return []
    info = content.get("info")
    found = [content.get("url"), content.get("avatar_url"),
             info.get("thumbnail_url") if isinstance(info, Mapping) else None]
    return [uri for uri in found if isinstance(uri, str) and parse_mxc_uri(uri) is not None]
