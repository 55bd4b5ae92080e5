"""A remote homeserver on loopback for the joining side of membership tests: it holds :class:`RemoteRoom`\\ s and
answers ``make_*``/``send_*``/``invite`` as a resident (or an invitee's) server would, checking our signatures
with our real key. Requests are recorded so tests can look at what our server sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from protocol.events.hashing import content_hash_matches
from protocol.events.model import Event
from protocol.events.signatures import add_event_signature, verify_event_signature
from protocol.federation.server_keys import our_key_response
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.signing import VerifyKey
from tests.web.federation_peers import REMOTE, REMOTE_KEY
from tests.web.remote_members import RemoteRoom

VALIDITY_PATH = "/_matrix/identity/v2/pubkey/isvalid"


@dataclass
class RemoteResident:
    our_server: str
    our_key: VerifyKey | None = None
    """Set once the server under test exists: its signatures are checked with it."""
    rooms: dict[str, RemoteRoom] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    invites: list[Event] = field(default_factory=list)
    port: int = 0

    def answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        parts = [unquote(part) for part in path.split("/")]
        if path == "/_matrix/key/v2/server":
            return 200, our_key_response(REMOTE, REMOTE_KEY, 2**50, {})
        if path == VALIDITY_PATH:  # standing in for an identity server that vouches for every key
            return 200, {"valid": True}
        if len(parts) < 7 or parts[1:3] != ["_matrix", "federation"]:
            return 404, {"errcode": "M_UNRECOGNIZED", "error": "not here"}
        kind, room_id, last = parts[4], parts[5], parts[6]
        if kind == "invite":
            return self._invite(body)
        room = self.rooms.get(room_id)
        if room is None:
            return 404, {"errcode": "M_NOT_FOUND", "error": "unknown room"}
        if kind.startswith("make_"):
            return self._make(room, kind[5:], last, query)
        if kind.startswith("send_"):
            return self._send(room, kind[5:], body)
        return 404, {"errcode": "M_UNRECOGNIZED", "error": "not here"}

    def _make(self, room: RemoteRoom, membership: str, user_id: str,
              query: dict[str, list[str]]) -> tuple[int, Any]:
        if membership != "leave" and room.version.identifier not in query.get("ver", []):
            return 400, {"errcode": "M_INCOMPATIBLE_ROOM_VERSION", "error": "no", "room_version": "x"}
        join_rule = room.state[("m.room.join_rules", "")].content["join_rule"]
        invited = room.state.get(("m.room.member", user_id))
        if membership == "join" and join_rule != "public" and (invited is None or invited.membership != "invite"):
            return 403, {"errcode": "M_FORBIDDEN", "error": "You are not invited to this room"}
        template = room.template("m.room.member", {"membership": membership}, user_id, state_key=user_id)
        return 200, {"room_version": room.version.identifier, "event": template}

    def _verified(self, pdu: dict[str, Any], version: str) -> Event:
        room_version = KNOWN_ROOM_VERSIONS[version]
        assert self.our_key is not None
        verify_event_signature(pdu, room_version, self.our_server, self.our_key)
        assert content_hash_matches(pdu)
        return Event.from_pdu(pdu, room_version)

    def _send(self, room: RemoteRoom, membership: str, pdu: dict[str, Any]) -> tuple[int, Any]:
        event = self._verified(pdu, room.version.identifier)
        assert event.membership == membership
        state_before = [dict(item.pdu) for item in room.state.values()]
        chain = [dict(item.pdu) for item in room.auth_chain()]
        room.events.append(event)
        room.state[event.state_tuple] = event
        if membership == "join":
            return 200, {"origin": REMOTE, "state": state_before, "auth_chain": chain, "members_omitted": False}
        if membership == "knock":
            return 200, {"knock_room_state": [{"type": "m.room.join_rules", "state_key": "", "sender": room.creator,
                                               "content": {"join_rule": "knock"}}]}
        return 200, {}

    def _invite(self, body: dict[str, Any]) -> tuple[int, Any]:
        event = self._verified(body["event"], body["room_version"])
        self.invites.append(event)
        signed = add_event_signature(event.pdu, event.room_version, REMOTE, REMOTE_KEY)
        return 200, {"event": signed}


@contextmanager
def remote_resident(our_server: str) -> Iterator[RemoteResident]:
    resident = RemoteResident(our_server)

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = resident.answer(self.command, split.path, parse_qs(split.query), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    resident.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield resident
    finally:
        server.shutdown()
        server.server_close()
