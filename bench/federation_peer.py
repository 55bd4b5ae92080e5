"""Scripted remote homeservers for the federation benchmarks: each is a real HTTPS server on 127.0.0.1 named
``localhost:PORT``, with its own ed25519 key, that the server under test federates with as with any other.

A peer joins a room of the server under test through ``make_join``/``send_join`` (Server-Server API, "Joining
Rooms"), then builds, hashes and signs its own PDUs on what ``send_join`` told it and pushes them in transactions
(``PUT /send/{txnId}``, X-Matrix signed). As a destination it answers every transaction 200 and notes, per event
id, the moment (``time.monotonic()``) the first copy arrived, which is what the fan-out benchmark waits for. It
serves its key (``GET /_matrix/key/v2/server``), the events it made and knows (``/event``,
``/get_missing_events``, ``/state_ids``, ``/state``), an empty device list and empty key and profile answers, so
the server under test's follow-up requests succeed; anything else is 404 ``M_UNRECOGNIZED``.

TLS because Synapse's federation client speaks nothing else: the certificate is issued for ``localhost`` by a CA
the servers under test are told to trust (``federation_custom_ca_list``).
"""

from __future__ import annotations

import itertools
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import trustme

from protocol.canonical_json import encode_canonical_json
from protocol.events.builder import EventTemplate, build_event
from protocol.events.model import Event
from protocol.events.signatures import hash_and_sign_event
from protocol.federation.request_auth import sign_request
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from protocol.signing import encode_verify_key, generate_signing_key, key_id_of, sign_json, verify_key_of

FEDERATION = "/_matrix/federation"
KEY_VALIDITY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class BenchCa:
    """A certificate authority of this run and one ``localhost`` certificate the peers all serve."""

    ca_path: Path
    context: ssl.SSLContext

    @staticmethod
    def create(directory: Path) -> BenchCa:
        ca = trustme.CA()
        issued = ca.issue_cert("localhost", "127.0.0.1")
        ca_path = directory / "bench-ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        issued.configure_cert(context)
        return BenchCa(ca_path, context)


@dataclass
class JoinedRoom:
    """What a peer knows of a room after ``send_join``: enough to cite auth events and extend its own chain."""

    room_id: str
    version: RoomVersion
    auth: list[Event]
    latest: Event


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the servers under test reuse their connections
    server: _PeerHttpServer

    def do_GET(self) -> None:
        self._answer(*self.server.peer.answer_get(urlsplit(self.path).path))

    def do_PUT(self) -> None:
        self._answer(*self.server.peer.answer_write("PUT", urlsplit(self.path).path, self._body()))

    def do_POST(self) -> None:
        self._answer(*self.server.peer.answer_write("POST", urlsplit(self.path).path, self._body()))

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return None

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class _PeerHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, peer: ScriptedPeer, tls: ssl.SSLContext) -> None:
        self.peer = peer
        self.tls = tls
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs in the connection's own thread, not in the accepting one.
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(wrapped, client_address)

    def shutdown_request(self, request: Any) -> None:
        with suppress(OSError):
            request.shutdown(socket.SHUT_WR)
        request.close()


