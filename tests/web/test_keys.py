"""``/_matrix/key/v2/server`` (Server-Server API, "Publishing Keys"): the published key verifies the answer."""

from __future__ import annotations

from protocol.signing import decode_verify_key, key_id_of, verify_json
from tests.homeserver import SERVER_NAME, HomeserverUnderTest
from web.keys import KEY_VALIDITY_MS


def test_published_keys_are_signed_by_the_key_they_publish(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.get("/_matrix/key/v2/server")
    assert response.status_code == 200
    keys = response.json
    assert keys["server_name"] == SERVER_NAME
    assert keys["old_verify_keys"] == {}
    assert keys["valid_until_ts"] == homeserver.clock.now_ms() + KEY_VALIDITY_MS
    [(key_id, published)] = keys["verify_keys"].items()
    assert key_id == key_id_of(homeserver.deps.signing_key)
    verify_json(keys, SERVER_NAME, decode_verify_key(key_id, published["key"]))
    assert list(keys["signatures"][SERVER_NAME]) == [key_id]


def test_the_deprecated_key_id_form_answers_for_our_key_only(homeserver: HomeserverUnderTest) -> None:
    key_id = key_id_of(homeserver.deps.signing_key)
    by_id = homeserver.get(f"/_matrix/key/v2/server/{key_id}")
    assert by_id.status_code == 200
    assert by_id.json["verify_keys"] == homeserver.get("/_matrix/key/v2/server").json["verify_keys"]
    missing = homeserver.get("/_matrix/key/v2/server/ed25519:nope")
    assert (missing.status_code, missing.json["errcode"]) == (404, "M_NOT_FOUND")
