"""State groups read in batches: every group's state from one recursive query, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from persistence.database import Database
from persistence.stores import state as state_module
from persistence.stores.state import StateStore


def test_batched_state_matches_walking_each_chain(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "STATE_SNAPSHOT_EVERY", 2)  # cut chains often, so snapshots are crossed
    store = StateStore()
    with database.write() as conn:
        groups = [store.insert_state_group(conn, "!r:x", "$0", None, {("a", ""): "$a0", ("b", ""): "$b0"})]
        for index in range(1, 8):
            delta = {("a", ""): f"$a{index}"} if index % 2 else {("m", f"@u{index}:x"): f"$m{index}"}
            groups.append(store.insert_state_group(conn, "!r:x", f"${index}", groups[-1], delta))
        branch = store.insert_state_group(conn, "!r:x", "$branch", groups[2], {("b", ""): "$b-branch"})
        for group in [*groups, branch]:
            store.insert_event_state_group(conn, f"$event{group}", group)
    with database.read() as conn:
        everything = store.get_state_ids_for_groups(conn, [*groups, branch])
        assert everything == {group: store.get_state(conn, group) for group in [*groups, branch]}
        keys = {("a", ""), ("b", ""), ("m", "@u4:x")}
        some = store.get_state_ids_for_groups(conn, [groups[-1], branch], keys)
        assert some[groups[-1]] == {("a", ""): "$a7", ("b", ""): "$b0", ("m", "@u4:x"): "$m4"}
        assert some[branch] == {("a", ""): "$a1", ("b", ""): "$b-branch"}
        assert store.get_state_ids_for_groups(conn, [branch], set()) == {branch: {}}
        assert store.get_event_state_groups(conn, [f"$event{branch}", "$nothing"]) == {f"$event{branch}": branch}
