"""The per-process push ruleset cache: current by version whatever the rings do, emptied by rings and resyncs."""

from __future__ import annotations

from persistence.database import Database
from persistence.doorbell import RESYNC, Ring
from persistence.push_rules_cache import PushRulesCache
from persistence.stores.push_rules import PushRulesStore
from protocol.push_rules import PushRule

ALICE, BOB = "@alice:x", "@bob:x"


def _mute(database: Database, store: PushRulesStore, room_id: str, stream_id: int) -> None:
    with database.write() as conn:
        store.upsert_rule(conn, ALICE, PushRule("room", room_id, ()), 0)
        store.upsert_change(conn, ALICE, stream_id, "main")


def test_a_cached_ruleset_is_used_only_while_its_version_is_current(database: Database) -> None:
    store = PushRulesStore()
    cache = PushRulesCache(store)
    with database.read() as conn:
        assert cache.ruleset(conn, ALICE).find("room", "!a:x") is None
    _mute(database, store, "!a:x", 7)  # no ring: the version alone tells the cache
    with database.read() as conn:
        assert cache.ruleset(conn, ALICE).find("room", "!a:x") is not None
        versions = store.list_versions(conn, [ALICE, BOB])
        assert versions == {ALICE: 7, BOB: 0}
        both = cache.rulesets(conn, versions)
        again = cache.rulesets(conn, versions)
    assert both[ALICE] is again[ALICE], "served from the cache"
    assert both[BOB].find("override", ".m.rule.master") is not None
    assert len(cache) == 2


def test_rings_evict_their_users_and_a_resync_clears_everything(database: Database) -> None:
    cache = PushRulesCache()
    with database.read() as conn:
        cache.rulesets(conn, {ALICE: 0, BOB: 0})
    cache.on_ring(Ring("account_data", "main", 3, (ALICE,)))
    assert len(cache) == 2
    cache.on_ring(Ring("push_rules", "main", 3, (ALICE,)))
    assert len(cache) == 1
    cache.on_ring(RESYNC)
    assert len(cache) == 0
