"""Threaded receipts (spec: "Threaded read receipts"): which events a receipt for a thread may name."""

from __future__ import annotations

import pytest

from protocol.receipts import MAIN_THREAD, UNTHREADED, Receipt, is_in_thread, receipt_content

# The DAG the spec's section and Synapse's docstring draw:  A <-[m.thread]- B <-[m.annotation]- C,
#                                                           A <-[m.reference]- D <-[m.annotation]- E
RELATIONS = {"$B": ("$A", "m.thread"), "$C": ("$B", "m.annotation"), "$D": ("$A", "m.reference"),
             "$E": ("$D", "m.annotation")}


class Graph:
    def __init__(self, relations: dict[str, tuple[str, str]]) -> None:
        self.relations = relations

    def parent_of(self, event_id: str) -> tuple[str, str] | None:
        return self.relations.get(event_id)

    def has_thread_replies(self, event_id: str) -> bool:
        return any(parent == (event_id, "m.thread") for parent in self.relations.values())


@pytest.mark.parametrize(("event_id", "in_thread_a", "in_main"), [
    ("$A", True, True), ("$B", True, False), ("$C", True, False), ("$D", True, True), ("$E", True, True),
    ("$X", False, True)])
def test_receipts_for_thread_a_and_for_main_fit_the_spec_dag(event_id: str, in_thread_a: bool,
                                                             in_main: bool) -> None:
    graph = Graph(RELATIONS)
    assert is_in_thread(event_id, "$A", graph) is in_thread_a
    assert is_in_thread(event_id, MAIN_THREAD, graph) is in_main


def test_an_event_is_not_in_a_thread_that_has_no_replies_nor_in_another_thread() -> None:
    graph = Graph(RELATIONS)
    assert not is_in_thread("$D", "$D", graph), "D has no thread replies"
    assert not is_in_thread("$B", "$B", graph)


def test_relation_walks_stop_after_a_few_hops() -> None:
    chain = {f"$e{index}": (f"$e{index - 1}", "m.annotation") for index in range(1, 10)}
    chain["$t"] = ("$e0", "m.thread")
    graph = Graph(chain)
    assert is_in_thread("$e2", "$e0", graph)
    assert not is_in_thread("$e9", "$e0", graph), "too far up to follow"


def test_receipt_content_groups_by_event_type_and_user() -> None:
    receipts = [Receipt("!r", "@a:x", "m.read", UNTHREADED, "$1", 5), Receipt("!r", "@b:x", "m.read", "main", "$1", 6),
                Receipt("!r", "@a:x", "m.read.private", UNTHREADED, "$2", 7)]
    assert receipt_content(receipts) == {
        "$1": {"m.read": {"@a:x": {"ts": 5}, "@b:x": {"ts": 6, "thread_id": "main"}}},
        "$2": {"m.read.private": {"@a:x": {"ts": 7}}}}
