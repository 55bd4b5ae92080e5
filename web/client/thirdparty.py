"""Third-party lookups (Client-Server API, "Third-party Lookups"), answered by the application services that
registered the protocol (Application Service API, "Third-party Networks").

Protocol metadata is merged across appservices (the first one's fields, every one's instances; an instance with
a ``network_id`` gets its ``instance_id``) and kept for an hour per process, as Synapse keeps it: it changes
when a bridge is reconfigured, not per request. User and location lookups are asked afresh and concatenated;
an appservice that fails or answers something that is not a list of objects is left out.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Blueprint, current_app, request

from appservice_client.client import AppServiceUnreachable, segment, thirdparty
from protocol.appservices import AppService
from protocol.errors import NotFound
from web.auth import authenticate
from web.deps import Deps, deps
from web.routing import client_route

logger = logging.getLogger(__name__)

PROTOCOL_CACHE_MS = 3_600_000
_CACHE_KEY = "ganglion.thirdparty_protocols"


class ProtocolCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def get(self, protocol: str, now_ms: int) -> tuple[bool, dict[str, Any] | None]:
        with self._lock:
            entry = self._entries.get(protocol)
        if entry is None or now_ms - entry[0] > PROTOCOL_CACHE_MS:
            return False, None
        return True, entry[1]

    def put(self, protocol: str, now_ms: int, metadata: dict[str, Any] | None) -> None:
        with self._lock:
            self._entries[protocol] = (now_ms, metadata)


def _cache() -> ProtocolCache:
    cache = current_app.extensions.get(_CACHE_KEY)
    if not isinstance(cache, ProtocolCache):
        cache = current_app.extensions.setdefault(_CACHE_KEY, ProtocolCache())
    return cache  # type: ignore[no-any-return]


def _services(current: Deps, protocol: str | None) -> list[AppService]:
    services = current.config.appservices.with_protocol(protocol) if protocol is not None \
        else tuple(current.config.appservices)
    return [service for service in services if service.url is not None]


def _protocol_metadata(current: Deps, protocol: str) -> dict[str, Any] | None:
    cache = _cache()
    now = current.clock.now_ms()
    known, cached = cache.get(protocol, now)
    if known:
        return cached
    merged: dict[str, Any] | None = None
    for service in _services(current, protocol):
        try:
            answer = thirdparty(service, f"protocol/{segment(protocol)}",
                                verify_tls=not current.config.insecure_outbound_tls)
        except AppServiceUnreachable as error:
            logger.info("protocol %s metadata: %s", protocol, error)
            continue
        if not isinstance(answer, dict):
            continue
        instances = [dict(instance) for instance in answer.get("instances", []) if isinstance(instance, dict)]
        for instance in instances:
            if isinstance(instance.get("network_id"), str):
                instance["instance_id"] = f"{service.id}|{instance['network_id']}"
        if merged is None:
            merged = {**answer, "instances": instances}
        else:
            merged["instances"].extend(instances)
    if merged is not None:
        cache.put(protocol, now, merged)
    return merged


def get_protocols() -> dict[str, Any]:
    current = deps()
    authenticate(current)
    protocols = dict.fromkeys(p for service in current.config.appservices for p in service.protocols)
    found = {protocol: _protocol_metadata(current, protocol) for protocol in protocols}
    return {protocol: metadata for protocol, metadata in found.items() if metadata is not None}


def get_protocol(protocol: str) -> dict[str, Any]:
    current = deps()
    authenticate(current)
    metadata = _protocol_metadata(current, protocol) if _services(current, protocol) else None
    if metadata is None:
        raise NotFound(f"Unknown protocol {protocol!r}")
    return metadata


def _lookup(kind: str, protocol: str | None) -> list[dict[str, Any]]:
    """Ask each appservice of ``protocol`` (every appservice without one) and concatenate their answers."""
    current = deps()
    authenticate(current)
    services = _services(current, protocol)
    if protocol is not None and not services:
        raise NotFound(f"Unknown protocol {protocol!r}")
    params = {key: value for key, value in request.args.items() if key != "access_token"}
    path = f"{kind}/{segment(protocol)}" if protocol is not None else kind
    results: list[dict[str, Any]] = []
    for service in services:
        try:
            answer = thirdparty(service, path, params, verify_tls=not current.config.insecure_outbound_tls)
        except AppServiceUnreachable as error:
            logger.info("third-party %s lookup: %s", kind, error)
            continue
        if isinstance(answer, list):
            results.extend(item for item in answer if isinstance(item, dict))
    return results


def get_users(protocol: str) -> list[dict[str, Any]]:
    return _lookup("user", protocol)


def get_locations(protocol: str) -> list[dict[str, Any]]:
    return _lookup("location", protocol)


def get_user_by_id() -> list[dict[str, Any]]:
    return _lookup("user", None)


def get_location_by_alias() -> list[dict[str, Any]]:
    return _lookup("location", None)


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/thirdparty/protocols", methods=["GET"])(get_protocols)
    client_route(blueprint, "/thirdparty/protocol/<protocol>", methods=["GET"])(get_protocol)
    client_route(blueprint, "/thirdparty/user/<protocol>", methods=["GET"])(get_users)
    client_route(blueprint, "/thirdparty/location/<protocol>", methods=["GET"])(get_locations)
    client_route(blueprint, "/thirdparty/user", methods=["GET"])(get_user_by_id)
    client_route(blueprint, "/thirdparty/location", methods=["GET"])(get_location_by_alias)
