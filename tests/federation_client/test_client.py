"""Outbound federation requests: X-Matrix signed over exactly what is sent, and only to allowed destinations."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from config import parse_config
from federation_client.client import MAX_REDIRECTS, FederationClient
from federation_client.discovery import ServerDiscovery
from federation_client.errors import DestinationNotAllowed, RemoteError, TooManyRedirects, Unreachable
from federation_client.transport import Transport
from protocol.federation.request_auth import parse_authorization, verify_request
from protocol.signing import generate_signing_key, verify_key_of
from tests.clock import FakeClock
from tests.federation_client.tls_servers import (
    LocalCa,
    RecordingServer,
    Route,
    https_server,
    json_route,
    make_ca,
)

KEY = generate_signing_key("out1")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCa:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def remote(ca: LocalCa) -> Iterator[RecordingServer]:
    with https_server(ca, ["127.0.0.1"], {}) as server:
        yield server


def client(ca: LocalCa, remote: RecordingServer, **data: object) -> FederationClient:
    config = parse_config({"server_name": "origin.test", "ip_range_whitelist": ["127.0.0.0/8"],
                           "federation_custom_ca_list": [str(ca.ca_file)],
                           "federation_test_hosts": {"remote.test": f"https://127.0.0.1:{remote.port}"},
                           **data}).federation
    transport = Transport(config)
    return FederationClient("origin.test", KEY, config, transport, ServerDiscovery(config, transport, FakeClock()))


def test_a_request_is_signed_over_its_method_uri_destination_and_content(ca: LocalCa,
                                                                         remote: RecordingServer) -> None:
    path = "/_matrix/federation/v1/send/txn%2F1"
    remote.routes[path + "?a=b+c&x=%40u%3Ahs"] = json_route({"ok": True})
    content = {"pdus": [], "edus": [{"edu_type": "m.typing"}]}
    answer = client(ca, remote).put_json("remote.test", path + "?a=b+c&x=%40u%3Ahs", content)
    assert answer == {"ok": True}
    [(method, uri, host)] = remote.requests
    [(header, body)] = remote.bodies
    assert (method, host) == ("PUT", "remote.test")
    authorization = parse_authorization(header or "")
    assert (authorization.origin, authorization.destination, authorization.key_id) == ("origin.test", "remote.test",
                                                                                       "ed25519:out1")
    verify_request(authorization, verify_key_of(KEY), "PUT", uri, "remote.test", json.loads(body))


def test_query_parameters_are_encoded_and_signed_as_sent(ca: LocalCa, remote: RecordingServer) -> None:
    remote.routes["/q?user_id=%40a%3Ab+c&n=1&n=2"] = json_route({})
    client(ca, remote).get_json("remote.test", "/q", {"user_id": "@a:b c", "n": [1, 2]})
    [(_, uri, _)] = remote.requests
    assert uri == "/q?user_id=%40a%3Ab+c&n=1&n=2"
    [(header, _)] = remote.bodies
    verify_request(parse_authorization(header or ""), verify_key_of(KEY), "GET", uri, "remote.test")


def test_an_unsigned_request_carries_no_authorization(ca: LocalCa, remote: RecordingServer) -> None:
    remote.routes["/_matrix/key/v2/server"] = json_route({})
    client(ca, remote).get_json("remote.test", "/_matrix/key/v2/server", signed=False)
    assert remote.bodies == [(None, b"")]


def test_an_error_status_raises_with_the_remote_error(ca: LocalCa, remote: RecordingServer) -> None:
    remote.routes["/denied"] = json_route({"errcode": "M_FORBIDDEN", "error": "no"}, status=403)
    with pytest.raises(RemoteError) as raised:
        client(ca, remote).get_json("remote.test", "/denied")
    assert (raised.value.status, raised.value.body["errcode"]) == (403, "M_FORBIDDEN")


def test_destinations_outside_the_domain_whitelist_and_ourselves_get_no_request(ca: LocalCa,
                                                                                 remote: RecordingServer) -> None:
    limited = client(ca, remote, federation_domain_whitelist=["friend.test"])
    with pytest.raises(DestinationNotAllowed):
        limited.get_json("remote.test", "/anything")
    with pytest.raises(DestinationNotAllowed):
        client(ca, remote).get_json("origin.test", "/anything")
    with pytest.raises(DestinationNotAllowed):
        client(ca, remote).get_json("not a server name", "/anything")
    assert remote.requests == []


def _redirect(location: str, status: int = 307) -> Route:
    return Route(status, b"", {"Location": location})


def test_media_redirects_are_followed_unsigned_to_the_bytes(ca: LocalCa, remote: RecordingServer) -> None:
    base = f"https://127.0.0.1:{remote.port}"
    remote.routes["/_matrix/federation/v1/media/download/abc"] = _redirect("/cdn/first")  # relative
    remote.routes["/cdn/first"] = _redirect(f"{base}/cdn/abc", status=302)
    remote.routes["/cdn/abc"] = Route(200, b"the bytes", {"Content-Type": "text/plain"})
    answer = client(ca, remote).get_bytes("remote.test", "/_matrix/federation/v1/media/download/abc",
                                          max_bytes=100)
    assert (answer.status, answer.body) == (200, b"the bytes")
    assert [path for _, path, _ in remote.requests] == [
        "/_matrix/federation/v1/media/download/abc", "/cdn/first", "/cdn/abc"]
    assert [authorization is not None for authorization, _ in remote.bodies] == [True, False, False], (
        "only the request to the origin itself is signed")


def test_redirects_are_bounded(ca: LocalCa, remote: RecordingServer) -> None:
    remote.routes["/_matrix/federation/v1/media/download/loop"] = _redirect("/loop")
    remote.routes["/loop"] = _redirect("/loop")
    with pytest.raises(TooManyRedirects):
        client(ca, remote).get_bytes("remote.test", "/_matrix/federation/v1/media/download/loop", max_bytes=100)
    assert len(remote.requests) == MAX_REDIRECTS + 1, "the first answer and MAX_REDIRECTS hops, no more"


@pytest.mark.parametrize("location", ["http://10.1.2.3/media", "http://169.254.169.254/latest/meta-data",
                                      "http://[::1]:8008/media"])
def test_a_redirect_to_a_blocked_address_is_not_followed(ca: LocalCa, remote: RecordingServer,
                                                         location: str) -> None:
    remote.routes["/_matrix/federation/v1/media/download/ssrf"] = _redirect(location)
    with pytest.raises(DestinationNotAllowed):
        client(ca, remote).get_bytes("remote.test", "/_matrix/federation/v1/media/download/ssrf", max_bytes=100)
    with pytest.raises(DestinationNotAllowed):
        client(ca, remote).get_url(location, max_bytes=100)
    assert len(remote.requests) == 1


def test_a_redirect_without_a_usable_location_is_unreachable(ca: LocalCa, remote: RecordingServer) -> None:
    remote.routes["/nowhere"] = Route(307, b"")
    remote.routes["/elsewhere"] = _redirect("file:///etc/passwd")
    for path in ("/nowhere", "/elsewhere"):
        with pytest.raises(Unreachable):
            client(ca, remote).get_bytes("remote.test", path, max_bytes=100)
