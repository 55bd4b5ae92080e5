"""The two federation scenarios, run against one server under test (``bench/federation_targets.py``) with
scripted peers (``bench/federation_peer.py``); ``bench/federation.py`` runs them over every server, alternating.

- **inbound**: a peer joined to a room of the server pushes transactions of K PDUs, one transaction after another
  (a server sends one transaction at a time to a destination); an event counts as persisted when the room's local
  member sees it in ``/sync``. Measured: PDUs per second from the first transaction to the last PDU seen, each
  transaction's latency, server CPU per PDU.
- **outbound**: a local user sends into a room whose other members are on N peers. *paced*: one message at a time,
  the next once every peer has it, each sample the time from the send request to the last peer's receipt;
  *burst*: the messages back to back, events per second from the first send to the last receipt, and server CPU
  per event per destination.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from bench.federation_peer import JoinedRoom, ScriptedPeer
from bench.federation_targets import Target
from bench.harness import OperationFailed, percentile
from bench.procstat import load_average

CLIENT = "/_matrix/client/v3"
SYNC_TIMEOUT_MS = 5000
MAX_GAP_PAGES = 20


@dataclass
class Measurement:
    """One scenario's numbers on one server."""

    scenario: str
    target: str
    latencies_ms: list[float] = field(default_factory=list)
    items: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    pg_cpu_s: float = 0.0
    per: int = 1
    """What CPU is divided by: PDUs (inbound), or events x destinations (outbound burst)."""
    failed: int = 0
    load: float = 0.0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        return {"scenario": self.scenario, "target": self.target, "items": self.items, "failed": self.failed,
                "seconds": round(self.seconds, 3),
                "per_s": round(self.items / self.seconds, 1) if self.seconds > 0 else None,
                "p50_ms": _round(percentile(ordered, 50)), "p95_ms": _round(percentile(ordered, 95)),
                "cpu_ms_per": round(self.cpu_s * 1000 / self.per, 3) if self.per else None,
                "cpu_ms_per_with_pg": round((self.cpu_s + self.pg_cpu_s) * 1000 / self.per, 3) if self.per else None,
                "load": round(self.load, 2), "errors": self.errors[:5]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class LocalUser:
    """A client-server API user of the server under test (registered with the dummy auth flow)."""

    def __init__(self, target: Target) -> None:
        self.client = httpx.Client(base_url=f"{target.base_url}{CLIENT}", timeout=60)
        body: dict[str, Any] = {"username": f"fedbench_{secrets.token_hex(4)}", "password": secrets.token_hex(8)}
        first = self.client.post("/register", json=body)
        session = first.json().get("session") if first.status_code == 401 else None
        done = self.client.post("/register", json={**body, "auth": {"type": "m.login.dummy",
                                                                    **({"session": session} if session else {})}})
        if done.status_code != 200:
            raise OperationFailed(f"register: {done.status_code} {done.text[:200]}")
        self.client.headers["Authorization"] = f"Bearer {done.json()['access_token']}"
        self._txn = 0

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.client.request(method, path, json=body, params=params or None)
        if response.status_code != 200:
            raise OperationFailed(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response.json()

    def create_public_room(self, room_version: str) -> str:
        return str(self.call("POST", "/createRoom", {"preset": "public_chat", "room_version": room_version})[
            "room_id"])

    def say(self, room_id: str, body: str) -> str:
        self._txn += 1
        return str(self.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/fb{self._txn}.{secrets.token_hex(3)}",
                             {"msgtype": "m.text", "body": body})["event_id"])

    def close(self) -> None:
        self.client.close()


class SyncWatcher:
    """A thread long-polling ``/sync`` for one room, noting when each event id first appears."""

    def __init__(self, user: LocalUser, room_id: str, deadline: float) -> None:
        self.user, self.room_id, self.deadline = user, room_id, deadline
        self.seen: dict[str, float] = {}
        self.limited = False
        self.expected: set[str] = set()
        self._done = threading.Event()
        self._filter = json.dumps({"room": {"rooms": [room_id], "timeline": {"limit": 200}},
                                   "presence": {"types": []}, "account_data": {"types": []}})
        self.since = str(user.call("GET", "/sync", filter=self._filter, timeout=0)["next_batch"])
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait(self, expected: set[str]) -> float:
        """Block until every id in ``expected`` was seen (or the deadline); answers when the last one was."""
        self.expected = expected
        while time.monotonic() < self.deadline and not expected <= self.seen.keys():
            self._done.wait(0.2)
        self._done.set()
        self._thread.join(SYNC_TIMEOUT_MS / 1000 + 30)
        return max((self.seen[event_id] for event_id in expected if event_id in self.seen), default=0.0)

    def _run(self) -> None:
        while not self._done.is_set() and time.monotonic() < self.deadline:
            try:
                answer = self.user.call("GET", "/sync", filter=self._filter, since=self.since,
                                        timeout=SYNC_TIMEOUT_MS)
            except (OperationFailed, httpx.HTTPError):
                continue
            now = time.monotonic()
            self.since = str(answer["next_batch"])
            timeline = answer.get("rooms", {}).get("join", {}).get(self.room_id, {}).get("timeline", {})
            for event in timeline.get("events", ()):
                self.seen.setdefault(event["event_id"], now)
            if timeline.get("limited") and timeline.get("prev_batch"):
                self._page_back(str(timeline["prev_batch"]), now)
            if self.expected and self.expected <= self.seen.keys():
                return


    def _page_back(self, token: str, now: float) -> None:
        """A limited timeline left a gap: read it with ``/messages`` as a client would, back to an event seen."""
        for _ in range(MAX_GAP_PAGES):
            try:
                page = self.user.call("GET", f"/rooms/{quote(self.room_id)}/messages", dir="b", limit=100,
                                      **{"from": token})
            except (OperationFailed, httpx.HTTPError):
                return
            chunk = page.get("chunk") or []
            known = any(event["event_id"] in self.seen for event in chunk)
            for event in chunk:
                self.seen.setdefault(event["event_id"], now)
            if known or not chunk or not page.get("end"):
                return
            token = str(page["end"])
        self.limited = True


def _cpu_between(target: Target, run: Any) -> tuple[Any, float, float]:
    own, backends = target.cpu()
    result = run()
    own_after, backends_after = target.cpu()
    return result, own_after.since(own), backends_after.since(backends)


def inbound(target: Target, user: LocalUser, peer: ScriptedPeer, room: JoinedRoom, pdus: int, transactions: int,
            cap_s: float) -> Measurement:
    """``transactions`` transactions of ``pdus`` PDUs each, one after another, into ``room``."""
    found = Measurement(f"inbound /send, {pdus} PDU{'s' if pdus > 1 else ''} per txn", target.label, per=0)
    batches = [peer.message_pdus(room, pdus, f"in{pdus}.{number}") for number in range(transactions)]
    deadline = time.monotonic() + cap_s
    watcher = SyncWatcher(user, room.room_id, deadline)
    found.load = load_average()

    def run() -> float:
        watcher.start()
        started = time.monotonic()
        sent: set[str] = set()
        for batch in batches:
            if time.monotonic() >= deadline:
                break
            before = time.perf_counter()
            try:
                results = peer.send(target.server_name, batch)
            except httpx.HTTPError as error:
                found.failed += 1
                found.errors.append(str(error))
                continue
            found.latencies_ms.append((time.perf_counter() - before) * 1000)
            refused = [event_id for event_id, result in results.items() if result.get("error")]
            found.errors += [f"{event_id}: {results[event_id]['error']}" for event_id in refused[:3]]
            sent |= {event.event_id for event in batch} - set(refused)
        last = watcher.wait(sent)
        confirmed = sent & watcher.seen.keys()
        found.items, found.per = len(confirmed), len(confirmed)
        found.failed += len(sent) - len(confirmed)
        if watcher.limited:
            found.errors.append(f"a gap in /sync was longer than {MAX_GAP_PAGES} pages of /messages")
        return (last - started) if confirmed else 0.0

    found.seconds, found.cpu_s, found.pg_cpu_s = _cpu_between(target, run)
    return found


def outbound(target: Target, user: LocalUser, room_id: str, peers: list[ScriptedPeer], messages: int,
             paced: bool, cap_s: float) -> Measurement:
    """``messages`` sends into ``room_id``, whose other members are on ``peers``."""
    mode = "paced" if paced else "burst"
    found = Measurement(f"outbound fan-out, {len(peers)} destination{'s' if len(peers) > 1 else ''}, {mode}",
                        target.label, per=0)
    deadline = time.monotonic() + cap_s
    found.load = load_average()

    def run() -> float:
        started = time.monotonic()
        sent: dict[str, float] = {}
        for number in range(messages):
            if time.monotonic() >= deadline:
                break
            before = time.monotonic()
            try:
                event_id = user.say(room_id, f"out {number}")
            except (OperationFailed, httpx.HTTPError) as error:
                found.failed += 1
                found.errors.append(str(error))
                continue
            sent[event_id] = before
            if paced:
                for peer in peers:
                    peer.wait_for([event_id], deadline)
        for peer in peers:
            peer.wait_for(list(sent), deadline)
        last = 0.0
        for event_id, before in sent.items():
            arrivals = [peer.arrivals.get(event_id) for peer in peers]
            if any(arrival is None for arrival in arrivals):
                found.failed += 1
                continue
            everywhere = max(arrival for arrival in arrivals if arrival is not None)
            found.latencies_ms.append((everywhere - before) * 1000)
            found.items += 1
            last = max(last, everywhere)
        found.per = found.items * len(peers)
        return (last - started) if found.items else 0.0

    found.seconds, found.cpu_s, found.pg_cpu_s = _cpu_between(target, run)
    return found

