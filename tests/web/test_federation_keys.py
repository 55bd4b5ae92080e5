"""``/_matrix/key/v2``: our published keys and the notary endpoints (Server-Server API, "Retrieving server keys")."""

from __future__ import annotations

import pytest

from protocol.federation.server_keys import parse_key_response
from protocol.signing import (
    decode_verify_key,
    encode_verify_key,
    generate_signing_key,
    key_id_of,
    verify_json,
    verify_key_of,
)
from tests.conftest import HomeserverFactory
from tests.homeserver import SERVER_NAME, HomeserverUnderTest
from tests.web.federation_peers import FEDERATION_CONFIG, REMOTE, REMOTE_KEY, seed_remote_keys

OLD_KEY = generate_signing_key("old1")
DAY_MS = 24 * 60 * 60 * 1000


def test_published_keys_are_signed_by_the_key_they_publish(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.get("/_matrix/key/v2/server")
    assert response.status_code == 200
    keys = response.json
    assert keys["server_name"] == SERVER_NAME
    assert keys["old_verify_keys"] == {}
    assert keys["valid_until_ts"] == homeserver.clock.now_ms() + DAY_MS
    [(key_id, published)] = keys["verify_keys"].items()
    assert key_id == key_id_of(homeserver.deps.signing_key)
    verify_json(keys, SERVER_NAME, decode_verify_key(key_id, published["key"]))
    assert list(keys["signatures"][SERVER_NAME]) == [key_id]
    assert parse_key_response(keys, SERVER_NAME, homeserver.clock.now_ms()).keys


def test_key_refresh_interval_and_old_signing_keys_shape_the_answer(make_homeserver: HomeserverFactory) -> None:
    homeserver = make_homeserver(key_refresh_interval="2h", old_signing_keys={
        "ed25519:old1": {"key": encode_verify_key(verify_key_of(OLD_KEY)), "expired_ts": 1234}})
    keys = homeserver.get("/_matrix/key/v2/server").json
    assert keys["valid_until_ts"] == homeserver.clock.now_ms() + 2 * 3_600_000
    assert keys["old_verify_keys"] == {"ed25519:old1": {"key": encode_verify_key(verify_key_of(OLD_KEY)),
                                                        "expired_ts": 1234}}
    assert homeserver.get("/_matrix/key/v2/server/ed25519:old1").status_code == 200


def test_the_deprecated_key_id_form_answers_for_our_keys_only(homeserver: HomeserverUnderTest) -> None:
    key_id = key_id_of(homeserver.deps.signing_key)
    by_id = homeserver.get(f"/_matrix/key/v2/server/{key_id}")
    assert by_id.status_code == 200
    assert by_id.json["verify_keys"] == homeserver.get("/_matrix/key/v2/server").json["verify_keys"]
    missing = homeserver.get("/_matrix/key/v2/server/ed25519:nope")
    assert (missing.status_code, missing.json["errcode"]) == (404, "M_NOT_FOUND")


def _assert_notarised(item: dict, server_name: str, homeserver: HomeserverUnderTest) -> None:
    verify_json(item, server_name, verify_key_of(REMOTE_KEY if server_name == REMOTE else homeserver.deps.signing_key))
    verify_json(item, SERVER_NAME, verify_key_of(homeserver.deps.signing_key))


def test_the_notary_relays_cached_keys_with_both_signatures(make_homeserver: HomeserverFactory) -> None:
    homeserver = make_homeserver(**FEDERATION_CONFIG)
    seed_remote_keys(homeserver)
    [item] = homeserver.get(f"/_matrix/key/v2/query/{REMOTE}").json["server_keys"]
    assert item["server_name"] == REMOTE
    _assert_notarised(item, REMOTE, homeserver)
    posted = homeserver.post("/_matrix/key/v2/query", json={"server_keys": {REMOTE: {}, SERVER_NAME: {}}})
    assert posted.status_code == 200
    items = {item["server_name"]: item for item in posted.json["server_keys"]}
    assert set(items) == {REMOTE, SERVER_NAME}
    for name, item in items.items():
        _assert_notarised(item, name, homeserver)


def test_the_notary_still_answers_with_stale_keys_when_the_server_cannot_be_reached(
        make_homeserver: HomeserverFactory) -> None:
    homeserver = make_homeserver(**FEDERATION_CONFIG)
    seed_remote_keys(homeserver, valid_for_ms=1000)
    far = homeserver.clock.now_ms() + DAY_MS
    stale = homeserver.get(f"/_matrix/key/v2/query/{REMOTE}?minimum_valid_until_ts={far}")
    assert [item["server_name"] for item in stale.json["server_keys"]] == [REMOTE]
    assert homeserver.get("/_matrix/key/v2/query/unknown.test").json == {"server_keys": []}


@pytest.mark.parametrize("body", [{"server_keys": []}, {"server_keys": {REMOTE: []}},
                                  {"server_keys": {REMOTE: {"k": {"minimum_valid_until_ts": "soon"}}}}])
def test_malformed_notary_queries_are_bad_json(homeserver: HomeserverUnderTest, body: dict) -> None:
    response = homeserver.post("/_matrix/key/v2/query", json=body)
    assert (response.status_code, response.json["errcode"]) == (400, "M_BAD_JSON")


def test_a_notary_query_without_server_keys_is_missing_a_parameter(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.post("/_matrix/key/v2/query", json={})
    assert (response.status_code, response.json["errcode"]) == (400, "M_MISSING_PARAM")


def test_bad_notary_query_parameters_are_invalid(homeserver: HomeserverUnderTest) -> None:
    bad_ts = homeserver.get(f"/_matrix/key/v2/query/{REMOTE}?minimum_valid_until_ts=soon")
    assert (bad_ts.status_code, bad_ts.json["errcode"]) == (400, "M_INVALID_PARAM")
    bad_name = homeserver.get("/_matrix/key/v2/query/bad%20name")
    assert (bad_name.status_code, bad_name.json["errcode"]) == (400, "M_INVALID_PARAM")
    bad_key_id = homeserver.get(f"/_matrix/key/v2/query/{REMOTE}/not-a-key-id")
    assert (bad_key_id.status_code, bad_key_id.json["errcode"]) == (400, "M_INVALID_PARAM")


def test_the_notary_answers_for_the_key_asked_even_after_the_origin_stopped_publishing_it(
        make_homeserver: HomeserverFactory) -> None:
    homeserver = make_homeserver(**FEDERATION_CONFIG)
    first, second = generate_signing_key("key_1"), generate_signing_key("key_2")
    seed_remote_keys(homeserver, key=first, valid_for_ms=-DAY_MS)
    seed_remote_keys(homeserver, key=second, valid_for_ms=-DAY_MS + 1000)
    expiry = homeserver.clock.now_ms() - DAY_MS
    body = {"server_keys": {REMOTE: {"ed25519:key_1": {"minimum_valid_until_ts": expiry}}}}
    [item] = homeserver.post("/_matrix/key/v2/query", json=body).json["server_keys"]
    assert list(item["verify_keys"]) == ["ed25519:key_1"]
    [by_id] = homeserver.get(f"/_matrix/key/v2/query/{REMOTE}/ed25519:key_1?minimum_valid_until_ts={expiry}"
                             ).json["server_keys"]
    assert list(by_id["verify_keys"]) == ["ed25519:key_1"]
    # Nothing is fresh enough for today and the origin cannot be reached: the newest stale answer still comes back.
    [stale] = homeserver.get(f"/_matrix/key/v2/query/{REMOTE}/ed25519:key_1").json["server_keys"]
    assert stale["valid_until_ts"] == expiry
