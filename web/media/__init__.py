"""The content repository (Client-Server API, "Content repository"): ``/_matrix/media/*`` (uploads and the
deprecated unauthenticated downloads) and ``/_matrix/client/v1/media/*`` (authenticated downloads, v1.11), plus
Synapse's media admin API. Registered only on processes that serve the media repository (``enable_media_repo``,
or a ``synapse.app.media_repository`` worker)."""

from __future__ import annotations

from flask import Blueprint

from config.media import MediaConfig


def create_media_blueprint(config: MediaConfig) -> Blueprint:
    from web.media import admin, download, preview, thumbnail, upload

    blueprint = Blueprint("media", __name__)
    for module in (upload, download, thumbnail, admin):
        module.register_routes(blueprint)
    if config.url_preview.enabled:  # as Synapse: without previews the endpoint does not exist
        preview.register_routes(blueprint)
    return blueprint
