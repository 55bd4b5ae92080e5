"""Which membership events each device already holds, so lazy-loading syncs do not send them again (spec:
"Lazy-loading room members", ``include_redundant_members: false``).

A device syncing from token T has provably received the response that produced T, so what that response sent
is known to it; anything else is not. Entries are therefore keyed by the token they lead to: a sync from T
reads the entry recorded for T, and a sync from any other token (a retry after a lost response, or a token
from another process) reads nothing and sends every member it needs — redundant at worst, never missing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

MAX_DEVICES = 20_000
MAX_MEMBERS_PER_ROOM = 1_000


class SentMembers:
    def __init__(self, capacity: int = MAX_DEVICES) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], tuple[str, dict[str, frozenset[str]]]] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, user_id: str, device_id: str, since: str | None) -> Mapping[str, frozenset[str]]:
        """room id -> member event ids the device holds, if it syncs from the token last recorded for it."""
        if since is None:
            return {}
        with self._lock:
            entry = self._entries.get((user_id, device_id))
        return entry[1] if entry is not None and entry[0] == since else {}

    def remember(self, user_id: str, device_id: str, next_batch: str, known: Mapping[str, frozenset[str]],
                 sent: Mapping[str, set[str]], forgotten_rooms: set[str]) -> None:
        """After a response leading to ``next_batch``: what the device holds is ``known`` plus ``sent``, less the
        rooms whose state it was told to rebuild (``forgotten_rooms``)."""
        merged = {room_id: members for room_id, members in known.items() if room_id not in forgotten_rooms}
        for room_id, members in sent.items():
            combined = merged.get(room_id, frozenset()) | members
            merged[room_id] = combined if len(combined) <= MAX_MEMBERS_PER_ROOM else frozenset(members)
        with self._lock:
            self._entries[(user_id, device_id)] = (next_batch, merged)
            self._entries.move_to_end((user_id, device_id))
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