@dataclass
class ScriptedPeer:
    """One scripted remote server; start it with :func:`running_peers`."""

    name: str = ""
    key: Any = field(default_factory=lambda: generate_signing_key("bench"))
    arrivals: dict[str, float] = field(default_factory=dict)
    """Event id -> when its first copy arrived in a transaction (``time.monotonic()``)."""
    arrived: threading.Condition = field(default_factory=threading.Condition)
    transactions: int = 0
    built: dict[str, Event] = field(default_factory=dict)
    """Every event this peer made, by id, for ``/event`` and ``/get_missing_events``."""
    state_ids: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    """Room id -> the ids of its state after our join and of that state's auth chain (``/state_ids``)."""
    versions: dict[str, RoomVersion] = field(default_factory=dict)
    """The version of each room joined: a PDU's id is computed by its room's version."""
    _txn: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _clients: dict[str, httpx.Client] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        return f"@bench:{self.name}"

    # --- serving ----------------------------------------------------------------------------------------------
    def answer_get(self, path: str) -> tuple[int, Any]:
        if path == "/_matrix/key/v2/server":
            return 200, self._key_document()
        if path.startswith(f"{FEDERATION}/v1/user/devices/"):
            return 200, {"user_id": self.user_id, "stream_id": 0, "devices": []}
        if path == f"{FEDERATION}/v1/query/profile":
            return 200, {}
        if path.startswith(f"{FEDERATION}/v1/event/"):
            built = self.built.get(unquote(path.removeprefix(f"{FEDERATION}/v1/event/")))
            if built is not None:
                return 200, {"origin": self.name, "origin_server_ts": int(time.time() * 1000),
                             "pdus": [dict(built.pdu)]}
        for kind in ("state_ids", "state"):
            room_id = unquote(path.removeprefix(f"{FEDERATION}/v1/{kind}/"))
            if path.startswith(f"{FEDERATION}/v1/{kind}/") and room_id in self.state_ids:
                state, chain = self.state_ids[room_id]
                if kind == "state_ids":
                    return 200, {"pdu_ids": state, "auth_chain_ids": chain}
                return 200, {"pdus": [dict(self.built[event_id].pdu) for event_id in state],
                             "auth_chain": [dict(self.built[event_id].pdu) for event_id in chain]}
        if path == f"{FEDERATION}/v1/version":
            return 200, {"server": {"name": "bench-peer", "version": "1"}}
        return 404, {"errcode": "M_UNRECOGNIZED", "error": "not served by the bench peer"}

    def answer_write(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if method == "PUT" and path.startswith(f"{FEDERATION}/v1/send/") and isinstance(body, dict):
            now = time.monotonic()
            pdus = [pdu for pdu in body.get("pdus") or () if isinstance(pdu, dict)]
            ids = [self._event_id(pdu) for pdu in pdus]
            with self.arrived:
                self.transactions += 1
                for event_id in ids:
                    self.arrivals.setdefault(event_id, now)
                self.arrived.notify_all()
            return 200, {"pdus": {event_id: {} for event_id in ids}}
        if method == "POST" and path.startswith(f"{FEDERATION}/v1/get_missing_events/") and isinstance(body, dict):
            return 200, {"events": self._missing_events(body)}
        if method == "POST" and path == f"{FEDERATION}/v1/user/keys/query":
            return 200, {"device_keys": {}}
        return 404, {"errcode": "M_UNRECOGNIZED", "error": "not served by the bench peer"}

    def _event_id(self, pdu: dict[str, Any]) -> str:
        if isinstance(pdu.get("event_id"), str):
            return str(pdu["event_id"])
        return Event.from_pdu(pdu, self.versions.get(str(pdu.get("room_id")), KNOWN_ROOM_VERSIONS["10"])).event_id

    def _missing_events(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Spec: "POST /get_missing_events": the events before ``latest_events`` back to ``earliest_events``,
        oldest first, at most ``limit``. Synapse asks for them when it handles a transaction's PDUs out of order
        (it stages them, and PDUs staged in the same millisecond tie)."""
        earliest = set(body.get("earliest_events") or ())
        limit = min(int(body.get("limit") or 10), 100)
        found: list[dict[str, Any]] = []
        pending = [prev for latest in body.get("latest_events") or () if latest in self.built
                   for prev in self.built[latest].prev_event_ids]
        while pending and len(found) < limit:
            event_id = pending.pop(0)
            if event_id in earliest or event_id not in self.built:
                continue
            found.append(dict(self.built[event_id].pdu))
            pending.extend(self.built[event_id].prev_event_ids)
        return found[::-1]

    def _key_document(self) -> dict[str, Any]:
        document = {"server_name": self.name, "valid_until_ts": int(time.time() * 1000) + KEY_VALIDITY_MS,
                    "verify_keys": {key_id_of(self.key): {"key": encode_verify_key(verify_key_of(self.key))}},
                    "old_verify_keys": {}}
        return sign_json(document, self.name, self.key)

    def wait_for(self, event_ids: Sequence[str], deadline: float) -> bool:
        """Block until every one of ``event_ids`` arrived, or ``deadline`` (monotonic) passed."""
        with self.arrived:
            return self.arrived.wait_for(lambda: all(event_id in self.arrivals for event_id in event_ids),
                                         timeout=max(0.0, deadline - time.monotonic()))

    # --- talking to the servers under test --------------------------------------------------------------------
    def connect(self, destination: str, base_url: str) -> None:
        """``destination`` (a server under test's name) takes federation requests at ``base_url``."""
        self._clients[destination] = httpx.Client(base_url=base_url, timeout=60)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def request(self, destination: str, method: str, path: str, content: Any = None) -> Any:
        """An X-Matrix signed request; answers the JSON body, raising on an error status."""
        headers = {"Authorization": sign_request(self.key, method, path, self.name, destination,
                                                 content).to_header()}
        data = None
        if content is not None:
            data = encode_canonical_json(content)
            headers["Content-Type"] = "application/json"
        response = self._clients[destination].request(method, path, content=data, headers=headers)
        if response.status_code != 200:
            raise httpx.HTTPStatusError(f"{method} {path}: {response.status_code} {response.text[:300]}",
                                        request=response.request, response=response)
        return response.json()

    def join(self, destination: str, room_id: str) -> JoinedRoom:
        """Join ``room_id`` of the server under test as :attr:`user_id` (the room must be public)."""
        versions = "&".join(f"ver={quote(version)}" for version in KNOWN_ROOM_VERSIONS)
        made = self.request(destination, "GET", f"{FEDERATION}/v1/make_join/{quote(room_id, safe='')}/"
                                   f"{quote(self.user_id, safe='')}?{versions}")
        version = KNOWN_ROOM_VERSIONS[made.get("room_version", "1")]
        self.versions[room_id] = version
        template = {**made["event"], "origin_server_ts": int(time.time() * 1000), "origin": self.name}
        template.pop("signatures", None)
        template.pop("hashes", None)
        join = Event.from_pdu(hash_and_sign_event(template, version, self.name, self.key), version)
        self.built[join.event_id] = join
        answer = self.request(destination, "PUT", f"{FEDERATION}/v2/send_join/{quote(room_id, safe='')}/"
                                     f"{quote(join.event_id, safe='')}", dict(join.pdu))
        state = [Event.from_pdu(pdu, version) for pdu in answer["state"]]
        chain = [Event.from_pdu(pdu, version) for pdu in answer["auth_chain"]]
        self.built.update({event.event_id: event for event in [*state, *chain]})
        # The room's state after our join is its state at every message we add (they change no state).
        self.state_ids[room_id] = ([*(event.event_id for event in state if event.state_key != self.user_id),
                                    join.event_id], [event.event_id for event in chain])
        wanted = {("m.room.power_levels", "")}
        if version.create_event_in_auth_events:  # not from v12 on: the room id names the create event
            wanted.add(("m.room.create", ""))
        auth = [event for event in state if (event.type, event.state_key) in wanted]
        return JoinedRoom(room_id, version, [*auth, join], join)

    def message_pdus(self, room: JoinedRoom, count: int, label: str) -> list[Event]:
        """``count`` signed messages, each on the one before (the first on the peer's latest event)."""
        built = []
        for number in range(count):
            event = build_event(room.version, EventTemplate("m.room.message", {"msgtype": "m.text",
                                                                                "body": f"{label} {number}"}),
                                room_id=room.room_id, sender=self.user_id, prev_events=[room.latest],
                                auth_events=room.auth, origin_server_ts=int(time.time() * 1000),
                                server_name=self.name, signing_key=self.key, opaque_id=f"{label}.{number}")
            room.latest = event
            self.built[event.event_id] = event
            built.append(event)
        return built

    def send(self, destination: str, events: Sequence[Event]) -> dict[str, Any]:
        """One transaction carrying ``events``; answers the per-PDU results."""
        body = {"origin": self.name, "origin_server_ts": int(time.time() * 1000),
                "pdus": [dict(event.pdu) for event in events], "edus": []}
        txn_id = f"bench{next(self._txn)}.{int(time.time() * 1000)}"
        answer = self.request(destination, "PUT", f"{FEDERATION}/v1/send/{txn_id}", body)
        return dict(answer.get("pdus") or {})


@contextmanager
def running_peers(count: int, ca: BenchCa) -> Iterator[list[ScriptedPeer]]:
    """``count`` peers, each serving HTTPS on its own loopback port, stopped on exit."""
    servers: list[_PeerHttpServer] = []
    peers: list[ScriptedPeer] = []
    try:
        for _ in range(count):
            peer = ScriptedPeer()
            server = _PeerHttpServer(peer, ca.context)
            peer.name = f"localhost:{server.server_address[1]}"
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            peers.append(peer)
        yield peers
    finally:
        for peer in peers:
            peer.close()
        for server in servers:
            server.shutdown()
            server.server_close()
