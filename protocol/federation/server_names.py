"""Server names as the federation client needs them: host and optional port, IPv6 literals unbracketed.

Spec: Appendices, "Server Name", and Server-Server API, "Resolving server names" (an IP literal or an explicit port
is used as is; only a bare DNS name goes on to ``.well-known`` and SRV).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from protocol.identifiers import is_valid_server_name

DEFAULT_FEDERATION_PORT = 8448


@dataclass(frozen=True)
class ServerName:
    host: str
    """A DNS name, an IPv4 literal, or an IPv6 literal without its brackets."""
    port: int | None

    @property
    def is_ip_literal(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def bracketed_host(self) -> str:
        """The host as it appears in a URL or ``Host`` header: IPv6 literals in brackets."""
        return f"[{self.host}]" if ":" in self.host else self.host

    def authority(self, default_port: int | None = None) -> str:
        """``host[:port]`` for a URL, with ``default_port`` when the name carries none."""
        port = self.port if self.port is not None else default_port
        return self.bracketed_host if port is None else f"{self.bracketed_host}:{port}"


def parse_server_name(name: str) -> ServerName:
    """Split a server name into host and port; ValueError when it is not a valid server name."""
    if not isinstance(name, str) or not is_valid_server_name(name):
        raise ValueError(f"not a valid server name: {name!r}")
    if name.startswith("["):
        close = name.index("]")
        host, rest = name[1:close], name[close + 1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise ValueError(f"not a valid IPv6 literal: {name!r}") from exc
    else:
        host, colon, port_text = name.partition(":")
        rest = colon + port_text
    return ServerName(host.lower(), int(rest[1:]) if rest else None)
