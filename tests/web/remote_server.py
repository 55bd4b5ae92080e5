"""A pretend remote homeserver that takes part in a local room: it builds and signs real PDUs with its own key
(served through the key cache, ``tests/web/federation_peers.py``) and sends them in transactions.

It reads the room the way a resident server would know it after joining (the local store's forward extremities
and current state), so its events cite real prev and auth events; tests then bend one thing at a time (a forged
signature, a wrong origin, a prev event nobody has) and watch what the server under test does.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from werkzeug.test import TestResponse

from protocol.auth import auth_types_for_event
from protocol.events.builder import EventTemplate, build_event
from protocol.events.model import Event
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.signing import SigningKey
from tests.homeserver import HomeserverUnderTest
from tests.web.federation_peers import REMOTE, REMOTE_KEY, seed_remote_keys, signed_request

BOB = f"@bob:{REMOTE}"


class RemoteServer:
    def __init__(self, homeserver: HomeserverUnderTest, *, name: str = REMOTE, key: SigningKey = REMOTE_KEY) -> None:
        self.homeserver = homeserver
        self.name = name
        self.key = key
        self._txn = itertools.count(1)
        self._opaque = itertools.count(1)
        seed_remote_keys(homeserver, key=key, server_name=name)

    # --- reading the room as a resident would know it ------------------------------------------------------
    def _stored(self, event_ids: Sequence[str]) -> list[Event]:
        deps = self.homeserver.deps
        with deps.database.read() as conn:
            found = deps.stores.events.get_events(conn, event_ids)
        return [found[event_id].event for event_id in event_ids]

    def latest(self, room_id: str) -> list[Event]:
        deps = self.homeserver.deps
        with deps.database.read() as conn:
            extremities = deps.stores.events.list_forward_extremities(conn, room_id)
        return self._stored(extremities)

    def event(self, event_id: str) -> Event:
        return self._stored([event_id])[0]

    def build(self, room_id: str, sender: str, event_type: str, content: dict[str, Any], *,
              state_key: str | None = None, prev: Sequence[Event] | None = None,
              auth: Sequence[Event] | None = None, key: SigningKey | None = None,
              redacts: str | None = None) -> Event:
        """A signed event of ``sender`` (a user of this server) built on ``prev`` (default: the room's latest
        events), citing ``auth`` (default: what auth events selection picks from the current state)."""
        deps = self.homeserver.deps
        with deps.database.read() as conn:
            room = deps.stores.rooms.get_room(conn, room_id)
            assert room is not None
            version = KNOWN_ROOM_VERSIONS[room.room_version]
            if auth is None:
                wanted = auth_types_for_event(event_type, sender, state_key, content, version)
                current = deps.stores.state.get_current_state_ids_for(conn, room_id, wanted)
                auth = self._stored(sorted(current.values()))
        return build_event(
            version, EventTemplate(event_type, content, state_key, redacts), room_id=room_id, sender=sender,
            prev_events=list(prev) if prev is not None else self.latest(room_id),
            auth_events=sorted(auth, key=lambda event: event.event_id),
            origin_server_ts=self.homeserver.clock.now_ms(), server_name=self.name, signing_key=key or self.key,
            opaque_id=f"remote{next(self._opaque)}")

    def join(self, room_id: str, user_id: str = BOB) -> Event:
        """``user_id`` joins (the room must let them: public, or an invite held)."""
        event = self.build(room_id, user_id, "m.room.member", {"membership": "join"}, state_key=user_id)
        assert self.send([event]).json == {"pdus": {event.event_id: {}}}
        return event

    # --- talking to the server under test ----------------------------------------------------------------------
    def send(self, events: Sequence[Event | dict[str, Any]], *, txn_id: str | None = None,
             edus: Sequence[dict[str, Any]] = (), origin: str | None = None) -> TestResponse:
        pdus = [dict(item.pdu) if isinstance(item, Event) else item for item in events]
        body = {"origin": origin or self.name, "origin_server_ts": self.homeserver.clock.now_ms(), "pdus": pdus,
                "edus": list(edus)}
        return self.request("PUT", f"/_matrix/federation/v1/send/{txn_id or f'txn{next(self._txn)}'}", body)

    def request(self, method: str, uri: str, content: Any = None) -> TestResponse:
        return signed_request(self.homeserver, method, uri, content, origin=self.name, key=self.key)
