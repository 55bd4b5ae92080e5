"""A pretend remote server's side of membership handshakes: it signs the templates our server hands out, and
builds rooms of its own (signed events, as a resident would hold them) for our users to join or be invited to.

Built on the same protocol core the server uses (``protocol/events``), with the remote server's own key, so what
it signs verifies exactly when a real server's would.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from protocol.auth import auth_types_for_event
from protocol.events.builder import EventTemplate, build_event, v12_room_id
from protocol.events.ids import legacy_room_id
from protocol.events.model import Event, StateKey
from protocol.events.signatures import hash_and_sign_event
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomIdFormat, RoomVersion
from protocol.signing import SigningKey
from tests.web.federation_peers import REMOTE, REMOTE_KEY


def q(value: str) -> str:
    return quote(value, safe="")


def sign_template(template: Mapping[str, Any], room_version: str, *, server_name: str = REMOTE,
                  key: SigningKey = REMOTE_KEY, **changes: Any) -> dict[str, Any]:
    """What a joining server does with a ``make_*`` answer: fill in, hash and sign it."""
    pdu = {**template, "origin_server_ts": int(time.time() * 1000), **changes}
    pdu.pop("signatures", None)
    pdu.pop("hashes", None)
    return hash_and_sign_event(pdu, KNOWN_ROOM_VERSIONS[room_version], server_name, key)


def event_id_of(pdu: Mapping[str, Any], room_version: str) -> str:
    return Event.from_pdu(pdu, KNOWN_ROOM_VERSIONS[room_version]).event_id


@dataclass
class RemoteRoom:
    """A room held by the remote server: its events in order and its current state."""

    room_id: str
    version: RoomVersion
    creator: str
    events: list[Event] = field(default_factory=list)
    state: dict[StateKey, Event] = field(default_factory=dict)
    key: SigningKey = REMOTE_KEY
    server_name: str = REMOTE

    @staticmethod
    def create(creator: str, room_version: str = "10", *, join_rule: str = "public",
               key: SigningKey = REMOTE_KEY, server_name: str = REMOTE) -> RemoteRoom:
        version = KNOWN_ROOM_VERSIONS[room_version]
        content: dict[str, Any] = {"room_version": room_version}
        if version.create_event_has_creator:
            content["creator"] = creator
        now = int(time.time() * 1000)
        if version.room_id_format is RoomIdFormat.CREATE_EVENT_HASH:
            room_id = v12_room_id(version, content, sender=creator, origin_server_ts=now, server_name=server_name)
        else:
            room_id = legacy_room_id(secrets.token_hex(8), server_name)
        room = RemoteRoom(room_id, version, creator, key=key, server_name=server_name)
        create = build_event(version, EventTemplate("m.room.create", content, ""),
                             room_id=None if version.room_id_format is RoomIdFormat.CREATE_EVENT_HASH else room_id,
                             sender=creator, prev_events=(), auth_events=(), origin_server_ts=now,
                             server_name=server_name, signing_key=key, opaque_id=secrets.token_hex(8))
        room._add(create)
        room.send("m.room.member", {"membership": "join"}, creator, state_key=creator)
        # From v12 the creator's power is infinite and may not be listed (rooms/v12 auth rules).
        users = {} if version.room_creators_have_infinite_power else {creator: 100}
        room.send("m.room.power_levels", {"users": users}, creator, state_key="")
        room.send("m.room.join_rules", {"join_rule": join_rule}, creator, state_key="")
        return room

    def _add(self, event: Event) -> Event:
        self.events.append(event)
        if event.is_state:
            self.state[event.state_tuple] = event
        return event

    def send(self, event_type: str, content: Mapping[str, Any], sender: str, *,
             state_key: str | None = None) -> Event:
        """Build, sign and append an event as the resident server would."""
        return self._add(self.build(event_type, content, sender, state_key=state_key))

    def build(self, event_type: str, content: Mapping[str, Any], sender: str, *,
              state_key: str | None = None) -> Event:
        wanted = auth_types_for_event(event_type, sender, state_key, content, self.version)
        auth = sorted((self.state[key] for key in wanted if key in self.state), key=lambda e: e.event_id)
        return build_event(self.version, EventTemplate(event_type, content, state_key), room_id=self.room_id,
                           sender=sender, prev_events=self.events[-1:], auth_events=auth,
                           origin_server_ts=int(time.time() * 1000), server_name=self.server_name,
                           signing_key=self.key, opaque_id=secrets.token_hex(8))

    def template(self, event_type: str, content: Mapping[str, Any], sender: str, *,
                 state_key: str | None = None) -> dict[str, Any]:
        """A ``make_*`` answer's event: built like :meth:`build` but stripped of hashes and signatures."""
        pdu = dict(self.build(event_type, content, sender, state_key=state_key).pdu)
        pdu.pop("hashes")
        pdu.pop("signatures")
        return pdu

    def auth_chain(self) -> list[Event]:
        by_id = {event.event_id: event for event in self.events}
        chain: dict[str, Event] = {}
        todo = [event_id for event in self.state.values() for event_id in event.auth_event_ids]
        while todo:
            event_id = todo.pop()
            if event_id in chain or event_id not in by_id:
                continue
            chain[event_id] = by_id[event_id]
            todo.extend(by_id[event_id].auth_event_ids)
        return list(chain.values())
