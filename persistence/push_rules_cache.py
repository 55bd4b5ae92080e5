"""Each user's effective push ruleset, cached per process: the events writer evaluates it for every member on
every event, so it must not be rebuilt from the database each time.

An entry is kept with the user's *version* (the stream position of their latest change, see
``persistence/stores/push_rules.py``). Callers pass the versions they read in their own transaction, so an entry
is used only when it is current: a ring that arrives late never serves stale rules, and a user who never changed
anything (version 0) costs no query at all. The doorbell's ``push_rules`` rings evict entries, and a resync
clears them all, so memory follows what is still in use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

from sqlalchemy import Connection

from persistence.doorbell import RESYNC, Ring
from persistence.stores.push_rules import PushRulesStore
from protocol.push_rules import Ruleset, effective_ruleset

PUSH_RULES_STREAM = "push_rules"


class PushRulesCache:
    def __init__(self, store: PushRulesStore | None = None, max_entries: int = 100_000) -> None:
        self._store = store or PushRulesStore()
        self._entries: OrderedDict[str, tuple[int, Ruleset]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def ruleset(self, conn: Connection, user_id: str) -> Ruleset:
        return self.rulesets(conn, {user_id: self._store.get_version(conn, user_id)})[user_id]

    def rulesets(self, conn: Connection, versions: Mapping[str, int]) -> dict[str, Ruleset]:
        """The rulesets of the users in ``versions`` (user id -> version read in ``conn``'s transaction)."""
        found: dict[str, Ruleset] = {}
        missing: dict[str, int] = {}
        with self._lock:
            for user_id, version in versions.items():
                entry = self._entries.get(user_id)
                if entry is not None and entry[0] == version:
                    self._entries.move_to_end(user_id)
                    found[user_id] = entry[1]
                else:
                    missing[user_id] = version
        stored = self._store.list_stored_rules(conn, [user for user, version in missing.items() if version])
        built = {}
        for user_id, version in missing.items():
            rules = stored.get(user_id)
            built[user_id] = (version, effective_ruleset(user_id, rules.rules, rules.changes) if rules
                              else effective_ruleset(user_id, ()))
        with self._lock:
            for user_id, entry in built.items():
                current = self._entries.get(user_id)
                if current is None or current[0] <= entry[0]:
                    self._entries[user_id] = entry
                    self._entries.move_to_end(user_id)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        found.update({user_id: entry[1] for user_id, entry in built.items()})
        return found

    def evict(self, user_ids: tuple[str, ...]) -> None:
        with self._lock:
            for user_id in user_ids:
                self._entries.pop(user_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def on_ring(self, ring: Ring) -> None:
        """Doorbell listener: drop the rulesets of users whose rules changed, or all after a possible gap."""
        if ring == RESYNC:
            self.clear()
        elif ring.stream == PUSH_RULES_STREAM:
            self.evict(ring.keys)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
