"""``/_matrix/key/v2``: our published keys, and the notary endpoints that relay other servers' keys.

Spec: Server-Server API, "Publishing Keys" and "Querying Keys Through Another Server". Our answer is signed with
the very key it publishes; ``valid_until_ts`` is now plus ``key_refresh_interval`` and ``old_verify_keys`` lists
``old_signing_keys``, as with Synapse. As a notary we hand on each server's own signed response with our signature
added, fetching it again when what we hold is not valid until ``minimum_valid_until_ts``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, request

from protocol.canonical_json import JsonDict
from protocol.errors import BadJson, InvalidParam, MissingParam, NotFound
from protocol.federation.server_keys import our_key_response, parse_notary_query
from protocol.identifiers import is_valid_server_name
from protocol.signing import key_id_of, sign_json
from web.deps import Deps, deps
from web.requests import json_body

KEY_ID = re.compile(r"[A-Za-z0-9_]+:[A-Za-z0-9_]+")
"""A signing key identifier: algorithm, colon, identifier (Appendices, "Signing Details")."""


def our_keys(current: Deps) -> JsonDict:
    config = current.config
    old = {key.key_id: (key.verify_key, key.expired_ts) for key in config.federation.old_signing_keys}
    valid_until = current.clock.now_ms() + config.federation.key_refresh_interval_ms
    return our_key_response(config.server_name, current.signing_key, valid_until, old)


def get_server_key() -> dict[str, Any]:
    return our_keys(deps())


def get_server_key_by_id(key_id: str) -> dict[str, Any]:
    """The deprecated ``/server/{keyId}`` form: the same answer, when ``key_id`` names a key this server holds.

    Synapse ignores the id; a 404 for an unknown one tells a caller plainly that no such key exists here.
    """
    current = deps()
    known = {key_id_of(current.signing_key), *(key.key_id for key in current.config.federation.old_signing_keys)}
    if key_id not in known:
        raise NotFound(f"No key {key_id!r} on this server")
    return our_keys(current)


def _key_ids(signed: JsonDict) -> set[str]:
    return {*signed.get("verify_keys", {}), *signed.get("old_verify_keys", {})}


def _select(cached: list[tuple[int, JsonDict]], wanted: dict[str, int],
            minimum_for_all: int) -> tuple[list[JsonDict], bool]:
    """The responses to relay, and whether all of them were fresh enough. ``wanted`` names key ids with their
    minimum validity; empty, it asks for every response, valid until ``minimum_for_all``."""
    if not wanted:
        fresh = [signed for valid_until, signed in cached if valid_until >= minimum_for_all]
        return (fresh, True) if fresh else ([signed for _, signed in cached], False)
    chosen: list[JsonDict] = []
    all_fresh = True
    for key_id, minimum in wanted.items():
        holding = [(valid_until, signed) for valid_until, signed in cached if key_id in _key_ids(signed)]
        fresh = [signed for valid_until, signed in holding if valid_until >= minimum]
        all_fresh = all_fresh and bool(fresh)
        chosen.extend(fresh or [signed for _, signed in holding[:1]])
    unique = {id(signed): signed for signed in chosen}
    return list(unique.values()), all_fresh


def _notary_responses(current: Deps, server_name: str, wanted: dict[str, int],
                      minimum_for_all: int) -> list[JsonDict]:
    """``server_name``'s own signed key responses, fetched again unless what we hold is valid long enough, each
    with our signature added. A key the server no longer publishes is still relayed from the cache (a notary
    must not forget a key because the origin did), as is an expired one when nothing newer can be had."""
    if server_name == current.config.server_name:
        return [our_keys(current)]
    keyring = current.federation.keyring
    chosen, fresh = _select(keyring.cached_responses(server_name), wanted, minimum_for_all)
    if not fresh:
        keyring.refresh(server_name, {})
        chosen, _ = _select(keyring.cached_responses(server_name), wanted, minimum_for_all)
    name, key = current.config.server_name, current.signing_key
    return [sign_json(signed, name, key) for signed in chosen]


def query_keys() -> dict[str, Any]:
    current = deps()
    body = json_body().data
    if body.get("server_keys") is None:
        raise MissingParam("Missing parameter: server_keys")
    try:
        query = parse_notary_query(body)
    except ValueError as exc:
        raise BadJson(str(exc)) from None
    now = current.clock.now_ms()
    results: list[JsonDict] = []
    for server_name, wanted in query.items():
        if is_valid_server_name(server_name):
            results.extend(_notary_responses(current, server_name, wanted, now))
    return {"server_keys": results}


def _minimum_param(current: Deps) -> int:
    text = request.args.get("minimum_valid_until_ts")
    if text is not None and not text.isdigit():
        raise InvalidParam("minimum_valid_until_ts must be an integer")
    return int(text) if text else current.clock.now_ms()


def query_server_keys(server_name: str) -> dict[str, Any]:
    current = deps()
    if not is_valid_server_name(server_name):
        raise InvalidParam(f"{server_name!r} is not a valid server name")
    return {"server_keys": _notary_responses(current, server_name, {}, _minimum_param(current))}


def query_server_key_by_id(server_name: str, key_id: str) -> dict[str, Any]:
    """The deprecated ``/query/{serverName}/{keyId}`` form, still used by SyTest: only that key's responses."""
    current = deps()
    if not is_valid_server_name(server_name):
        raise InvalidParam(f"{server_name!r} is not a valid server name")
    if not KEY_ID.fullmatch(key_id):
        raise InvalidParam(f"{key_id!r} is not a key id (algorithm:identifier)")
    return {"server_keys": _notary_responses(current, server_name, {key_id: _minimum_param(current)}, 0)}


def create_keys_blueprint() -> Blueprint:
    blueprint = Blueprint("keys", __name__)
    blueprint.add_url_rule("/_matrix/key/v2/server", view_func=get_server_key, methods=["GET"])
    blueprint.add_url_rule("/_matrix/key/v2/server/<key_id>", view_func=get_server_key_by_id, methods=["GET"])
    blueprint.add_url_rule("/_matrix/key/v2/query", view_func=query_keys, methods=["POST"])
    blueprint.add_url_rule("/_matrix/key/v2/query/<server_name>", view_func=query_server_keys, methods=["GET"])
    blueprint.add_url_rule("/_matrix/key/v2/query/<server_name>/<key_id>", view_func=query_server_key_by_id,
                           methods=["GET"])
    return blueprint
