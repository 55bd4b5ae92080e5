"""X-Matrix request signatures (Server-Server API, "Request Authentication"): building, parsing, verifying."""

from __future__ import annotations

import pytest
from signedjson.sign import verify_signed_json

from protocol.federation.request_auth import (
    MalformedAuthorization,
    XMatrixAuthorization,
    parse_authorization,
    sign_request,
    verify_request,
)
from protocol.signing import InvalidSignature, generate_signing_key, verify_key_of
from tests.protocol.vectors import KEY_ID, SERVER_NAME, spec_signing_key

CONTENT = {"user_id": "@alice:remote"}


def test_the_signature_covers_the_object_the_spec_describes() -> None:
    key = spec_signing_key()
    auth = sign_request(key, "post", "/_matrix/federation/v1/x?a=1", SERVER_NAME, "remote", CONTENT)
    # The spec's pseudocode: {method, uri, origin, destination, content} signed as JSON by the origin.
    spec_object = {"method": "POST", "uri": "/_matrix/federation/v1/x?a=1", "origin": SERVER_NAME,
                   "destination": "remote", "content": CONTENT,
                   "signatures": {SERVER_NAME: {KEY_ID: auth.signature}}}
    verify_signed_json(spec_object, SERVER_NAME, verify_key_of(key))
    assert (auth.origin, auth.destination, auth.key_id) == (SERVER_NAME, "remote", KEY_ID)


def test_a_request_without_content_signs_no_content_key() -> None:
    key = spec_signing_key()
    auth = sign_request(key, "GET", "/_matrix/federation/v1/version", SERVER_NAME, "remote")
    verify_request(auth, verify_key_of(key), "GET", "/_matrix/federation/v1/version", "remote")
    with pytest.raises(InvalidSignature):
        verify_request(auth, verify_key_of(key), "GET", "/_matrix/federation/v1/version", "remote", {})


@pytest.mark.parametrize("change", ["method", "uri", "destination", "content", "key"])
def test_any_change_to_the_signed_request_fails_verification(change: str) -> None:
    key = spec_signing_key()
    auth = sign_request(key, "PUT", "/path", SERVER_NAME, "remote", CONTENT)
    args = {"method": "PUT", "uri": "/path", "destination": "remote", "content": CONTENT}
    verify_key = verify_key_of(key)
    if change == "key":
        verify_key = verify_key_of(generate_signing_key("1"))
    else:
        args[change] = {"other": 1} if change == "content" else "/other" if change == "uri" else "GET" \
            if change == "method" else "elsewhere"
    with pytest.raises(InvalidSignature):
        verify_request(auth, verify_key, args["method"], args["uri"], args["destination"], args["content"])


def test_headers_round_trip_including_quotes_and_escapes() -> None:
    auth = XMatrixAuthorization('we"ird', "[::1]:8448", "ed25519:a_b", "c2ln/+")
    assert parse_authorization(auth.to_header()) == auth


@pytest.mark.parametrize("header, expected", [
    ('X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",'
     'sig="ABCDEF..."', XMatrixAuthorization("origin.hs.example.com", "destination.hs.example.com",
                                             "ed25519:key1", "ABCDEF...")),
    ("x-matrix origin=a.example,key=ed25519:1,sig=abc", XMatrixAuthorization("a.example", None, "ed25519:1", "abc")),
    ('X-Matrix  Origin="a.example", Key="ed25519:1", Sig="abc"', XMatrixAuthorization("a.example", None,
                                                                                       "ed25519:1", "abc")),
])
def test_parsing_accepts_the_spec_example_bare_tokens_and_any_case(header: str,
                                                                      expected: XMatrixAuthorization) -> None:
    assert parse_authorization(header) == expected


@pytest.mark.parametrize("header", [
    "Bearer abc",
    "X-Matrix",
    'X-Matrix origin="a",key="ed25519:1"',
    'X-Matrix origin="a",key="ed25519:1",sig="unterminated',
    'X-Matrix origin="a",origin="b",key="k",sig="s"',
    'X-Matrix origin',
])
def test_malformed_headers_are_rejected(header: str) -> None:
    with pytest.raises(MalformedAuthorization):
        parse_authorization(header)
