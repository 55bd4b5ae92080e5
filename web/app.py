"""The Flask application factory. Both shapes use it; only the Deps handed in differ."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import HomeserverConfig
from web.admin import create_admin_blueprint
from web.client import create_client_blueprint
from web.cors import install_cors
from web.deps import Deps, install_deps
from web.errors import install_error_handlers
from web.federation import create_federation_blueprint, create_keys_blueprint
from web.media import create_media_blueprint
from web.metrics import install_metrics
from web.routing import EventIdConverter, SegmentConverter
from web.wellknown import create_wellknown_blueprint

logger = logging.getLogger(__name__)
DOORBELL_WAIT_SECONDS = 5.0


def create_app(config: HomeserverConfig, deps: Deps) -> Flask:
    # No static folder: a homeserver serves no files from its package directory.
    app = Flask("ganglion", static_folder=None)
    app.url_map.converters["default"] = SegmentConverter
    app.url_map.converters["event_id"] = EventIdConverter
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_size
    # Paths are matched exactly: a state key may be empty or hold slashes, so "//" must not be rewritten.
    app.url_map.merge_slashes = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    if any(listener.x_forwarded for listener in config.http_listeners):
        # Behind a reverse proxy: take the client address from X-Forwarded-For (rate limits, last seen IP).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    install_deps(app, deps)
    install_metrics(app, config, deps)
    install_error_handlers(app)
    install_cors(app)
    app.register_blueprint(create_client_blueprint())
    app.register_blueprint(create_wellknown_blueprint())
    app.register_blueprint(create_admin_blueprint())
    app.register_blueprint(create_keys_blueprint())
    app.register_blueprint(create_federation_blueprint())
    if config.workers.serves_media_repo:
        app.register_blueprint(create_media_blueprint(config.media))
    deps.doorbell.listen(deps.token_cache.on_ring)
    deps.doorbell.listen(deps.notifier.on_ring)
    deps.doorbell.listen(deps.push_rules.on_ring)
    if not deps.doorbell.wait_subscribed(DOORBELL_WAIT_SECONDS):
        logger.warning("replication doorbell not subscribed yet: early long-polls may wake late")
    return app
