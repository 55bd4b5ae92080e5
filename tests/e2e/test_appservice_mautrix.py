"""mautrix-python, the library most Python bridges are built on, runs as a real application service against the
monolith, the worker shape and the Procfile deployment (the session's shared one, which carries the bridge's
registration from its start): it registers puppets and acts as them, receives the room's events in order through
transactions (each once), answers the homeserver's user and alias queries, and pings itself through the
homeserver."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mautrix.appservice import AppService
from mautrix.appservice.state_store.file import FileASStateStore
from mautrix.types import Event, EventType, MessageEvent, RoomAlias, RoomID, TextMessageEventContent, UserID

from tests.e2e.bridge_registration import APPSERVICE_ID, BOT_LOCALPART, BridgeRegistration, write_bridge_registration
from tests.e2e.procfile import ProcfileDeployment
from tests.e2e.servers import HOST, SERVER_NAME, RunningServer, start_server

pytestmark = pytest.mark.e2e

PUPPETS = 3
MESSAGES = 12


class Bridge:
    def __init__(self, server: RunningServer, registration: BridgeRegistration, state: Path) -> None:
        self.received: list[Event] = []
        self.appservice = AppService(
            server=server.base_url, domain=SERVER_NAME, as_token=registration.as_token,
            hs_token=registration.hs_token, bot_localpart=BOT_LOCALPART, id=APPSERVICE_ID,
            state_store=FileASStateStore(str(state), binary=False),
            query_user=self._query_user, query_alias=self._query_alias, ephemeral_events=True)
        self.appservice.matrix_event_handler(self._on_event)
        self.alias_room: RoomID | None = None

    async def _on_event(self, event: Event) -> None:
        self.received.append(event)

    async def _query_user(self, user_id: UserID) -> dict[str, Any] | None:
        if not user_id.startswith("@mautrix_ondemand"):
            return None
        await self.appservice.intent.user(user_id).ensure_registered()
        return {"made": user_id}  # mautrix answers 404 for an empty (falsy) answer

    async def _query_alias(self, alias: RoomAlias) -> dict[str, Any] | None:
        if not alias.startswith("#mautrix_portal"):
            return None
        room_id = await self.appservice.intent.create_room()
        await self.appservice.intent.add_room_alias(room_id, alias.split(":")[0][1:])
        self.alias_room = room_id
        return {"made": alias}


@pytest.fixture(scope="module", params=("monolith", "workers", "procfile"))
def bridged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[RunningServer, BridgeRegistration, Path]]:
    directory = Path(tmp_path_factory.mktemp(f"mautrix-{request.param}"))
    if request.param == "procfile":
        deployment: ProcfileDeployment = request.getfixturevalue("procfile_deployment").running()
        assert deployment.bridge is not None
        yield deployment, deployment.bridge, directory
        return
    registration = write_bridge_registration(directory)
    server = start_server(str(request.param), directory, app_service_config_files=[str(registration.path)])
    try:
        yield server, registration, directory
    finally:
        server.stop()


async def _client_user(http: httpx.AsyncClient, localpart: str) -> str:
    response = await http.post("/_matrix/client/v3/register", json={
        "username": localpart, "password": "correct horse battery", "auth": {"type": "m.login.dummy"}})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _wait_for(probe: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not probe():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the bridge did not see it in time")
        await asyncio.sleep(0.1)


def test_a_mautrix_bridge_puppets_receives_answers_and_pings(
        bridged: tuple[RunningServer, BridgeRegistration, Path]) -> None:
    server, registration, directory = bridged

    async def conversation() -> None:
        bridge = Bridge(server, registration, directory / "mx-state.json")
        await bridge.appservice.start(HOST, registration.port)
        http = httpx.AsyncClient(base_url=server.base_url, timeout=30)
        try:
            alice = await _client_user(http, f"alice{secrets.token_hex(3)}")
            auth = {"Authorization": f"Bearer {alice}"}
            room_id = (await http.post("/_matrix/client/v3/createRoom", json={"preset": "public_chat"},
                                       headers=auth)).json()["room_id"]
            puppets = [bridge.appservice.intent.user(UserID(f"@mautrix_p{n}:{SERVER_NAME}"))
                       for n in range(PUPPETS)]
            for puppet in puppets:
                await puppet.ensure_joined(RoomID(room_id))
            sent: list[str] = []
            for n in range(MESSAGES):
                if n % 2:
                    event_id = await puppets[n % PUPPETS].send_text(RoomID(room_id), f"puppet {n}")
                else:
                    response = await http.put(
                        f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t{n}",
                        json={"msgtype": "m.text", "body": f"alice {n}"}, headers=auth)
                    event_id = response.json()["event_id"]
                sent.append(str(event_id))

            def messages() -> list[str]:
                return [str(e.event_id) for e in bridge.received
                        if isinstance(e, MessageEvent) and e.type == EventType.ROOM_MESSAGE]

            await _wait_for(lambda: len(messages()) >= MESSAGES)
            assert messages() == sent  # every message once, in the order the room has them
            bodies = [e.content.body for e in bridge.received if isinstance(e, MessageEvent)
                      and isinstance(e.content, TextMessageEventContent)]
            assert bodies[:2] == ["alice 0", "puppet 1"]

            # The homeserver asks the bridge about a puppet nobody registered yet, and about a portal alias.
            profile = await http.get(f"/_matrix/client/v3/profile/@mautrix_ondemand:{SERVER_NAME}", headers=auth)
            assert profile.status_code == 200, profile.text
            portal = await http.get(f"/_matrix/client/v3/directory/room/%23mautrix_portal:{SERVER_NAME}",
                                    headers=auth)
            assert portal.status_code == 200, portal.text
            assert portal.json()["room_id"] == bridge.alias_room

            assert await bridge.appservice.ping_self("ping-1") >= 0
        finally:
            await http.aclose()
            await bridge.appservice.stop()

    asyncio.run(conversation())
