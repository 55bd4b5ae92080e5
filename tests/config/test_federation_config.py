"""Federation settings in Synapse's vocabulary, plus the test-only ``federation_test_hosts``; TLS listeners."""

from __future__ import annotations

import ipaddress

import pytest

from config import ConfigError, parse_config
from protocol.signing import encode_verify_key, generate_signing_key, verify_key_of

MINIMAL = {"server_name": "example.org"}
KEY = encode_verify_key(verify_key_of(generate_signing_key("1")))


def test_defaults_block_private_ranges_trust_no_notary_and_verify_certificates() -> None:
    federation = parse_config(MINIMAL).federation
    assert federation.trusted_key_servers == ()
    assert federation.verify_certificates
    assert federation.allows_domain("anyone.example")
    assert ipaddress.ip_network("127.0.0.0/8") in federation.ip_range_blacklist
    assert federation.key_refresh_interval_ms == 24 * 3_600_000


def test_synapse_keys_are_read() -> None:
    federation = parse_config({
        **MINIMAL,
        "trusted_key_servers": [{"server_name": "notary.example", "verify_keys": {"ed25519:1": KEY}}],
        "federation_domain_whitelist": ["friend.example"],
        "ip_range_blacklist": ["10.0.0.0/8"], "ip_range_whitelist": ["10.1.0.0/16"],
        "federation_custom_ca_list": ["/etc/ca.pem"], "key_refresh_interval": "1h",
        "old_signing_keys": {"ed25519:old": {"key": KEY, "expired_ts": 5}},
        "use_insecure_ssl_client_just_for_testing_do_not_use": True,
        "federation_test_hosts": {"hs1.test": "127.0.0.1:8448", "hs2.test": "http://127.0.0.1:8008"},
    }).federation
    assert [notary.server_name for notary in federation.trusted_key_servers] == ["notary.example"]
    assert not federation.allows_domain("anyone.example") and federation.allows_domain("friend.example")
    assert ipaddress.ip_network("10.1.0.0/16") in federation.ip_range_whitelist
    assert federation.custom_ca_list == ("/etc/ca.pem",)
    assert federation.key_refresh_interval_ms == 3_600_000
    assert [(old.key_id, old.expired_ts) for old in federation.old_signing_keys] == [("ed25519:old", 5)]
    assert not federation.verify_certificates
    assert federation.test_host_for("hs1.test") == "https://127.0.0.1:8448"
    assert federation.test_host_for("hs2.test") == "http://127.0.0.1:8008"


@pytest.mark.parametrize("data", [
    {"ip_range_blacklist": ["not-a-network"]},
    {"old_signing_keys": {"rsa:1": {"key": KEY, "expired_ts": 1}}},
    {"federation_test_hosts": {"bad name": "127.0.0.1:1"}},
    {"listeners": [{"port": 8448, "tls": True}]},
    {"listeners": [{"port": 8448, "tls": True}, {"port": 8008}], "tls_certificate_path": "c",
     "tls_private_key_path": "k"},
])
def test_bad_federation_settings_are_config_errors(data: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError):
        parse_config({**MINIMAL, **data})


def test_tls_listeners_take_the_certificate_and_key_paths() -> None:
    config = parse_config({**MINIMAL, "listeners": [{"port": 8448, "tls": True}],
                           "tls_certificate_path": "cert.pem", "tls_private_key_path": "/k.pem"}, base_dir="/srv")
    assert config.http_listeners[0].tls
    assert (config.tls_certificate_path, config.tls_private_key_path) == ("/srv/cert.pem", "/k.pem")
