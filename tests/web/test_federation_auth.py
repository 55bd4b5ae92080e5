"""Inbound request authentication (Server-Server API, "Request Authentication"), seen through
``GET /_matrix/federation/v1/query/profile``: only a correctly signed request from an allowed origin gets in."""

from __future__ import annotations

import pytest

from protocol.federation.request_auth import sign_request
from protocol.signing import generate_signing_key
from tests.conftest import HomeserverFactory
from tests.homeserver import SERVER_NAME, HomeserverUnderTest
from tests.web.federation_peers import FEDERATION_CONFIG, REMOTE, REMOTE_KEY, seed_remote_keys, signed_request


@pytest.fixture
def federating(make_homeserver: HomeserverFactory) -> HomeserverUnderTest:
    homeserver = make_homeserver(**FEDERATION_CONFIG)
    seed_remote_keys(homeserver)
    homeserver.register("alice")
    homeserver.put(f"/_matrix/client/v3/profile/@alice:{SERVER_NAME}/displayname", json={"displayname": "Alice"},
                   token=homeserver.login("alice")["access_token"])
    return homeserver


PROFILE = f"/_matrix/federation/v1/query/profile?user_id=%40alice%3A{SERVER_NAME}"


def assert_unauthorized(response: object) -> None:
    assert (response.status_code, response.json["errcode"]) == (401, "M_UNAUTHORIZED")  # type: ignore[attr-defined]


def test_a_signed_request_reads_the_profile(federating: HomeserverUnderTest) -> None:
    response = signed_request(federating, "GET", PROFILE)
    assert response.status_code == 200, response.json
    assert response.json == {"displayname": "Alice"}
    field = signed_request(federating, "GET", PROFILE + "&field=displayname")
    assert field.json == {"displayname": "Alice"}


def test_version_needs_no_authentication(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.get("/_matrix/federation/v1/version")
    assert response.status_code == 200
    assert response.json["server"]["name"] == "Ganglion"


def test_a_request_without_x_matrix_is_unauthorized(federating: HomeserverUnderTest) -> None:
    assert_unauthorized(federating.get(PROFILE))
    assert_unauthorized(federating.get(PROFILE, headers={"Authorization": "Bearer token"}))


@pytest.mark.parametrize("header", ["X-Matrix", 'X-Matrix origin="remote.test"', 'X-Matrix origin="a,key=',
                                    'X-Matrix origin="bad name",key="ed25519:remote1",sig="abc"',
                                    'X-Matrix origin="localhost:http",key="ed25519:remote1",sig="abc"'])
def test_a_malformed_header_is_a_bad_request(federating: HomeserverUnderTest, header: str) -> None:
    response = federating.get(PROFILE, headers={"Authorization": header})
    assert (response.status_code, response.json["errcode"]) == (400, "M_UNAUTHORIZED")


def test_a_forged_signature_is_unauthorized(federating: HomeserverUnderTest) -> None:
    forger = generate_signing_key("remote1")  # same key id, another key
    assert_unauthorized(signed_request(federating, "GET", PROFILE, key=forger))


def test_a_signature_over_another_uri_is_unauthorized(federating: HomeserverUnderTest) -> None:
    assert_unauthorized(signed_request(federating, "GET", PROFILE, signed_uri=PROFILE + "&field=avatar_url"))


def test_a_request_for_another_destination_is_unauthorized(federating: HomeserverUnderTest) -> None:
    assert_unauthorized(signed_request(federating, "GET", PROFILE, destination="elsewhere.test"))


def test_a_request_claiming_another_origin_is_unauthorized(federating: HomeserverUnderTest) -> None:
    # Signed with remote.test's key but claiming to be other.test, whose keys cannot be fetched.
    assert_unauthorized(signed_request(federating, "GET", PROFILE, origin="other.test"))


def test_an_expired_key_is_unauthorized_once_it_cannot_be_refetched(federating: HomeserverUnderTest) -> None:
    federating.clock.advance(3_600_001)
    assert_unauthorized(signed_request(federating, "GET", PROFILE))


def test_a_key_the_server_cannot_fetch_is_unauthorized(federating: HomeserverUnderTest) -> None:
    assert_unauthorized(signed_request(federating, "GET", PROFILE, key=generate_signing_key("unknown")))


def test_an_origin_outside_the_domain_whitelist_is_forbidden(make_homeserver: HomeserverFactory) -> None:
    homeserver = make_homeserver(**FEDERATION_CONFIG, federation_domain_whitelist=["friend.test"])
    seed_remote_keys(homeserver)
    response = signed_request(homeserver, "GET", PROFILE)
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")


def test_a_body_is_part_of_the_signature(federating: HomeserverUnderTest) -> None:
    auth = sign_request(REMOTE_KEY, "GET", PROFILE, REMOTE, SERVER_NAME, {"a": 1})
    response = federating.request("GET", PROFILE, data=b'{"a": 2}', headers={"Authorization": auth.to_header()})
    assert_unauthorized(response)
    not_json = federating.request("GET", PROFILE, data=b"{nope", headers={"Authorization": auth.to_header()})
    assert (not_json.status_code, not_json.json["errcode"]) == (400, "M_NOT_JSON")


def test_an_oversized_body_is_rejected_before_authentication(federating: HomeserverUnderTest) -> None:
    big = b'{"a": "' + b"x" * (federating.config.max_request_size + 1) + b'"}'
    auth = sign_request(REMOTE_KEY, "GET", PROFILE, REMOTE, SERVER_NAME)
    response = federating.request("GET", PROFILE, data=big, headers={"Authorization": auth.to_header()})
    assert (response.status_code, response.json["errcode"]) == (413, "M_TOO_LARGE")


@pytest.mark.parametrize("query, status, errcode", [
    ("", 400, "M_MISSING_PARAM"),
    ("?user_id=%40bob%3Aelsewhere.test", 400, "M_INVALID_PARAM"),
    ("?user_id=nope", 400, "M_INVALID_PARAM"),
    (f"?user_id=%40nobody%3A{SERVER_NAME}", 404, "M_NOT_FOUND"),
    (f"?user_id=%40alice%3A{SERVER_NAME}&field=password", 400, "M_INVALID_PARAM"),
])
def test_bad_profile_queries_get_the_spec_errors(federating: HomeserverUnderTest, query: str, status: int,
                                                 errcode: str) -> None:
    response = signed_request(federating, "GET", "/_matrix/federation/v1/query/profile" + query)
    assert (response.status_code, response.json["errcode"]) == (status, errcode)
