"""Bad input, clear error (DESIGN.md guarantee 6), proved by walking every endpoint the app registers.

The routes come from the application's own URL map, so an endpoint added later is walked too. What the walk
cannot guess, the spec's facts about each endpoint (does it need a token, which body fields of which types), lives
in ``ENDPOINTS``; ``test_every_route_is_described`` fails until a new endpoint is entered there.

Every bad request must be answered with the spec's error contract (Client-Server API, "Standard error response"):
a JSON object with string ``errcode`` (``M_...``) and ``error``, a 4xx status and never a 5xx, the CORS headers of
"Web Browser Clients" on the error too; and it must change nothing: afterwards the user still has the same devices
and profile, their token still works, and they can still log in with their original password.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.test import TestResponse

from config import parse_config
from tests.homeserver import PASSWORD, HomeserverUnderTest, base_config_data
from web.admin.register import expected_mac

SHARED_SECRET = "test-shared-secret"
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


_VERSION_SUFFIX = re.compile(r"_(?:r0|v\d+)$")


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


# --- what the spec says about each endpoint ------------------------------------------------------------------------
@dataclass(frozen=True)
class Invalid:
    """A value of the right type that the spec (or a documented limit) still refuses."""

    path: str
    value: Any
    status: int
    errcodes: frozenset[str] | None = None  # None: any M_ errcode

    def __str__(self) -> str:
        shown = repr(self.value)
        return f"{self.path}={shown[:40]}{'...' if len(shown) > 40 else ''}"


@dataclass(frozen=True)
class BodySchema:
    """One well-formed body, and what the spec says of its fields (dotted paths into nested objects)."""

    base: Callable[[Walker], dict[str, Any]]  # a body the endpoint would accept (fresh each call)
    fields: Mapping[str, str]  # path -> "string" | "boolean" | "object" | "strings"
    required: tuple[str, ...] = ()  # leaving one out is M_MISSING_PARAM
    invalid: tuple[Invalid, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    auth: bool  # needs an access token
    bodies: tuple[BodySchema, ...] = ()  # empty: the endpoint reads no body
    body_optional: bool = False  # an empty body is allowed (it starts user-interactive auth)


def _password_uia(walker: Walker) -> dict[str, Any]:
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": walker.user_id},
            "password": PASSWORD}


# definitions/auth_data.yaml plus the m.login.password stage's own keys (spec: "Password-based").
PASSWORD_UIA_FIELDS = {
    "auth": "object", "auth.type": "string", "auth.session": "string", "auth.identifier": "object",
    "auth.identifier.type": "string", "auth.identifier.user": "string", "auth.password": "string",
}
PASSWORD_UIA_REQUIRED = ("auth.identifier", "auth.identifier.type", "auth.identifier.user", "auth.password")
FORBIDDEN = frozenset({"M_FORBIDDEN"})
PASSWORD_UIA_INVALID = (
    Invalid("auth.password", "not the password", 401, FORBIDDEN),
    Invalid("auth.identifier.user", "@somebody-else:test.local", 401, FORBIDDEN),
    Invalid("auth.identifier.type", "m.id.bogus", 400),
    Invalid("auth.type", "m.login.bogus", 400),
    Invalid("auth.session", "no-such-session", 400),
)
INVALID_USERNAME = frozenset({"M_INVALID_USERNAME"})


def _register_body(walker: Walker) -> dict[str, Any]:
    return {"username": "newbie", "password": "newbie's password", "device_id": "NEWBIEPHONE",
            "initial_device_display_name": "Newbie's phone", "inhibit_login": False, "refresh_token": False,
            "auth": {"type": "m.login.dummy"}}


def _admin_register_body(walker: Walker) -> dict[str, Any]:
    nonce = walker.server.get("/_synapse/admin/v1/register").json["nonce"]  # type: ignore[index]
    mac = expected_mac(SHARED_SECRET, nonce, "adminbot", "bot password", False, "bot")
    return {"nonce": nonce, "username": "adminbot", "password": "bot password", "admin": False,
            "user_type": "bot", "displayname": "Bot", "mac": mac}


ENDPOINTS: dict[str, Endpoint] = {
    "client.get_versions": Endpoint(auth=False),
    "client.get_capabilities": Endpoint(auth=True),
    "client.register": Endpoint(auth=False, bodies=(BodySchema(
        _register_body,
        {"username": "string", "password": "string", "device_id": "string", "initial_device_display_name": "string",
         "inhibit_login": "boolean", "refresh_token": "boolean", "auth": "object", "auth.type": "string",
         "auth.session": "string"},
        required=("password",),
        invalid=(Invalid("username", "", 400, INVALID_USERNAME),
                 Invalid("username", "has space", 400, INVALID_USERNAME),
                 Invalid("username", "newbie\n", 400, INVALID_USERNAME),
                 Invalid("username", "12345", 400, INVALID_USERNAME),
                 Invalid("username", "x" * 300, 400),
                 Invalid("username", "WALKER", 400, frozenset({"M_USER_IN_USE"})),
                 Invalid("password", "x" * 600, 400),
                 Invalid("auth.type", "m.login.bogus", 400),
                 Invalid("auth.session", "no-such-session", 400)),
    ),)),
    "client.get_username_available": Endpoint(auth=False),
    "client.get_registration_token_validity": Endpoint(auth=False),
    "client.get_login_flows": Endpoint(auth=False),
    # login.yaml also names token, medium and address; an m.login.password login does not read them.
    "client.login": Endpoint(auth=False, bodies=(
        BodySchema(
            lambda walker: {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "walker"},
                            "password": PASSWORD, "device_id": "LOGINPHONE",
                            "initial_device_display_name": "Login phone", "refresh_token": False},
            {"type": "string", "identifier": "object", "identifier.type": "string", "identifier.user": "string",
             "password": "string", "device_id": "string", "initial_device_display_name": "string",
             "refresh_token": "boolean"},
            required=("type", "identifier", "identifier.type", "identifier.user", "password"),
            invalid=(Invalid("type", "m.login.bogus", 400),
                     Invalid("identifier.type", "m.id.bogus", 400),
                     Invalid("identifier.user", "@walker:elsewhere.example", 403, FORBIDDEN),
                     Invalid("password", "not the password", 403, FORBIDDEN),
                     Invalid("device_id", "D" * 300, 400)),
        ),
        # The deprecated top-level "user" is read only when there is no "identifier".
        BodySchema(lambda walker: {"type": "m.login.password", "user": "walker", "password": PASSWORD},
                   {"user": "string"}),
    )),
    "client.refresh": Endpoint(auth=False, bodies=(BodySchema(
        lambda walker: {"refresh_token": walker.refresh_token}, {"refresh_token": "string"},
        required=("refresh_token",),
        invalid=(Invalid("refresh_token", "syr_unknown", 401, frozenset({"M_UNKNOWN_TOKEN"})),),
    ),)),
    "client.logout": Endpoint(auth=True),
    "client.logout_all": Endpoint(auth=True),
    "client.get_whoami": Endpoint(auth=True),
    "client.change_password": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"new_password": "a brand new password", "logout_devices": False,
                        "auth": _password_uia(walker)},
        {"new_password": "string", "logout_devices": "boolean", **PASSWORD_UIA_FIELDS},
        required=("new_password", *PASSWORD_UIA_REQUIRED),
        invalid=(Invalid("new_password", "x" * 600, 400), *PASSWORD_UIA_INVALID),
    ),)),
    "client.deactivate_account": Endpoint(auth=True, body_optional=True, bodies=(BodySchema(
        lambda walker: {"auth": _password_uia(walker), "erase": False, "id_server": "id.example.org"},
        {"erase": "boolean", "id_server": "string", **PASSWORD_UIA_FIELDS},
        required=PASSWORD_UIA_REQUIRED, invalid=PASSWORD_UIA_INVALID,
    ),)),
    "client.list_devices": Endpoint(auth=True),
    "client.get_device": Endpoint(auth=True),
    "client.update_device": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"display_name": "Renamed"}, {"display_name": "string"},
        invalid=(Invalid("display_name", "x" * 101, 400),),
    ),)),
    "client.delete_device": Endpoint(auth=True, body_optional=True, bodies=(BodySchema(
        lambda walker: {"auth": _password_uia(walker)}, PASSWORD_UIA_FIELDS,
        required=PASSWORD_UIA_REQUIRED, invalid=PASSWORD_UIA_INVALID,
    ),)),
    "client.delete_devices": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"devices": [walker.spare_device_id], "auth": _password_uia(walker)},
        {"devices": "strings", **PASSWORD_UIA_FIELDS},
        required=("devices", *PASSWORD_UIA_REQUIRED),
        invalid=(Invalid("devices", ["D" * 256], 400), *PASSWORD_UIA_INVALID),
    ),)),
    "client.get_profile": Endpoint(auth=False),
    "client.get_profile_field": Endpoint(auth=False),
    # <field> is 'displayname' in the walk: its body key is the same name.
    "client.set_profile_field": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"displayname": "Renamed Walker"}, {"displayname": "string"},
        required=("displayname",), invalid=(Invalid("displayname", "x" * 257, 400),),
    ),)),
    # Rooms: the walk's room id names no room, so nothing it sends can create state; bodies are still checked
    # before the room is looked up.
    "client.create_room": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"name": "Walk", "preset": "private_chat"},
        {"visibility": "string", "name": "string", "topic": "string", "invite": "strings", "room_version": "string",
         "creation_content": "object", "preset": "string", "is_direct": "boolean",
         "power_level_content_override": "object", "room_alias_name": "string"},
        invalid=(Invalid("room_version", "999", 400, frozenset({"M_UNSUPPORTED_ROOM_VERSION"})),
                 Invalid("preset", "bogus", 400), Invalid("visibility", "bogus", 400),
                 Invalid("invite", ["not-a-user-id"], 400, frozenset({"M_BAD_JSON"})),
                 Invalid("initial_state", [{"type": "m.room.topic"}], 400, frozenset({"M_MISSING_PARAM"})),
                 Invalid("room_alias_name", "has space", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("room_alias_name", "a:b", 400, frozenset({"M_INVALID_PARAM"}))),
    ),)),
    "client.send_event": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"msgtype": "m.text", "body": "hello"}, {}),)),
    "client.set_state": Endpoint(auth=True, bodies=(BodySchema(lambda walker: {"topic": "walk"}, {}),)),
    "client.get_state_event": Endpoint(auth=True),
    "client.get_state": Endpoint(auth=True),
    "client.get_event": Endpoint(auth=True),
    "client.get_joined_rooms": Endpoint(auth=True),
    "client.join_room": Endpoint(auth=True, body_optional=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking"}, {"reason": "string"}),)),
    "client.knock_room": Endpoint(auth=True, body_optional=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking"}, {"reason": "string"}),)),
    "client.leave_room": Endpoint(auth=True, body_optional=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking"}, {"reason": "string"}),)),
    **{f"client.{action}_user": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"user_id": "@someone:test.local", "reason": "walking"},
        {"user_id": "string", "reason": "string"}, required=("user_id",),
        invalid=(Invalid("user_id", "not-a-user-id", 400, frozenset({"M_BAD_JSON"})),)),))
       for action in ("invite", "kick", "ban", "unban")},
    "client.get_members": Endpoint(auth=True),
    # redaction.yaml: the body is required; its one field is the optional reason.
    "client.redact_event": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking"}, {"reason": "string"}),)),
    "client.get_joined_members": Endpoint(auth=True),
    "client.get_room_events": Endpoint(auth=True),
    "client.get_event_context": Endpoint(auth=True),
    "client.get_event_by_timestamp": Endpoint(auth=True),
    "client.get_relating_events": Endpoint(auth=True),
    "client.get_thread_roots": Endpoint(auth=True),
    "keys.get_server_key": Endpoint(auth=False),
    "keys.get_server_key_by_id": Endpoint(auth=False),
    # Aliases and the published room directory: the walk's alias and room id name nothing, so nothing changes.
    "client.set_room_alias": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"room_id": "!nowhere:test.local"}, {"room_id": "string"}, required=("room_id",),
        invalid=(Invalid("room_id", "not-a-room-id", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("room_id", "!nowhere:test.local", 404, frozenset({"M_NOT_FOUND"})))),)),
    "client.get_room_id_by_alias": Endpoint(auth=False),
    "client.delete_room_alias": Endpoint(auth=True),
    "client.get_local_aliases": Endpoint(auth=True),
    "client.get_room_visibility_on_directory": Endpoint(auth=False),
    "client.set_room_visibility_on_directory": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"visibility": "public"}, {"visibility": "string"},
        invalid=(Invalid("visibility", "bogus", 400, frozenset({"M_INVALID_PARAM"})),)),)),
    "client.get_public_rooms": Endpoint(auth=False),
    "client.query_public_rooms": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"limit": 10, "filter": {"generic_search_term": "walk"}, "include_all_networks": False},
        {"since": "string", "filter": "object", "filter.generic_search_term": "string",
         "include_all_networks": "boolean", "third_party_instance_id": "string"},
        invalid=(Invalid("since", "not-a-token", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("limit", -1, 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("limit", "ten", 400, frozenset({"M_BAD_JSON"})),
                 Invalid("filter.room_types", "m.space", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("filter.room_types", [1], 400, frozenset({"M_INVALID_PARAM"})))),)),
    "client.get_space_hierarchy": Endpoint(auth=True),
    # Upgrades, reports and search: bodies are checked before the walk's room and event (which name nothing).
    "client.upgrade_room": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"new_version": "11", "additional_creators": ["@someone:test.local"]},
        {"new_version": "string", "additional_creators": "strings"}, required=("new_version",),
        invalid=(Invalid("new_version", "999", 400, frozenset({"M_UNSUPPORTED_ROOM_VERSION"})),
                 Invalid("additional_creators", ["not-a-user-id"], 400, frozenset({"M_BAD_JSON"})),
                 Invalid("new_version", "11", 404, frozenset({"M_NOT_FOUND"})))),)),
    "client.report_event": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking", "score": -50}, {"reason": "string"},
        invalid=(Invalid("score", 1, 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("score", -101, 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("score", "-50", 400, frozenset({"M_BAD_JSON"})),
                 Invalid("reason", "walking", 404, frozenset({"M_NOT_FOUND"})))),)),
    "client.report_room": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"reason": "walking"}, {"reason": "string"}, required=("reason",),
        invalid=(Invalid("reason", "walking", 404, frozenset({"M_NOT_FOUND"})),)),)),
    "client.search": Endpoint(auth=True, bodies=(BodySchema(
        lambda walker: {"search_categories": {"room_events": {
            "search_term": "walk", "keys": ["content.body"], "order_by": "rank", "filter": {"limit": 5},
            "event_context": {"before_limit": 1, "after_limit": 1, "include_profile": True},
            "include_state": False, "groupings": {"group_by": [{"key": "room_id"}]}}}},
        {"search_categories": "object", "search_categories.room_events": "object",
         "search_categories.room_events.search_term": "string", "search_categories.room_events.keys": "strings",
         "search_categories.room_events.order_by": "string", "search_categories.room_events.filter": "object",
         "search_categories.room_events.event_context": "object",
         "search_categories.room_events.event_context.include_profile": "boolean",
         "search_categories.room_events.include_state": "boolean",
         "search_categories.room_events.groupings": "object"},
        required=("search_categories", "search_categories.room_events.search_term"),
        invalid=(Invalid("search_categories.room_events.order_by", "bogus", 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("search_categories.room_events.keys", ["content.url"], 400, frozenset({"M_INVALID_PARAM"})),
                 Invalid("search_categories.room_events.event_context.before_limit", -1, 400,
                         frozenset({"M_INVALID_PARAM"})),
                 Invalid("search_categories.room_events.filter.limit", 0, 400, frozenset({"M_BAD_JSON"})),
                 Invalid("search_categories.room_events.groupings.group_by", [{"key": "bogus"}], 400,
                         frozenset({"M_INVALID_PARAM"})))),)),
    "wellknown.get_wellknown_client": Endpoint(auth=False),
    "wellknown.get_wellknown_server": Endpoint(auth=False),
    "admin.get_nonce": Endpoint(auth=False),
    "admin.register_with_shared_secret": Endpoint(auth=False, bodies=(BodySchema(
        _admin_register_body,
        {"nonce": "string", "username": "string", "password": "string", "admin": "boolean", "user_type": "string",
         "displayname": "string", "mac": "string"},
        required=("nonce", "username", "password", "mac"),
        invalid=(Invalid("user_type", "superuser", 400),
                 Invalid("username", "Bad Name", 400, INVALID_USERNAME),
                 Invalid("mac", "0" * 40, 403, FORBIDDEN)),
    ),)),
}
# An endpoint not described yet is still walked, assuming the commonest shape: a token and a JSON object body.
UNDESCRIBED = Endpoint(auth=True, bodies=(BodySchema(lambda walker: {}, {}),))


def endpoint_of(route: Route) -> Endpoint:
    return ENDPOINTS.get(route.endpoint, UNDESCRIBED)


def path_values(walker: Walker) -> dict[str, str]:
    """Plausible values for path variables: the walker's own user id, their spare device, a real field."""
    return {"user_id": walker.user_id, "device_id": walker.spare_device_id, "field": "displayname",
            "room_id": "!nowhere:test.local", "event_type": "m.room.message", "txn_id": "walk1", "state_key": "",
            "event_id": "$nowhere", "rel_type": "m.annotation", "key_id": "ed25519:walk",
            "room_alias": "#nowhere:test.local"}


PATH_VARIABLES = {"user_id", "device_id", "field", "room_id", "event_type", "txn_id", "state_key", "event_id",
                  "rel_type", "key_id", "room_alias"}

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
