"""``/_matrix/key/v2/server``: the server's published signing keys (Server-Server API, "Publishing Keys").

The answer is signed with the very key it publishes, so a remote server can check it after fetching it. Old keys
are not kept yet: ``old_verify_keys`` is empty.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from protocol.errors import NotFound
from protocol.signing import encode_verify_key, key_id_of, sign_json, verify_key_of
from web.deps import deps

KEY_VALIDITY_MS = 24 * 60 * 60 * 1000
"""How long a fetched key stays valid (``valid_until_ts`` = now + this); remote servers re-fetch after it."""


def get_server_key() -> dict[str, Any]:
    current = deps()
    key = current.signing_key
    keys = {
        "server_name": current.config.server_name,
        "verify_keys": {key_id_of(key): {"key": encode_verify_key(verify_key_of(key))}},
        "old_verify_keys": {},
        "valid_until_ts": current.clock.now_ms() + KEY_VALIDITY_MS,
    }
    return sign_json(keys, current.config.server_name, key)


def get_server_key_by_id(key_id: str) -> dict[str, Any]:
    """The deprecated ``/server/{keyId}`` form: the same answer, when ``key_id`` names a key this server holds.

    Synapse ignores the id; a 404 for an unknown one tells a caller plainly that no such key exists here.
    """
    if key_id != key_id_of(deps().signing_key):
        raise NotFound(f"No key {key_id!r} on this server")
    return get_server_key()


def create_keys_blueprint() -> Blueprint:
    blueprint = Blueprint("keys", __name__)
    blueprint.add_url_rule("/_matrix/key/v2/server", view_func=get_server_key, methods=["GET"])
    blueprint.add_url_rule("/_matrix/key/v2/server/<key_id>", view_func=get_server_key_by_id, methods=["GET"])
    return blueprint
