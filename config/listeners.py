"""``listeners`` and ``worker_listeners``: where a process accepts HTTP, and which resources it serves."""

from __future__ import annotations

from dataclasses import dataclass

from config.errors import ConfigError
from config.reader import Section

KNOWN_RESOURCES = frozenset(
    {"client", "federation", "keys", "media", "openid", "static", "replication", "health", "metrics", "consent"}
)
_TYPES = ("http", "metrics", "manhole")


@dataclass(frozen=True)
class Listener:
    port: int | None
    bind_addresses: tuple[str, ...]
    type: str
    resources: frozenset[str]
    x_forwarded: bool
    path: str | None = None
    tls: bool = False
    """Served over TLS with ``tls_certificate_path`` / ``tls_private_key_path`` (federation needs HTTPS)."""

    @property
    def bind(self) -> list[str]:
        """Gunicorn bind strings: ``host:port`` for each address, or ``unix:path``."""
        if self.path:
            return [f"unix:{self.path}"]
        return [f"[{address}]:{self.port}" if ":" in address else f"{address}:{self.port}"
                for address in self.bind_addresses]


def parse_listeners(sections: list[Section]) -> tuple[Listener, ...]:
    listeners = []
    for section in sections:
        kind = section.text("type", "http")
        if kind not in _TYPES:
            raise ConfigError(section.path_of("type"), f"must be one of {', '.join(_TYPES)}, got {kind!r}")
        path = section.text("path", None)
        port = None if path else section.integer("port", minimum=0)
        if port is not None and port > 65535:
            raise ConfigError(section.path_of("port"), f"must be at most 65535, got {port}")
        addresses = section.texts("bind_addresses", ())
        single = section.text("bind_address", None)
        if single:
            addresses = (*addresses, single)
        if not addresses:
            addresses = ("127.0.0.1",)
        resources: set[str] = set()
        for resource in section.sections("resources"):
            names = resource.texts("names", ())
            unknown = set(names) - KNOWN_RESOURCES
            if unknown:
                raise ConfigError(resource.path_of("names"), f"unknown resource(s): {', '.join(sorted(unknown))}")
            resources.update(names)
            resource.raw("compress")
        listeners.append(
            Listener(
                port=port,
                bind_addresses=tuple(addresses),
                type=kind,
                resources=frozenset(resources),
                x_forwarded=section.flag("x_forwarded", False),
                path=path,
                tls=section.flag("tls", False),
            )
        )
    return tuple(listeners)
