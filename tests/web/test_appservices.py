"""Application services through the Client-Server API, in both shapes: the as_token acts as the appservice's
users, registers and logs them in, owns its exclusive namespaces, is not rate limited, and the homeserver asks
the appservice about users and aliases it does not know."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.appservice_double import AS_TOKEN, AppServiceDouble, registration, running_appservice
from tests.conftest import HomeserverFactory
from tests.homeserver import HomeserverUnderTest

REGISTER = "/_matrix/client/v3/register"
WHOAMI = "/_matrix/client/v3/account/whoami"


@pytest.fixture
def appservice() -> Iterator[AppServiceDouble]:
    with running_appservice() as running:
        yield running


@pytest.fixture
def server(make_homeserver: HomeserverFactory, appservice: AppServiceDouble, tmp_path: Path) -> HomeserverUnderTest:
    path = registration(tmp_path, url=appservice.url)
    return make_homeserver(app_service_config_files=[path],
                           rc_message={"per_second": 0.1, "burst_count": 1})


def _register_puppet(server: HomeserverUnderTest, localpart: str, **extra: Any) -> Any:
    return server.post(REGISTER, json={"type": "m.login.application_service", "username": localpart, **extra},
                       token=AS_TOKEN)


def test_the_as_token_acts_as_the_sender_and_as_registered_puppets(server: HomeserverUnderTest) -> None:
    assert server.get(WHOAMI, token=AS_TOKEN).json["user_id"] == "@bridgebot:test.local"
    registered = _register_puppet(server, "bridge_alice")
    assert registered.status_code == 200, registered.json
    assert registered.json["user_id"] == "@bridge_alice:test.local" and registered.json["access_token"]
    masquerading = server.get(f"{WHOAMI}?user_id=@bridge_alice:test.local", token=AS_TOKEN)
    assert masquerading.json["user_id"] == "@bridge_alice:test.local"


def test_masquerading_outside_the_namespace_or_as_an_unregistered_puppet_is_forbidden(
        server: HomeserverUnderTest) -> None:
    server.register("alice")
    outside = server.get(f"{WHOAMI}?user_id=@alice:test.local", token=AS_TOKEN)
    assert outside.status_code == 403 and outside.json["errcode"] == "M_FORBIDDEN"
    unregistered = server.get(f"{WHOAMI}?user_id=@bridge_nobody:test.local", token=AS_TOKEN)
    assert unregistered.status_code == 403 and unregistered.json["errcode"] == "M_FORBIDDEN"


def test_masquerading_a_device_needs_an_existing_one(server: HomeserverUnderTest) -> None:
    device = _register_puppet(server, "bridge_bob", device_id="BRIDGEDEV").json["device_id"]
    found = server.get(f"{WHOAMI}?user_id=@bridge_bob:test.local&device_id={device}", token=AS_TOKEN)
    assert found.status_code == 200 and found.json["device_id"] == device
    missing = server.get(f"{WHOAMI}?user_id=@bridge_bob:test.local&device_id=NOPE", token=AS_TOKEN)
    assert missing.status_code == 400 and missing.json["errcode"] == "M_UNKNOWN_DEVICE"


def test_an_appservice_registers_only_in_its_namespace_and_others_not_there(server: HomeserverUnderTest) -> None:
    outside = _register_puppet(server, "carol")
    assert outside.status_code == 400 and outside.json["errcode"] == "M_EXCLUSIVE"
    response = server.post(REGISTER, json={"username": "bridge_carol", "password": "correct horse battery",
                                           "auth": {"type": "m.login.dummy"}})
    assert response.status_code == 400 and response.json["errcode"] == "M_EXCLUSIVE"
    available = server.get("/_matrix/client/v3/register/available?username=bridge_carol")
    assert available.status_code == 400 and available.json["errcode"] == "M_EXCLUSIVE"
    assert _register_puppet(server, "bridge_carol", inhibit_login=True).json == {
        "user_id": "@bridge_carol:test.local", "home_server": "test.local"}
    assert _register_puppet(server, "bridge_carol").json["errcode"] == "M_USER_IN_USE"


def test_the_application_service_login_type_needs_the_as_token(server: HomeserverUnderTest) -> None:
    alice = server.register("alice")["access_token"]
    _register_puppet(server, "bridge_dave", inhibit_login=True)
    body = {"type": "m.login.application_service", "identifier": {"type": "m.id.user", "user": "bridge_dave"}}
    assert {"type": "m.login.application_service"} in server.get("/_matrix/client/v3/login").json["flows"]
    logged_in = server.post("/_matrix/client/v3/login", json=body, token=AS_TOKEN)
    assert logged_in.status_code == 200 and logged_in.json["user_id"] == "@bridge_dave:test.local"
    refused = server.post("/_matrix/client/v3/login", json=body, token=alice)
    assert refused.status_code == 401 and refused.json["errcode"] == "M_UNKNOWN_TOKEN"
    outside = server.post("/_matrix/client/v3/login", token=AS_TOKEN,
                          json={**body, "identifier": {"type": "m.id.user", "user": "alice"}})
    assert outside.status_code == 403


def test_exclusive_aliases_belong_to_the_appservice(server: HomeserverUnderTest) -> None:
    alice = server.register("alice")["access_token"]
    room_id = server.post("/_matrix/client/v3/createRoom", json={}, token=alice).json["room_id"]
    taken = server.put("/_matrix/client/v3/directory/room/%23bridge_chan:test.local", json={"room_id": room_id},
                       token=alice)
    assert taken.status_code == 400 and taken.json["errcode"] == "M_EXCLUSIVE"
    created = server.post("/_matrix/client/v3/createRoom", json={"room_alias_name": "bridge_other"}, token=alice)
    assert created.status_code == 400 and created.json["errcode"] == "M_EXCLUSIVE"
    made = server.put("/_matrix/client/v3/directory/room/%23bridge_chan:test.local", json={"room_id": room_id},
                      token=AS_TOKEN)
    assert made.status_code == 200, made.json
    assert server.get("/_matrix/client/v3/directory/room/%23bridge_chan:test.local").json["room_id"] == room_id


def test_an_appservice_without_rate_limiting_is_not_limited(server: HomeserverUnderTest) -> None:
    alice = server.register("alice")["access_token"]
    room_id = server.post("/_matrix/client/v3/createRoom", json={}, token=alice).json["room_id"]
    server.post(f"/_matrix/client/v3/rooms/{room_id}/invite", json={"user_id": "@bridgebot:test.local"},
                token=alice)
    assert server.post(f"/_matrix/client/v3/rooms/{room_id}/join", json={}, token=AS_TOKEN).status_code == 200
    for n in range(4):
        sent = server.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/as{n}",
                          json={"msgtype": "m.text", "body": str(n)}, token=AS_TOKEN)
        assert sent.status_code == 200, sent.json
    statuses = [server.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/u{n}",
                           json={"msgtype": "m.text", "body": str(n)}, token=alice).status_code for n in range(3)]
    assert 429 in statuses


def test_an_unknown_puppet_is_asked_for_and_made_by_the_appservice(server: HomeserverUnderTest,
                                                                   appservice: AppServiceDouble) -> None:
    def make(user_id: str) -> bool:
        if user_id != "@bridge_erin:test.local":
            return False
        return _register_puppet(server, "bridge_erin", inhibit_login=True).status_code == 200

    appservice.on_user_query = make
    alice = server.register("alice")["access_token"]
    profile = server.get("/_matrix/client/v3/profile/@bridge_erin:test.local", token=alice)
    assert profile.status_code == 200 and profile.json["displayname"] == "bridge_erin"
    assert ("GET", "/_matrix/app/v1/users/@bridge_erin:test.local") in appservice.requests
    unknown = server.get("/_matrix/client/v3/profile/@bridge_nobody:test.local", token=alice)
    assert unknown.status_code == 404


def test_an_unknown_alias_is_asked_for_and_made_by_the_appservice(server: HomeserverUnderTest,
                                                                  appservice: AppServiceDouble) -> None:
    alice = server.register("alice")["access_token"]
    room_id = server.post("/_matrix/client/v3/createRoom", json={}, token=alice).json["room_id"]

    def make(alias: str) -> bool:
        return server.put(f"/_matrix/client/v3/directory/room/{alias.replace('#', '%23')}",
                          json={"room_id": room_id}, token=AS_TOKEN).status_code == 200

    appservice.on_alias_query = make
    found = server.get("/_matrix/client/v3/directory/room/%23bridge_lobby:test.local", token=alice)
    assert found.status_code == 200 and found.json["room_id"] == room_id
    missing = server.get("/_matrix/client/v3/directory/room/%23elsewhere:test.local", token=alice)
    assert missing.status_code == 404


def test_the_appservice_pings_itself_through_the_homeserver(server: HomeserverUnderTest,
                                                           appservice: AppServiceDouble) -> None:
    ping = "/_matrix/client/v1/appservice/bridge/ping"
    answered = server.post(ping, json={"transaction_id": "t1"}, token=AS_TOKEN)
    assert answered.status_code == 200 and isinstance(answered.json["duration_ms"], int)
    assert ("POST", "/_matrix/app/v1/ping") in appservice.requests
    appservice.failing = True
    failed = server.post(ping, json={}, token=AS_TOKEN)
    assert failed.status_code == 502 and failed.json["errcode"] == "M_BAD_STATUS"
    assert failed.json["status_code"] == 500
    other = server.post("/_matrix/client/v1/appservice/someone-else/ping", json={}, token=AS_TOKEN)
    assert other.status_code == 403 and other.json["errcode"] == "M_FORBIDDEN"


def test_pinging_an_appservice_without_a_url(make_homeserver: HomeserverFactory, tmp_path: Path) -> None:
    server = make_homeserver(app_service_config_files=[registration(tmp_path, url=None)])
    answered = server.post("/_matrix/client/v1/appservice/bridge/ping", json={}, token=AS_TOKEN)
    assert answered.status_code == 400 and answered.json["errcode"] == "M_URL_NOT_SET"


def test_third_party_lookups_ask_the_protocols_appservices(make_homeserver: HomeserverFactory,
                                                           appservice: AppServiceDouble, tmp_path: Path) -> None:
    server = make_homeserver(app_service_config_files=[registration(tmp_path, url=appservice.url,
                                                                    protocols=["gitter"])])
    appservice.thirdparty = {
        "protocol/gitter": {"user_fields": ["name"], "location_fields": ["room"], "icon": "mxc://x/y",
                            "field_types": {}, "instances": [{"desc": "Gitter", "network_id": "gitter"}]},
        "user/gitter?name=ann": [{"userid": "@bridge_ann:test.local", "protocol": "gitter", "fields": {}}],
        "location?alias=%23bridge_x%3Atest.local": [{"alias": "#bridge_x:test.local", "protocol": "gitter",
                                                     "fields": {}}],
    }
    alice = server.register("alice")["access_token"]
    protocols = server.get("/_matrix/client/v3/thirdparty/protocols", token=alice).json
    assert protocols["gitter"]["instances"] == [{"desc": "Gitter", "network_id": "gitter",
                                                 "instance_id": "bridge|gitter"}]
    assert server.get("/_matrix/client/v3/thirdparty/protocol/gitter", token=alice).json == protocols["gitter"]
    assert server.get("/_matrix/client/v3/thirdparty/protocol/irc", token=alice).status_code == 404
    users = server.get("/_matrix/client/v3/thirdparty/user/gitter?name=ann", token=alice).json
    assert users == [{"userid": "@bridge_ann:test.local", "protocol": "gitter", "fields": {}}]
    locations = server.get("/_matrix/client/v3/thirdparty/location?alias=%23bridge_x%3Atest.local",
                           token=alice).json
    assert locations[0]["alias"] == "#bridge_x:test.local"


def test_an_appservice_lists_rooms_in_its_own_network(server: HomeserverUnderTest) -> None:
    alice = server.register("alice")["access_token"]
    room_id = server.post("/_matrix/client/v3/createRoom", json={"preset": "public_chat"}, token=alice).json[
        "room_id"]
    listing = f"/_matrix/client/v3/directory/list/appservice/irc/{room_id}"
    refused = server.put(listing, json={"visibility": "public"}, token=alice)
    assert refused.status_code == 403 and refused.json["errcode"] == "M_FORBIDDEN"
    assert server.put(listing, json={"visibility": "public"}, token=AS_TOKEN).status_code == 200

    def listed(**search: Any) -> list[str]:
        body = server.post("/_matrix/client/v3/publicRooms", json=search, token=alice).json
        return [room["room_id"] for room in body["chunk"]]

    assert room_id not in listed()
    assert room_id in listed(third_party_instance_id="bridge|irc")
    assert room_id not in listed(third_party_instance_id="bridge|other")
    assert room_id in listed(include_all_networks=True)
    assert server.delete(listing, token=AS_TOKEN).status_code == 200
    assert room_id not in listed(third_party_instance_id="bridge|irc")
