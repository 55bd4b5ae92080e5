"""SSRF safety: which IP addresses we may connect to (Synapse's ``ip_range_blacklist`` / ``ip_range_whitelist``).

Checked on the addresses a name resolves to, right before connecting to exactly those addresses, so a name that
resolves to a private address (or a redirect to one) never gets a request.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from config.federation import ALWAYS_BLOCKED, FederationConfig
from federation_client.errors import DestinationNotAllowed, UnknownServer, Unreachable

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], list[str]]
NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
"""getaddrinfo's answers for a name that does not exist, as opposed to a resolver that failed for now."""
_NEVER = tuple(ipaddress.ip_network(net) for net in ALWAYS_BLOCKED)


def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), in the system resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in NO_SUCH_NAME:
            raise UnknownServer(f"{host} does not exist: {exc}") from exc
        raise Unreachable(f"cannot resolve {host}: {exc}") from exc
    except OSError as exc:
        raise Unreachable(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_allowed(address: IpAddress, config: FederationConfig) -> bool:
    """Whitelisted ranges override the blacklist; 0.0.0.0 and :: are never allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in net for net in _NEVER):
        return False
    if any(address in net for net in config.ip_range_whitelist if net.version == address.version):
        return True
    return not any(address in net for net in config.ip_range_blacklist if net.version == address.version)


def allowed_addresses(host: str, port: int, config: FederationConfig, resolve: Resolve = system_resolve) -> list[str]:
    """The addresses of ``host`` we may connect to; DestinationNotAllowed when it resolves only to blocked ones."""
    try:
        candidates = [ipaddress.ip_address(host)]
    except ValueError:
        candidates = [ipaddress.ip_address(text.split("%")[0]) for text in resolve(host, port)]
    allowed = [str(address) for address in candidates if is_allowed(address, config)]
    if not allowed:
        raise DestinationNotAllowed(f"{host} resolves only to blocked addresses")
    return allowed
