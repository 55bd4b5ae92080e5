"""Where a server name is served: Server-Server API, "Resolving server names".

An IP literal or a name with an explicit port is used as is. Otherwise ``https://<name>/.well-known/matrix/server``
may delegate to another host (cached: a day when found, an hour when not); a delegated name without a port, or a
name without delegation, is looked up in SRV ``_matrix-fed._tcp`` then the deprecated ``_matrix._tcp``, and
falls back to port 8448. The ``Host`` header and TLS server name are the (delegated) server name, never the SRV
target. ``federation_test_hosts`` short-circuits all of this in tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from config.federation import FederationConfig
from federation_client.errors import FederationError
from federation_client.transport import Transport
from protocol.clock import Clock
from protocol.federation.server_names import DEFAULT_FEDERATION_PORT, ServerName, parse_server_name

WELL_KNOWN_CACHE_MS = 24 * 60 * 60 * 1000
WELL_KNOWN_FAILURE_CACHE_MS = 60 * 60 * 1000
MAX_WELL_KNOWN_BYTES = 50 * 1024
MAX_REDIRECTS = 10
SrvLookup = Callable[[str], list[tuple[str, int]]]
"""SRV name -> (target, port) records in the order to try them; empty when there are none."""


@dataclass(frozen=True)
class Destination:
    """Where to send requests for a server: ``base_url`` to connect to, ``host_header`` to name it by."""

    base_url: str
    host_header: str


def dns_srv_lookup(name: str) -> list[tuple[str, int]]:
    """SRV records by priority then weight (dnspython: the standard library cannot ask for SRV records)."""
    import dns.exception
    import dns.resolver

    try:
        answer = dns.resolver.resolve(name, "SRV")
    except dns.exception.DNSException:
        return []
    records = sorted(answer, key=lambda record: (record.priority, -record.weight))
    return [(str(record.target).rstrip("."), int(record.port)) for record in records
            if str(record.target) != "."]


class ServerDiscovery:
    def __init__(self, config: FederationConfig, transport: Transport, clock: Clock,
                 srv_lookup: SrvLookup = dns_srv_lookup) -> None:
        self._config = config
        self._transport = transport
        self._clock = clock
        self._srv_lookup = srv_lookup
        self._well_known: dict[str, tuple[int, str | None]] = {}
        self._lock = threading.Lock()

    def destination(self, server_name: str) -> Destination:
        """Raises ValueError for an invalid server name."""
        test_host = self._config.test_host_for(server_name)
        if test_host is not None:
            return Destination(test_host.rstrip("/"), server_name)
        name = parse_server_name(server_name)
        if name.is_ip_literal or name.port is not None:
            return _direct(name, server_name)
        delegated = self._delegation(name.host)
        if delegated is not None:
            try:
                target = parse_server_name(delegated)
            except ValueError:
                target = None
            if target is not None:
                if target.is_ip_literal or target.port is not None:
                    return _direct(target, delegated)
                return self._via_srv(target.host)
        return self._via_srv(name.host)

    def _via_srv(self, host: str) -> Destination:
        for prefix in ("_matrix-fed._tcp.", "_matrix._tcp."):
            records = self._srv_lookup(prefix + host)
            if records:
                target, port = records[0]
                return Destination(f"https://{ServerName(target, port).authority()}", host)
        return Destination(f"https://{ServerName(host, None).authority(DEFAULT_FEDERATION_PORT)}", host)

    def _delegation(self, host: str) -> str | None:
        now = self._clock.now_ms()
        with self._lock:
            cached = self._well_known.get(host)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self._fetch_well_known(host)
        expiry = now + (WELL_KNOWN_CACHE_MS if found is not None else WELL_KNOWN_FAILURE_CACHE_MS)
        with self._lock:
            self._well_known[host] = (expiry, found)
        return found

    def _fetch_well_known(self, host: str) -> str | None:
        url = f"https://{host}/.well-known/matrix/server"
        try:
            for _ in range(MAX_REDIRECTS):
                response = self._transport.request("GET", url, max_bytes=MAX_WELL_KNOWN_BYTES)
                location = response.headers.get("location")
                if response.status in (301, 302, 303, 307, 308) and location:
                    # Each hop goes through the transport again: its host is resolved and checked like any other.
                    url = str(httpx.URL(url).join(location))
                    continue
                if response.status != 200:
                    return None
                body = json.loads(response.body)
                delegated = body.get("m.server") if isinstance(body, dict) else None
                return delegated if isinstance(delegated, str) and delegated else None
        except (FederationError, ValueError, httpx.InvalidURL):  # unreachable, blocked, not JSON, bad redirect
            return None
        return None


def _direct(name: ServerName, host_header: str) -> Destination:
    return Destination(f"https://{name.authority(DEFAULT_FEDERATION_PORT)}", host_header)
