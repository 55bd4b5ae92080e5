"""``ganglion routes --nginx``: a reverse-proxy config for the web processes of a deployment.

Correctness needs no endpoint list: any web process serves any endpoint, so everything not named below goes to
one least-connections pool. The named locations only add the efficiency affinities of shared/seeds/workers.md
("Load balancing"), each a consistent hash so adding a web process moves few keys:

- ``/sync``, ``/events`` and simplified sliding sync (MSC4186) by user: the hash of the access token
  (``Authorization: Bearer`` or ``access_token``), so one user's long-polls meet warm caches in one process;
- initial syncs (no ``since``) and ``/initialSync`` on their own pool, so a heavy first sync cannot slow the
  incremental syncs of everyone else;
- inbound federation ``/send`` by the origin in its ``X-Matrix`` header (the source address when absent), so one
  server's transactions arrive in order at one process;
- ``/messages`` by room id, so a room's pagination reuses one process's caches.

Media is the one exception where routing is about correctness: with ``enable_media_repo: false`` only the
``synapse.app.media_repository`` workers serve it, so ``/_matrix/media``, ``/_matrix/client/v1/media``, the
federation media paths and the media admin API go to their pool (to any web process when there is none), with
the body limit raised to ``max_upload_size`` and uploads streamed rather than buffered by nginx.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from config.workers import MEDIA_REPOSITORY

if TYPE_CHECKING:
    from config.homeserver import HomeserverConfig

LONG_POLL_TIMEOUT_SECONDS = 180
"""Longer than any /sync timeout a client may ask for plus the server's answer time."""


@dataclass(frozen=True)
class NginxSite:
    server_name: str
    listen: str
    web_servers: tuple[str, ...]
    initial_sync_servers: int
    max_body_bytes: int
    media_servers: tuple[str, ...] = ()
    """The media repository's web processes; empty when every web process serves media."""
    max_upload_bytes: int = 50 * 1024 * 1024

    def pools(self) -> dict[str, tuple[str, ...]]:
        """Upstream name -> servers. The initial-sync pool is the last ``initial_sync_servers`` web processes;
        incremental syncs go to the others (all of them when there is only one)."""
        servers = self.web_servers
        split = min(max(self.initial_sync_servers, 0), len(servers) - 1)
        initial = servers[len(servers) - split:] if split else servers
        incremental = servers[: len(servers) - split]
        return {
            "ganglion_any": servers,
            "ganglion_sync": incremental,
            "ganglion_initial_sync": initial,
            "ganglion_federation_send": servers,
            "ganglion_rooms": servers,
            "ganglion_media": self.media_servers or servers,
        }


_BALANCING = {
    "ganglion_any": "least_conn;",
    "ganglion_sync": "hash $ganglion_access_token consistent;",
    "ganglion_initial_sync": "hash $ganglion_access_token consistent;",
    "ganglion_federation_send": "hash $ganglion_origin consistent;",
    "ganglion_rooms": "hash $ganglion_room consistent;",
    "ganglion_media": "least_conn;",
}

_MEDIA_LOCATIONS = (
    "~ ^/_matrix/media/",
    "~ ^/_matrix/client/v1/media/",
    "~ ^/_matrix/federation/v1/media/",
    "~ ^/_synapse/admin/v1/(purge_media_cache|media/|quarantine_media/|room/[^/]+/media|users?/[^/]+/media)",
)

_LOCATIONS = (
    ("~ ^/_matrix/client/(r0|v3)/sync$", "$ganglion_sync_pool"),
    ("~ ^/_matrix/client/(api/v1|r0|v3)/events$", "ganglion_sync"),
    ("~ ^/_matrix/client/unstable/org\\.matrix\\.simplified_msc3575/sync$", "ganglion_sync"),
    ("~ ^/_matrix/client/(api/v1|r0|v3)/initialSync$", "ganglion_initial_sync"),
    ("~ ^/_matrix/client/(api/v1|r0|v3)/rooms/[^/]+/initialSync$", "ganglion_initial_sync"),
    ("~ ^/_matrix/federation/v1/send/", "ganglion_federation_send"),
    ("~ ^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/(?<ganglion_room>[^/]+)/messages$", "ganglion_rooms"),
    ("/", "ganglion_any"),
)

_MAPS = """\
# The access token, from the Authorization header or else the access_token query parameter.
map $http_authorization $ganglion_access_token {
    default $arg_access_token;
    "~*^Bearer\\s+(?<token>\\S+)$" $token;
}

# Syncs without `since` are initial syncs.
map $arg_since $ganglion_sync_pool {
    default ganglion_sync;
    "" ganglion_initial_sync;
}

# The sending server of a federation request (X-Matrix origin=...), else its address.
map $http_authorization $ganglion_origin {
    default $remote_addr;
    "~*origin=\\"?(?<origin>[^\\",\\s]+)" $origin;
}
"""


def render_nginx(site: NginxSite) -> str:
    """The nginx ``http``-context snippet (maps, upstreams, one server block) for ``site``."""
    if not site.web_servers:
        raise ValueError("no web servers to route to")
    lines = [
        f"# Written by `ganglion routes --nginx` for {site.server_name}: include it in nginx's http block.",
        "# Any web process serves any endpoint; the named locations only add cache affinity.",
        "",
        _MAPS,
    ]
    for name, servers in site.pools().items():
        lines.append(f"upstream {name} {{")
        lines.append(f"    {_BALANCING[name]}")
        lines.extend(f"    server {server};" for server in servers)
        lines.append("    keepalive 16;")
        lines.append("}")
        lines.append("")
    lines += [
        "server {",
        f"    listen {site.listen};",
        f"    server_name {site.server_name};",
        f"    client_max_body_size {site.max_body_bytes};",
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Forwarded-For $remote_addr;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        f"    proxy_read_timeout {LONG_POLL_TIMEOUT_SECONDS}s;",
        "    proxy_buffering off;",
        "",
    ]
    for pattern in _MEDIA_LOCATIONS:
        lines += [f"    location {pattern} {{", f"        client_max_body_size {site.max_upload_bytes};",
                  "        proxy_request_buffering off;", "        proxy_pass http://ganglion_media;", "    }"]
    for pattern, upstream in _LOCATIONS:
        lines += [f"    location {pattern} {{", f"        proxy_pass http://{upstream};", "    }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


_WILDCARDS = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}


def web_server_addresses(binds: Sequence[str]) -> tuple[str, ...]:
    """nginx ``server`` addresses for gunicorn binds (``host:port``, ``[v6]:port``, ``unix:path``); a wildcard
    bind is reached on loopback, where the proxy usually runs."""
    found = []
    for bind in binds:
        if not bind.startswith("unix:"):
            host, _, port = bind.rpartition(":")
            bind = f"{_WILDCARDS.get(host, host)}:{port}"
        found.append(bind)
    return tuple(dict.fromkeys(found))


def media_repository_binds(web_configs: Sequence[HomeserverConfig]) -> list[str]:
    """The http binds of the ``synapse.app.media_repository`` workers among a deployment's web processes."""
    return [address for web in web_configs if web.workers.app == MEDIA_REPOSITORY
            for listener in web.http_listeners for address in listener.bind]
