"""Downloads and the upload limit: the deprecated ``/_matrix/media/v3/download`` and ``config`` and their
authenticated successors under ``/_matrix/client/v1/media`` (spec v1.11).

Content is served as uploaded, but never active: ``inline`` only for the spec's safe types, the sandboxing
``Content-Security-Policy`` always (``protocol.media.SECURITY_HEADERS``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response

from persistence.media.storage import content_key
from protocol.errors import NotFound
from protocol.media import content_disposition, served_content_type
from web.auth import authenticate
from web.deps import Deps, deps
from web.media.content import file_response, local_media, redirect_response, storage
from web.media.remote import remote_file_response
from web.routing import client_route

logger = logging.getLogger(__name__)
LEGACY_VERSIONS = ("r0", "v3")


def _download(current: Deps, server_name: str, media_id: str, file_name: str | None, *,
              authenticated_endpoint: bool) -> Response:
    if server_name != current.config.server_name:
        return remote_file_response(current, server_name, media_id, file_name)
    media = local_media(current, server_name, media_id, authenticated_endpoint=authenticated_endpoint)
    content_type = served_content_type(media.media_type)
    name = file_name if file_name is not None else media.upload_name
    disposition = content_disposition(content_type, name)
    store, key = storage(current), content_key(media.media_id)
    redirected = redirect_response(store, key, content_type, disposition)
    if redirected is not None:
        return redirected
    stored = store.open(key)
    if stored is None:
        logger.error("media %s is recorded but its content is missing from media storage", media_id)
        raise NotFound("Not found")
    return file_response(stored, content_type, disposition)


def get_content_legacy(server_name: str, media_id: str, file_name: str | None = None) -> Response:
    return _download(deps(), server_name, media_id, file_name, authenticated_endpoint=False)


def get_content_authenticated(server_name: str, media_id: str, file_name: str | None = None) -> Response:
    current = deps()
    authenticate(current, allow_guest=True)
    return _download(current, server_name, media_id, file_name, authenticated_endpoint=True)


def get_config() -> dict[str, Any]:
    current = deps()
    authenticate(current, allow_guest=True)
    return {"m.upload.size": current.config.media.max_upload_size}


def register_routes(blueprint: Blueprint) -> None:
    for version in LEGACY_VERSIONS:
        for suffix, path in (("", "/<server_name>/<media_id>"), ("_named", "/<server_name>/<media_id>/<file_name>")):
            blueprint.add_url_rule(f"/_matrix/media/{version}/download{path}",
                                   endpoint=f"get_content{suffix}_{version}", view_func=get_content_legacy,
                                   methods=["GET"])
        blueprint.add_url_rule(f"/_matrix/media/{version}/config", endpoint=f"get_config_{version}",
                               view_func=get_config, methods=["GET"])
    client_route(blueprint, "/media/download/<server_name>/<media_id>", methods=["GET"],
                 versions=("v1",))(get_content_authenticated)
    blueprint.add_url_rule("/_matrix/client/v1/media/download/<server_name>/<media_id>/<file_name>",
                           endpoint="get_content_authenticated_named", view_func=get_content_authenticated,
                           methods=["GET"])
    client_route(blueprint, "/media/config", methods=["GET"], versions=("v1",))(get_config)
