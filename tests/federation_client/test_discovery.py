"""Server discovery (Server-Server API, "Resolving server names") against a real ``.well-known`` server.

``.well-known/matrix/server`` is always fetched from port 443, so the well-known server listens on 443 of a loopback
address of its own (the tests run as root, as CI does); DNS is replaced by a resolver function and SRV by a table.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from config import parse_config
from federation_client.discovery import Destination, ServerDiscovery
from federation_client.transport import Transport
from tests.clock import FakeClock
from tests.federation_client.tls_servers import LocalCa, RecordingServer, Route, https_server, json_route, make_ca

WELL_KNOWN = "/.well-known/matrix/server"
# A loopback address per test process, so parallel runs do not fight over port 443.
WELL_KNOWN_ADDRESS = f"127.0.{os.getpid() % 250 + 2}.{os.getpid() // 250 % 250 + 2}"
NOTHING_LISTENS = "127.255.255.254"
ADDRESSES = {"delegating.test": WELL_KNOWN_ADDRESS, "plain.test": NOTHING_LISTENS, "evil.test": "10.0.0.1"}


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCa:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def well_known(ca: LocalCa) -> Iterator[RecordingServer]:
    try:
        with https_server(ca, ["delegating.test"], {}, host=WELL_KNOWN_ADDRESS, port=443) as server:
            yield server
    except PermissionError:
        pytest.skip("binding port 443 needs root")


def discovery(ca: LocalCa, srv: dict[str, list[tuple[str, int]]] | None = None,
              clock: FakeClock | None = None, **data: object) -> ServerDiscovery:
    config = parse_config({"server_name": "example.org", "ip_range_whitelist": ["127.0.0.0/8"],
                           "federation_custom_ca_list": [str(ca.ca_file)], **data}).federation
    transport = Transport(config, lambda host, port: [ADDRESSES.get(host, NOTHING_LISTENS)], timeout=5)
    return ServerDiscovery(config, transport, clock or FakeClock(), lambda name: (srv or {}).get(name, []))


@pytest.mark.parametrize("name, expected", [
    ("1.2.3.4", Destination("https://1.2.3.4:8448", "1.2.3.4")),
    ("[2001:db8::1]:8000", Destination("https://[2001:db8::1]:8000", "[2001:db8::1]:8000")),
    ("matrix.test:1234", Destination("https://matrix.test:1234", "matrix.test:1234")),
])
def test_ip_literals_and_explicit_ports_are_used_as_they_are(ca: LocalCa, name: str, expected: Destination) -> None:
    assert discovery(ca).destination(name) == expected


def test_the_test_host_map_wins(ca: LocalCa) -> None:
    found = discovery(ca, federation_test_hosts={"hs1.test": "http://127.0.0.1:8008"}).destination("hs1.test")
    assert found == Destination("http://127.0.0.1:8008", "hs1.test")


def test_without_well_known_srv_then_the_deprecated_srv_then_8448(ca: LocalCa) -> None:
    fed = {"_matrix-fed._tcp.plain.test": [("target.test", 9000)], "_matrix._tcp.plain.test": [("old.test", 1)]}
    assert discovery(ca, fed).destination("plain.test") == Destination("https://target.test:9000", "plain.test")
    legacy = {"_matrix._tcp.plain.test": [("old.test", 1)]}
    assert discovery(ca, legacy).destination("plain.test") == Destination("https://old.test:1", "plain.test")
    assert discovery(ca).destination("plain.test") == Destination("https://plain.test:8448", "plain.test")


def test_well_known_delegation_with_a_port_is_used_directly(ca: LocalCa, well_known: RecordingServer) -> None:
    well_known.routes[WELL_KNOWN] = json_route({"m.server": "matrix.delegated.test:443"})
    found = discovery(ca).destination("delegating.test")
    assert found == Destination("https://matrix.delegated.test:443", "matrix.delegated.test:443")
    assert well_known.requests == [("GET", WELL_KNOWN, "delegating.test")]


def test_a_delegated_name_without_port_goes_through_srv(ca: LocalCa, well_known: RecordingServer) -> None:
    well_known.routes[WELL_KNOWN] = json_route({"m.server": "delegated.test"})
    srv = {"_matrix-fed._tcp.delegated.test": [("target.test", 8443)]}
    assert discovery(ca, srv).destination("delegating.test") == Destination("https://target.test:8443",
                                                                              "delegated.test")
    assert discovery(ca).destination("delegating.test") == Destination("https://delegated.test:8448",
                                                                        "delegated.test")


def test_well_known_answers_are_cached_for_a_day(ca: LocalCa, well_known: RecordingServer) -> None:
    well_known.routes[WELL_KNOWN] = json_route({"m.server": "delegated.test:8448"})
    clock = FakeClock()
    finder = discovery(ca, clock=clock)
    for _ in range(3):
        finder.destination("delegating.test")
    assert len(well_known.requests) == 1
    clock.advance(24 * 3_600_000 + 1)
    finder.destination("delegating.test")
    assert len(well_known.requests) == 2


def test_a_redirect_to_a_blacklisted_address_is_not_followed(ca: LocalCa, well_known: RecordingServer) -> None:
    well_known.routes[WELL_KNOWN] = Route(302, b"", {"Location": "https://evil.test/.well-known/matrix/server"})
    assert discovery(ca).destination("delegating.test") == Destination("https://delegating.test:8448",
                                                                        "delegating.test")


def test_an_invalid_well_known_is_ignored(ca: LocalCa, well_known: RecordingServer) -> None:
    well_known.routes[WELL_KNOWN] = Route(200, b"not json")
    assert discovery(ca).destination("delegating.test") == Destination("https://delegating.test:8448",
                                                                        "delegating.test")


def test_an_allowed_redirect_is_followed(ca: LocalCa, well_known: RecordingServer) -> None:
    well_known.routes[WELL_KNOWN] = Route(301, b"", {"Location": "/moved"})
    well_known.routes["/moved"] = json_route({"m.server": "moved.test:8448"})
    assert discovery(ca).destination("delegating.test") == Destination("https://moved.test:8448", "moved.test:8448")
