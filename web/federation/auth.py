"""Authenticating an inbound federation request (Server-Server API, "Request Authentication").

Every ``X-Matrix`` ``Authorization`` header must name us as destination (or no destination), come from an origin
``federation_domain_whitelist`` allows, and carry a valid signature, by a key of the origin valid now, over the
method, the URI as sent, origin, destination and the JSON body. Anything less is 401 ``M_UNAUTHORIZED`` (403
``M_FORBIDDEN`` for an origin we do not federate with), before the view runs. A header that cannot be parsed, or
names an origin that is no server name, is a bad request: 400 ``M_UNAUTHORIZED``, as Synapse answers (SyTest's
"Non-numeric ports in server names are rejected" expects the 400).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from flask import request

from protocol.errors import Forbidden, Unauthorized
from protocol.federation.request_auth import MalformedAuthorization, parse_authorization, verify_request
from protocol.identifiers import is_valid_server_name
from protocol.signing import InvalidSignature
from web.deps import Deps, deps
from web.federation.liveness import notice_origin
from web.requests import json_body

View = TypeVar("View", bound=Callable[..., Any])


def request_uri() -> str:
    """The path and query exactly as the client sent them (gunicorn and werkzeug keep them in the environ)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = request.query_string.decode("latin-1")
    return quote(request.path) + (f"?{query}" if query else "")


def authenticate_server(current: Deps) -> str:
    """The origin server of the current request, once every X-Matrix signature on it checks out."""
    headers = [value for value in request.headers.getlist("Authorization")
               if value.strip().lower().startswith("x-matrix")]
    if not headers:
        raise Unauthorized("Missing Authorization headers")
    try:
        authorizations = [parse_authorization(value) for value in headers]
    except MalformedAuthorization as exc:
        raise Unauthorized(f"Malformed Authorization header: {exc}", status=400) from None
    origins = {authorization.origin for authorization in authorizations}
    if len(origins) != 1:
        raise Unauthorized("Authorization headers name different origins")
    origin = origins.pop()
    if not is_valid_server_name(origin):
        raise Unauthorized("Malformed Authorization header: invalid origin", status=400)
    server_name = current.config.server_name
    for authorization in authorizations:
        if authorization.destination is not None and authorization.destination != server_name:
            raise Unauthorized("Authorization header names another destination")
    if not current.config.federation.allows_domain(origin):
        raise Forbidden(f"Federation denied with {origin}")
    content = json_body().data if request.get_data(cache=True).strip() else None
    method, uri = request.method, request_uri()
    for authorization in authorizations:
        key = current.federation.keyring.verify_key(origin, authorization.key_id)
        if key is None:
            raise Unauthorized(f"No valid key {authorization.key_id} of {origin} is known")
        try:
            verify_request(authorization, key, method, uri, server_name, content)
        except InvalidSignature:
            raise Unauthorized(f"Invalid signature for {origin} with key {authorization.key_id}") from None
    notice_origin(current, origin)
    return origin


def server_authenticated(view: View) -> View:
    """Decorate a federation view: it runs only for an authenticated request and receives ``origin=``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(*args, origin=authenticate_server(deps()), **kwargs)

    return wrapper  # type: ignore[return-value]
