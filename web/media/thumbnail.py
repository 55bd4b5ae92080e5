"""Thumbnails: the deprecated ``/_matrix/media/v3/thumbnail`` and the authenticated
``/_matrix/client/v1/media/thumbnail`` (spec v1.11), ``scale`` or ``crop``, ``animated`` when asked.

A configured size is normally made by the ``media`` queue after the upload; a request that arrives first makes
it here (``persistence.media.thumbnails``). With ``dynamic_thumbnails`` the exact requested size is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, request

from persistence.media.storage import StoredFile, content_key
from persistence.media.thumbnailer import CannotThumbnail, ImageTooLarge
from persistence.media.thumbnails import Thumbnails
from persistence.stores.media import LocalMedia
from protocol.errors import InvalidParam, MissingParam, NotFound, TooLarge, UnknownError
from protocol.media import content_disposition, served_content_type
from web.auth import authenticate
from web.deps import Deps, deps
from web.media.content import file_response, local_media, query_flag, storage
from web.media.remote import remote_thumbnail_response
from web.routing import client_route

MAX_DIMENSION = 10_000
"""Larger requests are answered with the original anyway (never upscaled); this only bounds the numbers."""


def _dimension(name: str) -> int:
    value = request.args.get(name)
    if value is None:
        raise MissingParam(f"Missing parameter: {name}")
    if not value.isdigit() or not 0 < int(value) <= MAX_DIMENSION:
        raise InvalidParam(f"Query parameter '{name}' must be an integer from 1 to {MAX_DIMENSION}")
    return int(value)


def _thumbnail(current: Deps, server_name: str, media_id: str, *, authenticated_endpoint: bool) -> Response:
    wanted = thumbnail_request()
    if server_name != current.config.server_name:
        return remote_thumbnail_response(current, server_name, media_id, wanted.width, wanted.height, wanted.method)
    media = local_media(current, server_name, media_id, authenticated_endpoint=authenticated_endpoint)
    stored, content_type, disposition = thumbnail_file(current, media, wanted)
    return file_response(stored, content_type, disposition)


@dataclass(frozen=True)
class ThumbnailRequest:
    width: int
    height: int
    method: str
    animated: bool


def thumbnail_request() -> ThumbnailRequest:
    """The request's ``width``, ``height``, ``method`` and ``animated``, checked before any media is looked up."""
    width, height = _dimension("width"), _dimension("height")
    method = request.args.get("method", "scale")
    if method not in ("crop", "scale"):
        raise InvalidParam("Query parameter 'method' must be crop or scale")
    return ThumbnailRequest(width, height, method, query_flag("animated", False))


def thumbnail_file(current: Deps, media: LocalMedia, wanted: ThumbnailRequest) -> tuple[StoredFile, str, str]:
    """The thumbnail of ``media`` asked for (the original when it is already small enough): its open file,
    content type and disposition."""
    width, height, method, animated = wanted.width, wanted.height, wanted.method, wanted.animated
    thumbnails = Thumbnails(current.config.media, current.database, current.stores.media, storage(current),
                            current.source_images)
    try:
        spec = thumbnails.for_request(media, width, height, method, animated)
        if spec is None:
            return _original(current, media.media_id, media.media_type)
        stored = thumbnails.open(media, spec)
    except ImageTooLarge:
        raise TooLarge("Content is too large to thumbnail") from None
    except CannotThumbnail:
        raise UnknownError("Cannot generate thumbnails for the requested content") from None
    if stored is None:
        raise NotFound("Not found")
    extension = spec.content_type.partition("/")[2]
    # Spec v1.12: a thumbnail is always inline, with a file name.
    return stored, spec.content_type, f"inline; filename=thumbnail.{extension}"


def _original(current: Deps, media_id: str, media_type: str | None) -> tuple[StoredFile, str, str]:
    stored = storage(current).open(content_key(media_id))
    if stored is None:
        raise NotFound("Not found")
    content_type = served_content_type(media_type)
    return stored, content_type, content_disposition(content_type, None)


def get_thumbnail_legacy(server_name: str, media_id: str) -> Response:
    return _thumbnail(deps(), server_name, media_id, authenticated_endpoint=False)


def get_thumbnail_authenticated(server_name: str, media_id: str) -> Response:
    current = deps()
    authenticate(current, allow_guest=True)
    return _thumbnail(current, server_name, media_id, authenticated_endpoint=True)


def register_routes(blueprint: Blueprint) -> None:
    for version in ("r0", "v3"):
        blueprint.add_url_rule(f"/_matrix/media/{version}/thumbnail/<server_name>/<media_id>",
                               endpoint=f"get_thumbnail_{version}", view_func=get_thumbnail_legacy, methods=["GET"])
    client_route(blueprint, "/media/thumbnail/<server_name>/<media_id>", methods=["GET"],
                 versions=("v1",))(get_thumbnail_authenticated)
