"""Which Client-Server API versions a server may advertise at ``GET /_matrix/client/versions``: per spec version, the
endpoints that version introduced and requires, so the advertised list is computed from the endpoints actually
served rather than typed by hand.

A client that sees a version in ``/versions`` uses that version's endpoints without asking again (matrix-js-sdk and
Element switch to authenticated media on seeing v1.11), so advertising a version whose new endpoints are missing
breaks clients; advertising fewer only hides features. A version is advertised when every endpoint it and every
earlier version of its line require is served.

Sources: the spec's changelog ("New Endpoints" of each release, ``content/changelog/v1.*.md`` in matrix-spec) and
the ``x-addedInMatrixVersion`` marks of ``data/api/client-server``. Endpoints the spec makes optional are left out:
those behind a capability the server may switch off (``m.get_login_token``, ``m.account_moderation``), behind a
login flow it may not offer (SSO redirects), discovery files another web server may serve (``/.well-known/matrix/
support``, ``/.well-known/matrix/policy_server``) and OAuth 2.0 metadata, which a server without OAuth answers 404.

The r0 releases predate the changelog's per-endpoint lists; they are one entry: the endpoints of r0.6.1 that the
core API and the modules Ganglion implements define (the v1.1 entry repeats them under ``v3``). The content
repository (``/_matrix/media``) of r0 is counted as a module; the versions that added media endpoints (v1.7
asynchronous uploads, v1.11 authenticated media) require theirs, since clients use them once the version is
advertised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Endpoint = tuple[str, str]
"""(HTTP method, path in the spec's form: ``/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}``)."""

_R0_CORE: tuple[tuple[str, str], ...] = (
    ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("POST", "/logout/all"),
    ("POST", "/register"), ("GET", "/register/available"), ("POST", "/account/password"),
    ("POST", "/account/deactivate"), ("GET", "/account/whoami"), ("GET", "/capabilities"),
    ("GET", "/sync"), ("POST", "/user/{userId}/filter"), ("GET", "/user/{userId}/filter/{filterId}"),
    ("GET", "/events"), ("GET", "/initialSync"), ("GET", "/rooms/{roomId}/initialSync"),
    ("POST", "/createRoom"), ("POST", "/join/{roomIdOrAlias}"), ("POST", "/rooms/{roomId}/join"),
    ("POST", "/rooms/{roomId}/leave"), ("POST", "/rooms/{roomId}/forget"), ("POST", "/rooms/{roomId}/invite"),
    ("POST", "/rooms/{roomId}/kick"), ("POST", "/rooms/{roomId}/ban"), ("POST", "/rooms/{roomId}/unban"),
    ("GET", "/joined_rooms"), ("PUT", "/rooms/{roomId}/send/{eventType}/{txnId}"),
    ("GET", "/rooms/{roomId}/state"), ("GET", "/rooms/{roomId}/state/{eventType}/{stateKey}"),
    ("PUT", "/rooms/{roomId}/state/{eventType}/{stateKey}"), ("GET", "/rooms/{roomId}/event/{eventId}"),
    ("GET", "/rooms/{roomId}/members"), ("GET", "/rooms/{roomId}/joined_members"),
    ("GET", "/rooms/{roomId}/messages"), ("GET", "/rooms/{roomId}/context/{eventId}"),
    ("PUT", "/rooms/{roomId}/redact/{eventId}/{txnId}"), ("POST", "/rooms/{roomId}/upgrade"),
    ("POST", "/rooms/{roomId}/report/{eventId}"), ("GET", "/rooms/{roomId}/aliases"),
    ("PUT", "/rooms/{roomId}/typing/{userId}"), ("POST", "/rooms/{roomId}/receipt/{receiptType}/{eventId}"),
    ("POST", "/rooms/{roomId}/read_markers"),
    ("GET", "/profile/{userId}"), ("GET", "/profile/{userId}/displayname"),
    ("PUT", "/profile/{userId}/displayname"), ("GET", "/profile/{userId}/avatar_url"),
    ("PUT", "/profile/{userId}/avatar_url"),
    ("GET", "/presence/{userId}/status"), ("PUT", "/presence/{userId}/status"),
    ("PUT", "/sendToDevice/{eventType}/{txnId}"),
    ("GET", "/devices"), ("GET", "/devices/{deviceId}"), ("PUT", "/devices/{deviceId}"),
    ("DELETE", "/devices/{deviceId}"), ("POST", "/delete_devices"),
    ("POST", "/keys/upload"), ("POST", "/keys/query"), ("POST", "/keys/claim"), ("GET", "/keys/changes"),
    ("GET", "/pushrules/"), ("GET", "/pushrules/global/"),
    ("GET", "/user/{userId}/account_data/{type}"), ("PUT", "/user/{userId}/account_data/{type}"),
    ("GET", "/user/{userId}/rooms/{roomId}/account_data/{type}"),
    ("PUT", "/user/{userId}/rooms/{roomId}/account_data/{type}"),
    ("GET", "/user/{userId}/rooms/{roomId}/tags"), ("PUT", "/user/{userId}/rooms/{roomId}/tags/{tag}"),
    ("DELETE", "/user/{userId}/rooms/{roomId}/tags/{tag}"),
    ("GET", "/directory/room/{roomAlias}"), ("PUT", "/directory/room/{roomAlias}"),
    ("DELETE", "/directory/room/{roomAlias}"), ("GET", "/directory/list/room/{roomId}"),
    ("PUT", "/directory/list/room/{roomId}"), ("GET", "/publicRooms"), ("POST", "/publicRooms"),
    ("POST", "/user_directory/search"), ("POST", "/search"),
)


def _client(prefix: str, endpoints: Iterable[tuple[str, str]]) -> tuple[Endpoint, ...]:
    return tuple((method, f"/_matrix/client/{prefix}{path}") for method, path in endpoints)


@dataclass(frozen=True)
class SpecVersion:
    name: str
    introduced: tuple[Endpoint, ...]
    """The required endpoints this version added (or, for the first of a line, the line's base)."""


_KEY_BACKUP = _client("v3", (
    ("POST", "/room_keys/version"), ("GET", "/room_keys/version"), ("GET", "/room_keys/version/{version}"),
    ("PUT", "/room_keys/version/{version}"), ("DELETE", "/room_keys/version/{version}"),
    *((method, path) for path in ("/room_keys/keys", "/room_keys/keys/{roomId}",
                                  "/room_keys/keys/{roomId}/{sessionId}")
      for method in ("GET", "PUT", "DELETE")),
))

R0_VERSIONS = ("r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1")

SPEC_VERSIONS: tuple[SpecVersion, ...] = (
    *(SpecVersion(name, _client("r0", _R0_CORE) if name == "r0.0.1" else ()) for name in R0_VERSIONS),
    SpecVersion("v1.1", (
        *_client("v3", _R0_CORE), *_KEY_BACKUP,
        *_client("v3", (("POST", "/keys/device_signing/upload"), ("POST", "/keys/signatures/upload"),
                        ("POST", "/knock/{roomIdOrAlias}"))),
    )),
    SpecVersion("v1.2", _client("v1", (("GET", "/rooms/{roomId}/hierarchy"),
                                       ("GET", "/register/m.login.registration_token/validity")))),
    SpecVersion("v1.3", _client("v3", (("POST", "/refresh"),))),
    SpecVersion("v1.4", _client("v1", (("GET", "/rooms/{roomId}/threads"),))),
    SpecVersion("v1.5", ()),
    SpecVersion("v1.6", _client("v1", (("GET", "/rooms/{roomId}/timestamp_to_event"),))),
    SpecVersion("v1.7", (
        ("POST", "/_matrix/media/v1/create"), ("PUT", "/_matrix/media/v3/upload/{serverName}/{mediaId}"),
        ("POST", "/_matrix/client/v1/appservice/{appserviceId}/ping"),
    )),
    SpecVersion("v1.8", ()),
    SpecVersion("v1.9", ()),
    SpecVersion("v1.10", ()),
    SpecVersion("v1.11", _client("v1", (
        ("GET", "/media/config"), ("GET", "/media/download/{serverName}/{mediaId}"),
        ("GET", "/media/download/{serverName}/{mediaId}/{fileName}"), ("GET", "/media/preview_url"),
        ("GET", "/media/thumbnail/{serverName}/{mediaId}"),
    ))),
    SpecVersion("v1.12", ()),
    SpecVersion("v1.13", _client("v3", (("POST", "/rooms/{roomId}/report"),))),
    SpecVersion("v1.14", _client("v3", (("POST", "/users/{userId}/report"),))),
    SpecVersion("v1.15", _client("v1", (("GET", "/room_summary/{roomIdOrAlias}"),))),
    SpecVersion("v1.16", _client("v3", (("GET", "/profile/{userId}/{keyName}"),
                                        ("PUT", "/profile/{userId}/{keyName}"),
                                        ("DELETE", "/profile/{userId}/{keyName}")))),
    SpecVersion("v1.17", ()),
    SpecVersion("v1.18", ()),
    SpecVersion("v1.19", _client("v1", (("GET", "/mutual_rooms"),))),
)

_VARIABLE = re.compile(r"\{[^}]*\}")

Serves = Callable[[str, str], bool]
"""Whether the server routes a request (method, concrete path) to an endpoint."""


def example_path(path: str) -> str:
    """The spec path with each variable segment filled in, as a request would carry it."""
    return _VARIABLE.sub("x", path)


def missing_endpoints(version: SpecVersion, serves: Serves) -> list[Endpoint]:
    """The endpoints ``version`` introduced that the server does not route."""
    return [(method, path) for method, path in version.introduced if not serves(method, example_path(path))]


def advertised_versions(serves: Serves) -> tuple[str, ...]:
    """Each line (r0, v1) up to its first version with a missing endpoint."""
    advertised: list[str] = []
    for line in ("r0.", "v1."):
        for version in SPEC_VERSIONS:
            if not version.name.startswith(line):
                continue
            if missing_endpoints(version, serves):
                break
            advertised.append(version.name)
    return tuple(advertised)
