"""Federation settings, in Synapse's vocabulary: keys we publish, notaries we trust, who we talk to and how.

``federation_test_hosts`` is Ganglion's own, for tests only: it maps a server name to where that server really
listens (``host:port`` spoken to over HTTPS, or a full ``http://host:port`` URL), so several servers share one
host without DNS; a name found there skips ``.well-known`` and SRV.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from config.errors import ConfigError
from config.reader import Section
from protocol.identifiers import is_valid_server_name
from protocol.signing import VerifyKey, decode_verify_key

# Synapse's DEFAULT_IP_RANGE_BLOCKLIST: private, loopback, link-local, multicast and reserved ranges.
DEFAULT_IP_RANGE_BLACKLIST = (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24",
    "169.254.0.0/16", "192.88.99.0/24", "198.18.0.0/15", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "::1/128", "fe80::/10", "fc00::/7", "2001:db8::/32", "ff00::/8", "fec0::/10",
)
# Never reachable whatever the config says (Synapse adds them to every blacklist too).
ALWAYS_BLOCKED = ("0.0.0.0/32", "::/128")
DEFAULT_KEY_REFRESH_MS = 24 * 60 * 60 * 1000
# Synapse's ``federation:`` section defaults: outbound request timeout and per-destination retry backoff.
DEFAULT_CLIENT_TIMEOUT_MS = 60_000
DEFAULT_MIN_RETRY_INTERVAL_MS = 10 * 60 * 1000
DEFAULT_RETRY_MULTIPLIER = 2.0
DEFAULT_MAX_RETRY_INTERVAL_MS = 7 * 24 * 60 * 60 * 1000

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedKeyServer:
    server_name: str
    verify_keys: tuple[tuple[str, VerifyKey], ...]
    """Keys the notary must sign its answers with; empty trusts whatever key it publishes (Synapse warns)."""


@dataclass(frozen=True)
class OldSigningKey:
    key_id: str
    verify_key: VerifyKey
    expired_ts: int


@dataclass(frozen=True)
class FederationConfig:
    key_refresh_interval_ms: int = DEFAULT_KEY_REFRESH_MS
    old_signing_keys: tuple[OldSigningKey, ...] = ()
    trusted_key_servers: tuple[TrustedKeyServer, ...] = ()
    domain_whitelist: frozenset[str] | None = None
    """``federation_domain_whitelist``: when set, the only servers we accept requests from or send to."""
    ip_range_blacklist: tuple[IpNetwork, ...] = field(
        default_factory=lambda: tuple(ipaddress.ip_network(net) for net in (*DEFAULT_IP_RANGE_BLACKLIST,
                                                                             *ALWAYS_BLOCKED)))
    ip_range_whitelist: tuple[IpNetwork, ...] = ()
    custom_ca_list: tuple[str, ...] = ()
    verify_certificates: bool = True
    """False with ``use_insecure_ssl_client_just_for_testing_do_not_use`` or ``federation_verify_certificates``."""
    client_timeout_ms: int = DEFAULT_CLIENT_TIMEOUT_MS
    """``federation.client_timeout``: how long one outbound federation request may take."""
    destination_min_retry_interval_ms: int = DEFAULT_MIN_RETRY_INTERVAL_MS
    """``federation.destination_min_retry_interval``: the first wait after a destination failed."""
    destination_retry_multiplier: float = DEFAULT_RETRY_MULTIPLIER
    """``federation.destination_retry_multiplier``: each further failure multiplies the wait by this."""
    destination_max_retry_interval_ms: int = DEFAULT_MAX_RETRY_INTERVAL_MS
    """``federation.destination_max_retry_interval``: the longest wait between attempts."""
    test_hosts: tuple[tuple[str, str], ...] = ()
    """``federation_test_hosts``: server name -> base URL (``https://host:port`` unless a scheme was given)."""

    def allows_domain(self, server_name: str) -> bool:
        return self.domain_whitelist is None or server_name in self.domain_whitelist

    def test_host_for(self, server_name: str) -> str | None:
        return dict(self.test_hosts).get(server_name)


def _networks(section: Section, key: str, default: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(text, strict=False) for text in section.texts(key, default))
    except ValueError as exc:
        raise ConfigError(section.path_of(key), str(exc)) from exc


def parse_federation(top: Section, *, insecure_outbound_tls: bool) -> FederationConfig:
    """``insecure_outbound_tls``: Synapse's ``use_insecure_ssl_client_just_for_testing_do_not_use``, read once by
    ``parse_config`` for every outbound client."""
    old_keys = []
    old_section = top.section("old_signing_keys")
    for key_id in old_section.mapping_keys():
        entry = old_section.section(key_id)
        try:
            verify_key = decode_verify_key(key_id, entry.text("key"))
        except ValueError as exc:
            raise ConfigError(old_section.path_of(key_id), str(exc)) from exc
        old_keys.append(OldSigningKey(key_id, verify_key, entry.integer("expired_ts", minimum=0)))
    notaries = []
    for section in top.sections("trusted_key_servers"):
        name = section.text("server_name")
        keys_section = section.section("verify_keys")
        keys = []
        for key_id in keys_section.mapping_keys():
            try:
                keys.append((key_id, decode_verify_key(key_id, keys_section.text(key_id))))
            except ValueError as exc:
                raise ConfigError(keys_section.path_of(key_id), str(exc)) from exc
        section.raw("accept_keys_insecurely")
        notaries.append(TrustedKeyServer(name, tuple(keys)))
    whitelist = top.texts("federation_domain_whitelist", None)
    test_hosts = []
    hosts_section = top.section("federation_test_hosts")
    for server_name in hosts_section.mapping_keys():
        if not is_valid_server_name(server_name):
            raise ConfigError(hosts_section.path_of(server_name), "not a valid server name")
        target = hosts_section.text(server_name)
        test_hosts.append((server_name, target if "://" in target else f"https://{target}"))
    blacklist = _networks(top, "ip_range_blacklist", DEFAULT_IP_RANGE_BLACKLIST)
    # Synapse's older name, still honoured there: its ranges are blocked for federation too.
    blacklist = (*blacklist, *_networks(top, "federation_ip_range_blacklist", ()))
    blacklist = (*blacklist, *(ipaddress.ip_network(net) for net in ALWAYS_BLOCKED))
    section = top.section("federation")
    return FederationConfig(
        client_timeout_ms=section.duration_ms("client_timeout", DEFAULT_CLIENT_TIMEOUT_MS),
        destination_min_retry_interval_ms=section.duration_ms("destination_min_retry_interval",
                                                              DEFAULT_MIN_RETRY_INTERVAL_MS),
        destination_retry_multiplier=section.number("destination_retry_multiplier", DEFAULT_RETRY_MULTIPLIER,
                                                    minimum=1.0),
        destination_max_retry_interval_ms=section.duration_ms("destination_max_retry_interval",
                                                              DEFAULT_MAX_RETRY_INTERVAL_MS),
        key_refresh_interval_ms=top.duration_ms("key_refresh_interval", DEFAULT_KEY_REFRESH_MS),
        old_signing_keys=tuple(old_keys),
        trusted_key_servers=tuple(notaries),
        domain_whitelist=None if whitelist is None else frozenset(whitelist),
        ip_range_blacklist=blacklist,
        ip_range_whitelist=_networks(top, "ip_range_whitelist", ()),
        custom_ca_list=top.texts("federation_custom_ca_list", ()),
        verify_certificates=top.flag("federation_verify_certificates", True) and not insecure_outbound_tls,
        test_hosts=tuple(test_hosts),
    )
