"""The outbound queues across a SIGKILL of their worker process (real Celery, Redis and PostgreSQL, with beat).

The pusher worker is killed in the one window its delivery is at-least-once: the gateway has taken a
notification and not yet answered (docs/architecture.md, "Pushes, emails and appservice transactions across a
crash"). The appservice worker is killed at the same moment, mid-burst. Once both are back:

- the push gateway has been sent every notifying event, in order, the one in the window twice under the same
  ``event_id``, so a gateway suppressing duplicates by ``event_id`` as the Push Gateway API asks alerts each
  event exactly once;
- the application service has every event exactly once, in order (it drops a transaction id it has seen, as the
  Application Service API asks).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.appservice_double import AS_TOKEN, AppServiceDouble, registration, running_appservice
from tests.e2e.servers import (
    SERVER_NAME,
    RunningServer,
    _spawn,
    celery_nodes,
    ganglion,
    start_workers,
    wait_for_celery,
)
from tests.push_gateway import PushGateway, running_push_gateway

pytestmark = pytest.mark.e2e

LIMIT = {"per_second": 100000, "burst_count": 100000}
MESSAGES = 40
HELD = 5
"""The notification whose answer the gateway keeps back while the pusher worker is killed."""
VISIBILITY_TIMEOUT = 10
INSTANCES = ("main", "pusher1", "appservice1")


@pytest.fixture(scope="module")
def outbound(tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[RunningServer, PushGateway, AppServiceDouble]]:
    directory = Path(tmp_path_factory.mktemp("outbound-crash"))
    with running_push_gateway() as gateway, running_appservice() as appservice:
        path = registration(directory, url=appservice.url, server_name=SERVER_NAME)
        server = start_workers(directory, instances=INSTANCES, pusher_instances=["pusher1"],
                               notify_appservices_from_worker="appservice1", app_service_config_files=[path],
                               rc_message=LIMIT, rc_room_creation=LIMIT, ip_range_whitelist=["127.0.0.1/32"],
                               redis_extra={"visibility_timeout": VISIBILITY_TIMEOUT})
        try:
            server.processes.append(_spawn("beat", ganglion("beat", "--config", str(server.config_path)),
                                           directory))
            yield server, gateway, appservice
        finally:
            server.stop()


def _kill_and_restart(server: RunningServer, name: str) -> None:
    process = next(p for p in server.processes if p.name == name)
    os.killpg(process.popen.pid, signal.SIGKILL)
    process.popen.wait(timeout=10)
    time.sleep(1)
    server.processes[server.processes.index(process)] = _spawn(process.name, process.argv, server.directory)


def test_sigkilled_pusher_and_appservice_workers_lose_and_double_nothing(
        outbound: tuple[RunningServer, PushGateway, AppServiceDouble]) -> None:
    server, gateway, appservice = outbound
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        def register(name: str) -> str:
            body = {"username": name, "password": "pw", "auth": {"type": "m.login.dummy"}}
            return str(client.post("/_matrix/client/v3/register", json=body).json()["access_token"])

        alice, bob = register("alice"), register("bob")
        room = client.post("/_matrix/client/v3/createRoom", headers={"Authorization": f"Bearer {bob}"},
                           json={"invite": [f"@alice:{SERVER_NAME}", f"@bridgebot:{SERVER_NAME}"]}).json()["room_id"]
        client.post(f"/_matrix/client/v3/rooms/{room}/join", json={}, headers={"Authorization": f"Bearer {alice}"})
        joined = client.post(f"/_matrix/client/v3/rooms/{room}/join", json={},
                             headers={"Authorization": f"Bearer {AS_TOKEN}"})
        assert joined.status_code == 200, joined.text
        pusher = {"kind": "http", "app_id": "org.example.app", "pushkey": "alice-phone", "app_display_name": "X",
                  "device_display_name": "Phone", "lang": "en", "data": {"url": gateway.url}}
        assert client.post("/_matrix/client/v3/pushers/set", json=pusher,
                           headers={"Authorization": f"Bearer {alice}"}).status_code == 200

        sent: list[str] = []

        def send_all() -> None:
            for index in range(MESSAGES):
                response = client.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/m{index}",
                                      json={"msgtype": "m.text", "body": str(index)},
                                      headers={"Authorization": f"Bearer {bob}"})
                assert response.status_code == 200, response.text
                sent.append(response.json()["event_id"])
                time.sleep(0.05)

        gateway.hold_answer_to(HELD)
        sender = threading.Thread(target=send_all)
        sender.start()
        assert gateway.holding.wait(120), "the gateway was never sent the notification to hold"
        _kill_and_restart(server, "worker-pusher1")  # it handed the notification over and never heard back
        _kill_and_restart(server, "worker-appservice1")
        gateway.release.set()
        sender.join(timeout=120)
        assert len(sent) == MESSAGES
    wait_for_celery(server, workers=celery_nodes(server.config_path, INSTANCES))

    # A claim held by a killed delivery runs out (pushers 60 s, appservices 120 s); beat's sweeps take over.
    notified = gateway.wait_for_events(MESSAGES + 1, timeout=200)
    pushed = [n["event_id"] for n in notified]
    assert pushed == sent[:HELD] + sent[HELD - 1:], "in order, the one in the window again, nothing else twice"
    assert gateway.alerts() == [("alice-phone", event_id) for event_id in sent], "one alert per event"

    deadline = time.monotonic() + 200
    while time.monotonic() < deadline:
        bridged = [e["event_id"] for e in appservice.events() if e["type"] == "m.room.message"]
        if len(bridged) >= MESSAGES:
            break
        time.sleep(0.5)
    assert bridged == sent, "every event once, in order"
    txn_ids = [int(txn_id) for txn_id in appservice.transactions]
    assert txn_ids == sorted(txn_ids) and txn_ids[0] == 1, "transaction ids increase from 1"
