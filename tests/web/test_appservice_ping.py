"""``POST /_matrix/client/v1/appservice/{appserviceId}/ping``: only an application service's own token may ping it,
and no access token belongs to an application service while none are registered."""

from __future__ import annotations

from tests.homeserver import HomeserverUnderTest

PING = "/_matrix/client/v1/appservice/bridge/ping"


def test_a_user_token_cannot_ping_an_appservice(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    response = homeserver.post(PING, json={"transaction_id": "t1"}, token=alice)
    assert response.status_code == 403
    assert response.json["errcode"] == "M_FORBIDDEN"


def test_pinging_without_a_token_is_unauthorised(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.post(PING, json={})
    assert response.status_code == 401
    assert response.json["errcode"] == "M_MISSING_TOKEN"


def test_a_malformed_transaction_id_is_bad_json(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    response = homeserver.post(PING, json={"transaction_id": 7}, token=alice)
    assert response.status_code == 400
    assert response.json["errcode"] == "M_BAD_JSON"
