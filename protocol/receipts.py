"""Receipts (pure; Client-Server API, "Receipts", "Threaded read receipts"): their types, which thread an event
belongs to for a threaded receipt, and the ``m.receipt`` content ``/sync`` sends.

Whether ``thread_id`` fits the event follows Synapse's reading of the spec's rules. For ``main``, the event must
not be in a thread: no ``m.thread`` relation on the way up its relations. For a thread root's id, the event
must belong to that thread: following its relations up (of any type) must end at that root, and the root must
have thread replies. Walks stop after :data:`MAX_HOPS` relations ("implementations should not recurse
infinitely").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

READ = "m.read"
READ_PRIVATE = "m.read.private"
FULLY_READ = "m.fully_read"
RECEIPT_TYPES = (READ, READ_PRIVATE, FULLY_READ)
"""What ``/receipt/{receiptType}`` accepts; ``m.fully_read`` is the read marker, kept as room account data."""
READ_RECEIPTS = (READ, READ_PRIVATE)
MAIN_THREAD = "main"
THREAD_RELATION = "m.thread"
MAX_HOPS = 4
UNTHREADED = ""
"""How an unthreaded receipt's thread is stored."""


class RelationGraph(Protocol):
    def parent_of(self, event_id: str) -> tuple[str, str] | None:
        """``(relates_to_id, rel_type)`` of the event's ``m.relates_to``, or None."""

    def has_thread_replies(self, event_id: str) -> bool:
        """Whether any event relates to this one with ``m.thread``."""


def _ancestry(event_id: str, graph: RelationGraph) -> list[tuple[str, str]]:
    """The relations met walking up from the event: ``(relates_to_id, rel_type)``, nearest first."""
    chain: list[tuple[str, str]] = []
    current = event_id
    for _ in range(MAX_HOPS):
        parent = graph.parent_of(current)
        if parent is None:
            break
        chain.append(parent)
        current = parent[0]
    return chain


def is_in_thread(event_id: str, thread_id: str, graph: RelationGraph) -> bool:
    """Whether a receipt for ``thread_id`` (``main`` or a root's id) may name ``event_id``."""
    chain = _ancestry(event_id, graph)
    if thread_id == MAIN_THREAD:
        return not any(rel_type == THREAD_RELATION for _, rel_type in chain)
    top = chain[-1][0] if chain else event_id
    return top == thread_id and graph.has_thread_replies(top)


@dataclass(frozen=True)
class Receipt:
    room_id: str
    user_id: str
    receipt_type: str
    thread_id: str
    """:data:`UNTHREADED`, ``main`` or a thread root's event id."""
    event_id: str
    ts: int


def receipt_content(receipts: Iterable[Receipt]) -> dict[str, Any]:
    """``m.receipt`` content: event id -> receipt type -> user id -> ``{"ts", "thread_id"?}``."""
    content: dict[str, Any] = {}
    for receipt in receipts:
        data: dict[str, Any] = {"ts": receipt.ts}
        if receipt.thread_id != UNTHREADED:
            data["thread_id"] = receipt.thread_id
        content.setdefault(receipt.event_id, {}).setdefault(receipt.receipt_type, {})[receipt.user_id] = data
    return content
