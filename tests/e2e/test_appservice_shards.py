"""Appservices sharded by id between two appservice instances (``appservice_instances``), in the worker shape with
real Celery workers, Redis and PostgreSQL.

``alpha`` lands on ``as2`` and ``beta`` on ``as1`` (rendezvous hashing of the id, pinned in
tests/config/test_config.py). With ``as1`` stopped, ``alpha`` still gets every message, in order, and ``beta``
nothing, since no other instance consumes its queue; once ``as1`` is back, ``beta`` gets them all, in order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from config.routing import shard_for
from tests.appservice_double import AppServiceDouble, registration, running_appservice
from tests.e2e.servers import SERVER_NAME, RunningServer, _spawn, celery_nodes, start_workers, wait_for_celery

pytestmark = [pytest.mark.e2e, pytest.mark.workers]

SHARDS = ("as1", "as2")
INSTANCES = ("main", *SHARDS)
MESSAGES = 8
LIMIT = {"per_second": 100000, "burst_count": 100000}


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict[str, AppServiceDouble]]]:
    directory = Path(tmp_path_factory.mktemp("appservice-shards"))
    with ExitStack() as stack:
        doubles = {name: stack.enter_context(running_appservice(hs_token=f"{name}-hs")) for name in ("alpha", "beta")}
        paths = [registration(directory, url=double.url, name=name, as_token=f"{name}-as", hs_token=f"{name}-hs",
                              server_name=SERVER_NAME) for name, double in doubles.items()]
        server = start_workers(directory, instances=INSTANCES, appservice_instances=list(SHARDS),
                               app_service_config_files=paths, rc_message=LIMIT, rc_room_creation=LIMIT)
        try:
            yield server, doubles
        finally:
            server.stop()


def _messages(double: AppServiceDouble) -> list[str]:
    return [event["event_id"] for event in double.events() if event["type"] == "m.room.message"]


def _wait_for_messages(double: AppServiceDouble, count: int, timeout: float = 120.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(_messages(double)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return _messages(double)


def test_each_appservice_is_sent_its_transactions_in_order_by_its_own_instance(
        sharded: tuple[RunningServer, dict[str, AppServiceDouble]]) -> None:
    server, doubles = sharded
    assert (shard_for(SHARDS, "alpha"), shard_for(SHARDS, "beta")) == ("as2", "as1")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        body = {"username": "carol", "password": "pw", "auth": {"type": "m.login.dummy"}}
        token = client.post("/_matrix/client/v3/register", json=body).json()["access_token"]
        carol = {"Authorization": f"Bearer {token}"}
        room = client.post("/_matrix/client/v3/createRoom", headers=carol, json={
            "invite": [f"@alphabot:{SERVER_NAME}", f"@betabot:{SERVER_NAME}"]}).json()["room_id"]
        for name in doubles:
            joined = client.post(f"/_matrix/client/v3/rooms/{room}/join", json={},
                                 headers={"Authorization": f"Bearer {name}-as"})
            assert joined.status_code == 200, joined.text

        as1 = next(process for process in server.processes if process.name == "worker-as1")
        as1.stop()  # beta's instance: its queue now has no consumer
        sent = []
        for index in range(MESSAGES):
            response = client.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/m{index}", headers=carol,
                                  json={"msgtype": "m.text", "body": str(index)})
            assert response.status_code == 200, response.text
            sent.append(response.json()["event_id"])

    assert _wait_for_messages(doubles["alpha"], MESSAGES) == sent, "alpha (as2): every message once, in order"
    assert _messages(doubles["beta"]) == [], "beta's deliveries wait for as1: no other instance ran them"

    server.processes[server.processes.index(as1)] = _spawn(as1.name, as1.argv, server.directory)
    wait_for_celery(server, workers=celery_nodes(server.config_path, INSTANCES))
    assert _wait_for_messages(doubles["beta"], MESSAGES) == sent, "beta (as1): every message once, in order"
    for double in doubles.values():
        txn_ids = [int(txn_id) for txn_id in double.transactions]
        assert txn_ids == list(range(1, len(txn_ids) + 1)), "transaction ids increase from 1, none skipped"
