"""Pushers as HTTP conversations, in both shapes: setting, listing, replacing, appending and removing them, the
spec's errors for bad input, and pushers going with the device whose token set them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.homeserver import HomeserverUnderTest

PUSHERS = "/_matrix/client/v3/pushers"
SET = "/_matrix/client/v3/pushers/set"
GATEWAY = "https://push.example.org/_matrix/push/v1/notify"


def _http_pusher(pushkey: str = "key-1", **extra: Any) -> dict[str, Any]:
    return {"kind": "http", "app_id": "org.example.app", "pushkey": pushkey, "app_display_name": "Example",
            "device_display_name": "Phone", "profile_tag": "tag", "lang": "en",
            "data": {"url": GATEWAY, "format": "event_id_only", "custom": "kept"}, **extra}


def _listed(homeserver: HomeserverUnderTest, token: str) -> list[dict[str, Any]]:
    response = homeserver.get(PUSHERS, token=token)
    assert response.status_code == 200
    pushers: list[dict[str, Any]] = response.json["pushers"]
    return pushers


def test_a_new_user_has_no_pushers(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    assert _listed(homeserver, alice) == []


def test_a_pusher_set_is_listed_with_everything_the_client_gave(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    assert homeserver.post(SET, token=alice, json=_http_pusher()).json == {}
    body = _http_pusher()
    assert _listed(homeserver, alice) == [body]


def test_setting_the_same_pusher_again_updates_it(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    homeserver.post(SET, token=alice, json=_http_pusher())
    homeserver.post(SET, token=alice, json=_http_pusher(device_display_name="Tablet"))
    assert [pusher["device_display_name"] for pusher in _listed(homeserver, alice)] == ["Tablet"]


def test_an_email_pusher_is_kept(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    email = {"kind": "email", "app_id": "m.email", "pushkey": "alice@example.org", "app_display_name": "Email",
             "device_display_name": "alice@example.org", "lang": "en", "data": {}}
    assert homeserver.post(SET, token=alice, json=email).status_code == 200
    assert _listed(homeserver, alice) == [email]


def test_kind_null_removes_the_pusher(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    homeserver.post(SET, token=alice, json=_http_pusher("one"))
    homeserver.post(SET, token=alice, json=_http_pusher("two"))
    removal = {"kind": None, "app_id": "org.example.app", "pushkey": "one"}
    assert homeserver.post(SET, token=alice, json=removal).status_code == 200
    assert [pusher["pushkey"] for pusher in _listed(homeserver, alice)] == ["two"]


def test_without_append_another_users_pusher_with_the_same_key_is_replaced(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    homeserver.post(SET, token=alice, json=_http_pusher())
    homeserver.post(SET, token=bob, json=_http_pusher(append=True))
    assert len(_listed(homeserver, alice)) == 1
    homeserver.post(SET, token=bob, json=_http_pusher())
    assert _listed(homeserver, alice) == []
    assert len(_listed(homeserver, bob)) == 1


def test_deleting_the_device_that_set_a_pusher_removes_it(homeserver: HomeserverUnderTest) -> None:
    registered = homeserver.register("alice")
    phone = registered["access_token"]
    laptop = homeserver.login("alice")["access_token"]
    homeserver.post(SET, token=phone, json=_http_pusher("phone"))
    homeserver.post(SET, token=laptop, json=_http_pusher("laptop"))
    assert homeserver.post("/_matrix/client/v3/logout", token=phone).status_code == 200
    assert [pusher["pushkey"] for pusher in _listed(homeserver, laptop)] == ["laptop"]


def test_deactivation_removes_every_pusher(homeserver: HomeserverUnderTest) -> None:
    registered = homeserver.register("alice")
    alice = registered["access_token"]
    homeserver.post(SET, token=alice, json=_http_pusher())
    auth = homeserver.password_auth(registered["user_id"])
    first = homeserver.post("/_matrix/client/v3/account/deactivate", token=alice, json={})
    assert first.status_code == 401
    done = homeserver.post("/_matrix/client/v3/account/deactivate", token=alice,
                           json={"auth": {**auth, "session": first.json["session"]}})
    assert done.status_code == 200
    with homeserver.deps.database.read() as conn:
        assert homeserver.deps.stores.pushers.list_pushers(conn, registered["user_id"]) == []


@pytest.mark.parametrize(("change", "status", "errcode"), [
    ({"kind": "carrier-pigeon"}, 400, "M_INVALID_PARAM"),
    ({"data": {}}, 400, "M_MISSING_PARAM"),
    ({"data": {"url": "ftp://push.example.org/_matrix/push/v1/notify"}}, 400, "M_INVALID_PARAM"),
    ({"data": {"url": "https://push.example.org/notify"}}, 400, "M_INVALID_PARAM"),
    ({"data": {"url": 7}}, 400, "M_INVALID_PARAM"),
    ({"app_id": "x" * 65}, 400, "M_INVALID_PARAM"),
    ({"pushkey": "k" * 513}, 400, "M_INVALID_PARAM"),
    ({"lang": None}, 400, "M_MISSING_PARAM"),
    ({"app_display_name": 3}, 400, "M_BAD_JSON"),
])
def test_bad_pushers_get_the_spec_errors(homeserver: HomeserverUnderTest, change: dict[str, Any], status: int,
                                         errcode: str) -> None:
    alice = homeserver.register("alice")["access_token"]
    body = {key: value for key, value in {**_http_pusher(), **change}.items() if value is not None}
    response = homeserver.post(SET, token=alice, json=body)
    assert (response.status_code, response.json["errcode"]) == (status, errcode)
    assert _listed(homeserver, alice) == []


def test_pushers_need_an_access_token(homeserver: HomeserverUnderTest) -> None:
    assert homeserver.get(PUSHERS).status_code == 401
    assert homeserver.post(SET, json=_http_pusher()).status_code == 401
