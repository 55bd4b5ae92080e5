"""Bad input, clear error (DESIGN.md guarantee 6), proved by walking every endpoint the app registers.

The routes come from the application's own URL map, so an endpoint added later is walked too. What the walk
cannot guess, the spec's facts about each endpoint (does it need a token, which body fields of which types), lives
in ``ENDPOINTS`` (tests/web/bad_input_endpoints.py); ``test_every_route_is_described`` fails until a new endpoint
is entered there.

Every bad request must be answered with the spec's error contract (Client-Server API, "Standard error response"):
a JSON object with string ``errcode`` (``M_...``) and ``error``, a 4xx status and never a 5xx, the CORS headers of
"Web Browser Clients" on the error too; and it must change nothing: afterwards the user still has the same devices
and profile, their token still works, and they can still log in with their original password.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.test import TestResponse

from config import parse_config
from protocol.federation.request_auth import sign_request
from tests.homeserver import PASSWORD, SERVER_NAME, HomeserverUnderTest, base_config_data
from tests.web.bad_input_endpoints import (
    ENDPOINTS,
    PATH_VARIABLES,
    UNDESCRIBED,
    Endpoint,
    path_values,
)
from tests.web.federation_peers import REMOTE, REMOTE_KEY, seed_remote_keys

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
BODY_METHODS = {"POST", "PUT", "DELETE"}
SAFE_PATH_CHARS = "@:!$&'()*+,;="


# --- the routes, as the application registers them ----------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    method: str
    rule: str  # e.g. /_matrix/client/v3/devices/<device_id>
    endpoint: str  # blueprint.view with the version suffix dropped: r0 and v3 share one description

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"

    @property
    def variables(self) -> list[str]:
        return re.findall(r"<(?:[^:>]+:)?([^>]+)>", self.rule)


_VERSION_SUFFIX = re.compile(r"_(?:r0|v\d+|unstable)$")


def routes_of(app: Flask) -> list[Route]:
    routes = {
        Route(method, rule.rule, _VERSION_SUFFIX.sub("", rule.endpoint))
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    return sorted(routes, key=lambda route: (route.rule, route.method))


def _routes_at_collection() -> list[Route]:
    """The same app the fixture builds (the worker shape registers the very same blueprints), for parametrizing."""
    from ganglion.wiring import build_monolith
    from web.app import create_app

    config = parse_config({**base_config_data(), "database": {"name": "sqlite3", "args": {"database": ":memory:"}}})
    deps = build_monolith(config).deps
    try:
        return routes_of(create_app(config, deps))
    finally:
        deps.doorbell.close()
        deps.database.dispose()


def endpoint_of(route: Route) -> Endpoint:
    return ENDPOINTS.get(route.endpoint, UNDESCRIBED)


ROUTES = _routes_at_collection()
BODY_ROUTES = [route for route in ROUTES if route.method in BODY_METHODS and endpoint_of(route).bodies]
AUTH_ROUTES = [route for route in ROUTES if endpoint_of(route).auth]
VARIABLE_ROUTES = [route for route in ROUTES if route.variables and route.method in ("GET", "PUT")]


# --- bad inputs --------------------------------------------------------------------------------------------------
NOT_JSON = frozenset({"M_NOT_JSON"})
BAD_JSON = frozenset({"M_BAD_JSON"})
WRONG_TYPE = frozenset({"M_BAD_JSON", "M_INVALID_PARAM"})
NOT_JSON_OR_BAD_JSON = frozenset({"M_NOT_JSON", "M_BAD_JSON"})
MISSING = frozenset({"M_MISSING_PARAM"})


def malformed_bodies(max_request_size: int, body_optional: bool) -> Iterator[tuple[str, bytes, int, frozenset[str]]]:
    """(label, raw body, status, errcodes) for bodies that are not a JSON object at all."""
    yield "malformed JSON", b"{", 400, NOT_JSON
    yield "truncated object", b'{"displayname": ', 400, NOT_JSON
    yield "two objects", b"{} {}", 400, NOT_JSON
    yield "JSON array", b"[]", 400, BAD_JSON
    yield "JSON array of objects", b'[{"displayname": "x"}]', 400, BAD_JSON
    yield "JSON string", b'"{}"', 400, BAD_JSON
    yield "JSON number", b"42", 400, BAD_JSON
    yield "JSON null", b"null", 400, BAD_JSON
    yield "JSON true", b"true", 400, BAD_JSON
    yield "NaN literal", b'{"displayname": NaN}', 400, NOT_JSON
    yield "bare NaN", b"NaN", 400, NOT_JSON
    yield "Infinity literal", b'{"displayname": Infinity}', 400, NOT_JSON
    yield "-Infinity literal", b'{"displayname": -Infinity}', 400, NOT_JSON
    yield "invalid UTF-8", b'{"displayname": "\xff\xfe"}', 400, NOT_JSON
    yield "overlong UTF-8", b'{"displayname": "\xc0\xaf"}', 400, NOT_JSON
    yield "UTF-8 encoded surrogate", b'{"displayname": "\xed\xa0\x80"}', 400, NOT_JSON
    yield "UTF-16 body", '{"displayname": "x"}'.encode("utf-16"), 400, NOT_JSON
    yield "lone surrogate escape", b'{"displayname": "\\ud800"}', 400, NOT_JSON_OR_BAD_JSON
    yield "lone surrogate escape in a key", b'{"\\udfff": 1}', 400, NOT_JSON_OR_BAD_JSON
    depth = 50_000
    yield "deeply nested", b'{"a":' * depth + b"1" + b"}" * depth, 400, NOT_JSON_OR_BAD_JSON
    if not body_optional:
        yield "empty body", b"", 400, NOT_JSON
    padding = b"a" * max_request_size
    yield "larger than max_request_size", b'{"displayname": "' + padding + b'"}', 413, frozenset({"M_TOO_LARGE"})


WRONG_VALUES: dict[str, tuple[tuple[str, Any], ...]] = {
    "string": (("number", 123), ("float", 1.5), ("boolean", True), ("object", {"a": "b"}), ("list", ["x"])),
    "boolean": (("string", "true"), ("number", 1), ("object", {}), ("list", [True])),
    "object": (("string", "x"), ("number", 1), ("boolean", True), ("list", [{}])),
    "strings": (("string", "x"), ("number", 1), ("object", {}), ("list of numbers", [1]), ("list of lists", [["x"]])),
}
# Right type, but text no server can store or hash: NUL (PostgreSQL text refuses it) and a lone surrogate.
UNSTORABLE: dict[str, tuple[tuple[str, Any, frozenset[str]], ...]] = {
    "string": (("NUL character", "a\x00b", WRONG_TYPE), ("lone surrogate", "a\ud800b", NOT_JSON_OR_BAD_JSON)),
    "strings": (("NUL character", ["a\x00b"], WRONG_TYPE), ("lone surrogate", ["a\ud800b"], NOT_JSON_OR_BAD_JSON)),
}


def with_value(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = changed
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value
    return changed


def without(body: dict[str, Any], path: str) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = changed
    for key in parents:
        target = target[key]
    del target[last]
    return changed


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode("ascii")  # ensure_ascii: lone surrogates travel as \\uXXXX escapes


# --- the client walking the API ------------------------------------------------------------------------------------
FEDERATION_PREFIX = "/_matrix/federation/"


def _x_matrix(method: str, url: str, body: bytes | None) -> str:
    try:
        content = json.loads(body) if body else None
    except ValueError:
        content = None  # the server refuses the body before it checks any signature
    return sign_request(REMOTE_KEY, method, url, REMOTE, SERVER_NAME, content).to_header()


@dataclass
class Walker:
    """A registered user with two devices, whose account no bad request may change."""

    server: HomeserverUnderTest
    user_id: str
    token: str
    device_id: str
    spare_device_id: str
    refresh_token: str

    def path(self, route: Route, **overrides: str) -> str:
        values = {**path_values(self), **overrides}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            raw = values.get(name, "unknown")
            return raw if name in overrides else quote(raw, safe=SAFE_PATH_CHARS)

        return re.sub(r"<(?:[^:>]+:)?([^>]+)>", substitute, route.rule)

    def send(self, route: Route, *, body: bytes | None = None, token: str | None = None,
             headers: dict[str, str] | None = None, query: str = "", path: str | None = None) -> TestResponse:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        url = (path or self.path(route)) + (f"?{query}" if query else "")
        if route.rule.startswith(FEDERATION_PREFIX) and "Authorization" not in all_headers:
            # Federation views are walked as a correctly signed remote.test would call them, so the bad input
            # reaches the view instead of stopping at request authentication.
            all_headers["Authorization"] = _x_matrix(route.method, url, body)
        return self.server.client.open(url, method=route.method, data=body, headers=all_headers,
                                       content_type="application/json")

    def token_for(self, route: Route) -> str | None:
        return self.token if endpoint_of(route).auth else None

    def snapshot(self) -> tuple[Any, ...]:
        devices = self.server.get("/_matrix/client/v3/devices", token=self.token)
        assert devices.status_code == 200, devices.json
        profile = self.server.get(f"/_matrix/client/v3/profile/{self.user_id}")
        listed = sorted((device["device_id"], device["display_name"]) for device in devices.json["devices"])
        return listed, profile.status_code, profile.json

    def assert_untouched(self, before: tuple[Any, ...]) -> None:
        """Nothing the walk sent changed the account: same devices and profile, and it still works."""
        assert self.snapshot() == before
        whoami = self.server.get("/_matrix/client/v3/account/whoami", token=self.token)
        assert (whoami.status_code, whoami.json["user_id"]) == (200, self.user_id)
        for username in ("newbie", "adminbot"):  # the usernames the walk's registration bodies ask for
            available = self.server.get(f"/_matrix/client/v3/register/available?username={username}")
            assert available.status_code == 200, f"{username} was registered: {available.json}"
        # Last, as logging in adds a device: the original password still works.
        self.server.login("walker", PASSWORD)


@pytest.fixture
def walker(homeserver: HomeserverUnderTest) -> Walker:
    seed_remote_keys(homeserver)
    registered = homeserver.register("walker", device_id="WALKERLAPTOP", initial_device_display_name="Laptop")
    spare = homeserver.login("walker", device_id="WALKERSPARE", initial_device_display_name="Spare phone",
                             refresh_token=True)
    return Walker(homeserver, registered["user_id"], registered["access_token"], registered["device_id"],
                  spare["device_id"], spare["refresh_token"])


def assert_matrix_error(response: TestResponse, status: int | set[int], errcodes: frozenset[str] | None) -> None:
    """The spec's error contract: a JSON object with string errcode (M_...) and error, the expected 4xx status,
    and the CORS headers browsers need to read it."""
    raw = response.get_data()
    assert response.status_code < 500, f"server error {response.status_code}: {raw[:300]!r}"
    try:
        body = json.loads(raw)
    except ValueError:
        pytest.fail(f"{response.status_code} response is not JSON: {raw[:300]!r}")
    assert isinstance(body, dict), body
    assert isinstance(body.get("errcode"), str) and body["errcode"].startswith("M_"), body
    assert isinstance(body.get("error"), str), body
    statuses = {status} if isinstance(status, int) else status
    assert response.status_code in statuses, f"expected {sorted(statuses)}, got {response.status_code}: {body}"
    if errcodes is not None:
        assert body["errcode"] in errcodes, f"expected {sorted(errcodes)}, got {body}"
    assert response.mimetype == "application/json"
    assert_cors(response)


def assert_cors(response: TestResponse) -> None:
    headers = response.headers
    assert headers.get("Access-Control-Allow-Origin") == "*"
    methods = {item.strip() for item in headers.get("Access-Control-Allow-Methods", "").split(",")}
    assert {"GET", "POST", "PUT", "DELETE", "OPTIONS"} <= methods, methods
    allowed = {item.strip().lower() for item in headers.get("Access-Control-Allow-Headers", "").split(",")}
    assert {"x-requested-with", "content-type", "authorization"} <= allowed, allowed


# --- the walk ------------------------------------------------------------------------------------------------------
def test_every_route_is_described(homeserver: HomeserverUnderTest) -> None:
    routes = routes_of(homeserver.app)
    assert routes == ROUTES, "the app under test registers other routes than the one walked at collection"
    undescribed = sorted({route.endpoint for route in routes} - set(ENDPOINTS))
    assert not undescribed, f"add these endpoints to ENDPOINTS (auth, body fields from the spec): {undescribed}"
    unknown_variables = sorted({name for route in routes for name in route.variables} - PATH_VARIABLES)
    assert not unknown_variables, f"give these path variables a plausible value in path_values: {unknown_variables}"


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_bodies_that_are_not_a_json_object_are_rejected(
    route: Route, walker: Walker, subtests: pytest.Subtests
) -> None:
    endpoint = endpoint_of(route)
    before = walker.snapshot()
    for label, raw, status, errcodes in malformed_bodies(walker.server.config.max_request_size,
                                                          endpoint.body_optional):
        with subtests.test(msg=label):
            response = walker.send(route, body=raw, token=walker.token_for(route))
            assert_matrix_error(response, status, errcodes)
    walker.assert_untouched(before)


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_fields_of_the_wrong_type_or_missing_are_rejected(
    route: Route, walker: Walker, subtests: pytest.Subtests
) -> None:
    """One field at a time is spoiled in an otherwise acceptable body, so an unchecked field would succeed."""
    before = walker.snapshot()
    token = walker.token_for(route)
    for schema in endpoint_of(route).bodies:
        for path, kind in schema.fields.items():
            for label, value in WRONG_VALUES[kind]:
                with subtests.test(msg=f"{path} as {label}"):
                    response = walker.send(route, body=encode(with_value(schema.base(walker), path, value)),
                                           token=token)
                    assert_matrix_error(response, 400, WRONG_TYPE)
            for label, value, errcodes in UNSTORABLE.get(kind, ()):
                with subtests.test(msg=f"{path} with a {label}"):
                    response = walker.send(route, body=encode(with_value(schema.base(walker), path, value)),
                                           token=token)
                    assert_matrix_error(response, 400, errcodes)
        for path in schema.required:
            with subtests.test(msg=f"{path} missing"):
                response = walker.send(route, body=encode(without(schema.base(walker), path)), token=token)
                assert_matrix_error(response, 400, MISSING)
        for invalid in schema.invalid:
            with subtests.test(msg=f"invalid {invalid}"):
                body = with_value(schema.base(walker), invalid.path, invalid.value)
                response = walker.send(route, body=encode(body), token=token)
                assert_matrix_error(response, invalid.status, invalid.errcodes)
    walker.assert_untouched(before)


@pytest.mark.parametrize("route", AUTH_ROUTES, ids=str)
def test_missing_unknown_or_malformed_tokens_are_rejected(
    route: Route, walker: Walker, subtests: pytest.Subtests
) -> None:
    """Sent with a body the endpoint would accept, so only the credentials are wrong."""
    bodies = endpoint_of(route).bodies
    body = encode(bodies[0].base(walker)) if route.method in BODY_METHODS and bodies else None
    token_errors = frozenset({"M_MISSING_TOKEN", "M_UNKNOWN_TOKEN"})
    cases: list[tuple[str, dict[str, str], str, frozenset[str]]] = [
        ("no token", {}, "", frozenset({"M_MISSING_TOKEN"})),
        ("unknown token", {"Authorization": "Bearer syt_d2Fsa2Vy_unknownUnknownUnkno_0abcde"}, "",
         frozenset({"M_UNKNOWN_TOKEN"})),
        ("unknown token in the query", {}, "access_token=syt_unknown", frozenset({"M_UNKNOWN_TOKEN"})),
        ("empty query token", {}, "access_token=", frozenset({"M_MISSING_TOKEN"})),
        ("Bearer without a token", {"Authorization": "Bearer"}, "", token_errors),
        ("Bearer with blank token", {"Authorization": "Bearer   "}, "", token_errors),
        ("token without a scheme", {"Authorization": walker.token}, "", token_errors),
        ("Basic scheme", {"Authorization": "Basic d2Fsa2VyOnBhc3N3b3Jk"}, "", token_errors),
        ("other scheme with the real token", {"Authorization": f"Token {walker.token}"}, "", token_errors),
        ("header and query parameter", {"Authorization": f"Bearer {walker.token}"},
         f"access_token={walker.token}", token_errors),
    ]
    before = walker.snapshot()
    for label, headers, query, errcodes in cases:
        with subtests.test(msg=label):
            response = walker.send(route, body=body, headers=headers, query=query)
            assert_matrix_error(response, 401, errcodes)
    walker.assert_untouched(before)


# Path variables any string is a fine value of, where the rest of the path names something that exists: a
# user's own account data type or room tag, a to-device message type or transaction id, a new push rule's id.
# The walk's "unknown" value is then a legitimate name, not garbage.
FREE_FORM_VARIABLES = {("client.set_account_data", "event_type"), ("client.get_account_data", "event_type"),
                       ("client.set_room_account_data", "event_type"), ("client.get_room_account_data", "event_type"),
                       ("client.delete_room_tag", "tag"), ("client.set_room_tag", "tag"),
                       ("client.send_to_device", "event_type"), ("client.send_to_device", "txn_id"),
                       ("client.set_push_rule", "rule_id")}
GARBAGE_SEGMENTS = {
    "NUL": "%00",
    "invalid UTF-8": "%FF%FE",
    "encoded slash": "a%2Fb",
    "2000 characters": "x" * 2000,
    "unknown": "@nobody:test.local",
}


@pytest.mark.parametrize("route", VARIABLE_ROUTES, ids=str)
def test_garbage_path_variables_are_rejected(route: Route, walker: Walker, subtests: pytest.Subtests) -> None:
    bodies = endpoint_of(route).bodies
    body = encode(bodies[0].base(walker)) if route.method in BODY_METHODS and bodies else None
    before = walker.snapshot()
    for name in route.variables:
        for label, segment in GARBAGE_SEGMENTS.items():
            if label == "unknown" and (route.endpoint, name) in FREE_FORM_VARIABLES:
                continue
            with subtests.test(msg=f"<{name}> {label}"):
                response = walker.send(route, body=body, token=walker.token_for(route),
                                       path=walker.path(route, **{name: segment}))
                assert_matrix_error(response, {400, 403, 404}, None)
    walker.assert_untouched(before)


def test_bad_query_parameters_are_rejected(make_homeserver: Any, subtests: pytest.Subtests) -> None:
    server: HomeserverUnderTest = make_homeserver(registration_requires_token=True)
    cases = [
        ("POST", "/_matrix/client/v3/register?kind=bogus", 400, "M_INVALID_PARAM"),
        ("GET", "/_matrix/client/v3/register/available", 400, "M_MISSING_PARAM"),
        ("GET", "/_matrix/client/v3/register/available?username=", 400, "M_INVALID_USERNAME"),
        ("GET", "/_matrix/client/v3/register/available?username=newbie%0A", 400, "M_INVALID_USERNAME"),
        ("GET", "/_matrix/client/v3/register/available?username=%FF", 400, "M_INVALID_USERNAME"),
        ("GET", "/_matrix/client/v3/register/available?username=a%00b", 400, None),
        ("GET", f"/_matrix/client/v3/register/available?username={'x' * 2000}", 400, None),
        ("GET", "/_matrix/client/v1/register/m.login.registration_token/validity", 400, "M_MISSING_PARAM"),
        ("GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=a%00b", 400, None),
        ("GET", f"/_matrix/client/v1/register/m.login.registration_token/validity?token={'x' * 100}", 400,
         "M_INVALID_PARAM"),
    ]
    for method, url, status, errcode in cases:
        with subtests.test(msg=f"{method} {url[:90]}"):
            response = server.client.open(url, method=method, data=b"{}", content_type="application/json")
            assert_matrix_error(response, status, frozenset({errcode}) if errcode else None)


def _unknown_paths(app: Flask, walker: Walker) -> list[str]:
    """Paths no route matches: fixed ones, and a child segment or another version under every route."""
    candidates = ["/", "/_matrix", "/_matrix/client", "/_matrix/client/v3", "/_matrix/client/v3/nonexistent",
                  "/_matrix/federation/v1/version", "/_matrix/key/v2/server", "/_synapse/admin/v1/nonexistent",
                  "/.well-known/matrix/nonexistent", "/static/app.js", "/favicon.ico"]
    for route in ROUTES:
        path = walker.path(route)
        candidates += [f"{path}/nonexistent", re.sub(r"/(?:r0|v\d+)/", "/v999/", path, count=1)]
    adapter = app.url_map.bind("localhost")
    unknown = []
    for path in dict.fromkeys(candidates):
        try:
            adapter.match(path, method="GET")
        except NotFound:
            unknown.append(path)
        except MethodNotAllowed:
            pass
    return unknown


def test_unknown_paths_and_methods_are_unrecognized(walker: Walker, subtests: pytest.Subtests) -> None:
    app = walker.server.app
    client = walker.server.client
    headers = {"Authorization": f"Bearer {walker.token}"}
    before = walker.snapshot()
    for path in _unknown_paths(app, walker):
        for method in METHODS:
            with subtests.test(msg=f"{method} {path}"):
                response = client.open(path, method=method, data=b"{}", headers=headers,
                                       content_type="application/json")
                assert_matrix_error(response, 404, frozenset({"M_UNRECOGNIZED"}))
    allowed: dict[str, set[str]] = {}
    for route in ROUTES:
        allowed.setdefault(route.rule, set()).add(route.method)
    for rule, methods in allowed.items():
        path = walker.path(next(route for route in ROUTES if route.rule == rule))
        for method in sorted(set(METHODS) - methods):
            with subtests.test(msg=f"{method} {rule}"):
                response = client.open(path, method=method, data=b"{}", headers=headers,
                                       content_type="application/json")
                assert_matrix_error(response, 405, frozenset({"M_UNRECOGNIZED"}))
    walker.assert_untouched(before)


def test_options_on_any_path_is_answered_with_cors_headers(walker: Walker, subtests: pytest.Subtests) -> None:
    """CORS pre-flights carry no credentials, so they succeed everywhere, even where a token is required."""
    paths = dict.fromkeys([walker.path(route) for route in ROUTES] + _unknown_paths(walker.server.app, walker))
    for path in paths:
        with subtests.test(msg=f"OPTIONS {path}"):
            response = walker.server.client.open(path, method="OPTIONS", headers={
                "Origin": "https://app.example.org", "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type"})
            assert 200 <= response.status_code < 300, (response.status_code, response.get_data()[:200])
            assert_cors(response)
