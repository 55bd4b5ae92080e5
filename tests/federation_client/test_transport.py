"""Outbound HTTPS to real local servers: trust settings, SSRF refusal before connecting, Host and SNI kept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from config import parse_config
from config.federation import FederationConfig
from federation_client.errors import DestinationNotAllowed, Unreachable
from federation_client.transport import Transport
from tests.federation_client.tls_servers import LocalCa, RecordingServer, https_server, json_route, make_ca


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCa:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def server(ca: LocalCa) -> Iterator[RecordingServer]:
    with https_server(ca, ["hs.test", "127.0.0.1"], {"/ping": json_route({"pong": True}),
                                                     "/big": json_route("x" * 5000)}) as running:
        yield running


def federation(**data: object) -> FederationConfig:
    return parse_config({"server_name": "example.org", "ip_range_whitelist": ["127.0.0.0/8"], **data}).federation


def resolve_to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def test_a_server_signed_by_a_custom_ca_is_trusted(ca: LocalCa, server: RecordingServer) -> None:
    transport = Transport(federation(federation_custom_ca_list=[str(ca.ca_file)]), resolve_to_loopback)
    response = transport.request("GET", f"https://hs.test:{server.port}/ping")
    assert (response.status, response.json()) == (200, {"pong": True})
    assert server.requests == [("GET", "/ping", f"hs.test:{server.port}")]


def test_a_certificate_for_another_name_is_refused(ca: LocalCa, server: RecordingServer) -> None:
    transport = Transport(federation(federation_custom_ca_list=[str(ca.ca_file)]), resolve_to_loopback)
    with pytest.raises(Unreachable):
        transport.request("GET", f"https://other.test:{server.port}/ping")


def test_an_unknown_ca_is_refused_unless_verification_is_off_for_testing(server: RecordingServer) -> None:
    with pytest.raises(Unreachable):
        Transport(federation(), resolve_to_loopback).request("GET", f"https://hs.test:{server.port}/ping")
    insecure = Transport(federation(use_insecure_ssl_client_just_for_testing_do_not_use=True), resolve_to_loopback)
    assert insecure.request("GET", f"https://hs.test:{server.port}/ping").status == 200


def test_a_blacklisted_address_gets_no_request(ca: LocalCa, server: RecordingServer) -> None:
    transport = Transport(parse_config({"server_name": "example.org",
                                        "federation_custom_ca_list": [str(ca.ca_file)]}).federation,
                          resolve_to_loopback)
    with pytest.raises(DestinationNotAllowed):
        transport.request("GET", f"https://hs.test:{server.port}/ping")
    with pytest.raises(DestinationNotAllowed):
        transport.request("GET", f"https://127.0.0.1:{server.port}/ping")
    assert server.requests == []


def test_responses_over_the_size_limit_are_refused(ca: LocalCa, server: RecordingServer) -> None:
    transport = Transport(federation(federation_custom_ca_list=[str(ca.ca_file)]), resolve_to_loopback)
    with pytest.raises(Unreachable):
        transport.request("GET", f"https://hs.test:{server.port}/big", max_bytes=1000)
