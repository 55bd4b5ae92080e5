"""Work the config switches off in a process is not done there, in the monolith as in the worker shape (where no
queue takes it): ``start_pushers: false`` sends no push, ``notify_appservices: false`` no transaction."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.appservice_double import registration, running_appservice
from tests.conftest import HomeserverFactory
from tests.push_gateway import PushGateway, running_push_gateway

ROOMS = "/_matrix/client/v3/rooms"


@pytest.fixture
def gateway() -> Iterator[PushGateway]:
    with running_push_gateway() as running:
        yield running


@pytest.mark.parametrize("shape", ["monolith"])
@pytest.mark.parametrize("start_pushers", [True, False])
def test_start_pushers_false_sends_no_push(make_homeserver: HomeserverFactory, gateway: PushGateway,
                                           start_pushers: bool) -> None:
    server = make_homeserver(start_pushers=start_pushers)
    alice = server.register("alice")["access_token"]
    bob = server.register("bob")["access_token"]
    room_id = server.post("/_matrix/client/v3/createRoom", token=bob,
                          json={"invite": ["@alice:test.local"]}).json["room_id"]
    server.post(f"{ROOMS}/{room_id}/join", token=alice, json={})
    server.post("/_matrix/client/v3/pushers/set", token=alice, json={
        "kind": "http", "app_id": "org.example.app", "pushkey": "phone", "app_display_name": "Example",
        "device_display_name": "Phone", "lang": "en", "data": {"url": gateway.url}})
    server.put(f"{ROOMS}/{room_id}/send/m.room.message/t1", token=bob, json={"msgtype": "m.text", "body": "hi"})
    if start_pushers:
        gateway.wait_for_events(1)
    else:
        time.sleep(1.0)
        assert gateway.events() == []


@pytest.mark.parametrize("shape", ["monolith"])
@pytest.mark.parametrize("notify_appservices", [True, False])
def test_notify_appservices_false_sends_no_transaction(make_homeserver: HomeserverFactory, tmp_path: Path,
                                                       notify_appservices: bool) -> None:
    with running_appservice() as appservice:
        server = make_homeserver(notify_appservices=notify_appservices,
                                 app_service_config_files=[registration(tmp_path, url=appservice.url)])
        alice = server.register("alice")["access_token"]
        room_id = server.post("/_matrix/client/v3/createRoom", token=alice, json={}).json["room_id"]
        server.post(f"{ROOMS}/{room_id}/invite", token=alice, json={"user_id": "@bridgebot:test.local"})
        if notify_appservices:
            appservice.wait_for_events(1)
        else:
            time.sleep(1.0)
            assert appservice.received == []
