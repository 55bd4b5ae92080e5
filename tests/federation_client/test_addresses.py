"""SSRF rules: which resolved addresses an outbound request may connect to (ip_range_blacklist / whitelist)."""

from __future__ import annotations

import ipaddress

import pytest

from config import parse_config
from config.federation import FederationConfig
from federation_client.addresses import allowed_addresses, is_allowed
from federation_client.errors import DestinationNotAllowed


def federation(**data: object) -> FederationConfig:
    return parse_config({"server_name": "example.org", **data}).federation


@pytest.mark.parametrize("address, allowed", [
    ("8.8.8.8", True), ("2001:4860::8888", True), ("127.0.0.1", False), ("10.1.2.3", False),
    ("192.168.0.1", False), ("169.254.169.254", False), ("::1", False), ("fd00::1", False),
    ("::ffff:127.0.0.1", False), ("0.0.0.0", False), ("::", False),
])
def test_the_default_blacklist_blocks_private_and_reserved_addresses(address: str, allowed: bool) -> None:
    assert is_allowed(ipaddress.ip_address(address), federation()) is allowed


def test_the_whitelist_overrides_the_blacklist_but_never_for_unspecified_addresses() -> None:
    config = federation(ip_range_whitelist=["127.0.0.0/8", "0.0.0.0/8"])
    assert is_allowed(ipaddress.ip_address("127.0.0.1"), config)
    assert not is_allowed(ipaddress.ip_address("0.0.0.0"), config)


def test_an_empty_blacklist_allows_loopback() -> None:
    assert is_allowed(ipaddress.ip_address("127.0.0.1"), federation(ip_range_blacklist=[]))


def test_only_allowed_resolved_addresses_are_returned() -> None:
    def resolve(host: str, port: int) -> list[str]:
        return ["10.0.0.1", "93.184.216.34", "fe80::1%eth0"]

    assert allowed_addresses("mixed.example", 8448, federation(), resolve) == ["93.184.216.34"]


def test_a_name_resolving_only_to_blocked_addresses_is_refused() -> None:
    with pytest.raises(DestinationNotAllowed):
        allowed_addresses("internal.example", 8448, federation(), lambda host, port: ["127.0.0.1", "10.0.0.2"])
    with pytest.raises(DestinationNotAllowed):
        allowed_addresses("192.168.1.1", 8448, federation(), lambda host, port: [])
