"""A key backup round trip against running servers, over plain HTTP: two devices back up keys at the same time
(through two gunicorn processes, or both Procfile web processes), a device that logs in later restores every key,
and the database holds exactly the client's session data."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.servers import E2E_SHAPES, SERVER_NAME, RunningServer, fresh_localpart, query, serving

pytestmark = pytest.mark.e2e

ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = f"!encrypted:{SERVER_NAME}"


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "backup") as running:
        yield running


def _client(server: RunningServer, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"{server.base_url}/_matrix/client/v3", headers=headers, timeout=30)


def _login(server: RunningServer, user: str, device_id: str) -> httpx.Client:
    with _client(server) as anonymous:
        response = anonymous.post("/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": "pw",
            "device_id": device_id})
    assert response.status_code == 200, response.text
    return _client(server, response.json()["access_token"])


def _session_key(device: str, n: int) -> dict[str, Any]:
    return {"first_message_index": n % 3, "forwarded_count": 0, "is_verified": n % 2 == 0,
            "session_data": {"ephemeral": f"eph-{device}-{n}", "ciphertext": f"ct-{device}-{n}", "mac": "mac"}}


def test_two_devices_back_up_at_once_and_a_new_device_restores_everything(server: RunningServer) -> None:
    keeper = fresh_localpart("keeper")
    with _client(server) as anonymous:
        registered = anonymous.post("/register", json={"username": keeper, "password": "pw",
                                                       "auth": {"type": "m.login.dummy"}})
    assert registered.status_code == 200, registered.text
    laptop, phone = _login(server, keeper, "LAPTOP"), _login(server, keeper, "PHONE")
    created = laptop.post("/room_keys/version", json={"algorithm": ALGORITHM,
                                                      "auth_data": {"public_key": "backup-public-key"}})
    assert created.status_code == 200, created.text
    version = created.json()["version"]
    assert phone.get("/room_keys/version").json()["version"] == version, "the other device discovers the backup"

    per_device, failures = 20, []
    start = threading.Barrier(2)

    def back_up(client: httpx.Client, device: str) -> None:
        start.wait()
        for n in range(per_device):
            body = {"rooms": {ROOM: {"sessions": {f"{device}-{n}": _session_key(device, n)}}}}
            response = client.put("/room_keys/keys", params={"version": version}, json=body)
            if response.status_code != 200:
                failures.append(response.text)

    threads = [threading.Thread(target=back_up, args=(client, name))
               for client, name in ((laptop, "laptop"), (phone, "phone"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

    tablet = _login(server, keeper, "TABLET")
    described = tablet.get("/room_keys/version").json()
    assert (described["count"], described["etag"]) == (2 * per_device, str(2 * per_device))
    restored = tablet.get("/room_keys/keys", params={"version": version})
    assert restored.status_code == 200, restored.text
    expected = {f"{device}-{n}": _session_key(device, n) for device in ("laptop", "phone") for n in range(per_device)}
    assert restored.json() == {"rooms": {ROOM: {"sessions": expected}}}

    stored = query(server, "SELECT session_id, session_data FROM room_key_backup_keys WHERE user_id = :user",
                   user=f"@{keeper}:{SERVER_NAME}")
    assert {session_id: json.loads(data) for session_id, data in stored} == {
        session_id: key["session_data"] for session_id, key in expected.items()}, "the server stores what was sent"

    replaced = laptop.post("/room_keys/version", json={"algorithm": ALGORITHM, "auth_data": {"public_key": "new"}})
    stale = phone.put(f"/room_keys/keys/{ROOM}/late", params={"version": version}, json=_session_key("phone", 99))
    assert (stale.status_code, stale.json()["errcode"]) == (403, "M_WRONG_ROOM_KEYS_VERSION")
    assert stale.json()["current_version"] == replaced.json()["version"]
    for client in (laptop, phone, tablet):
        client.close()
