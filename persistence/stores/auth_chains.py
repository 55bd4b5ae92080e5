"""The auth chain of events: every event reachable through ``auth_events`` (Server-Server API, "Auth chain").

Federation hands a joining server the auth chain of the room's state, so it can check that state without asking
again. Read by walking ``event_auth`` breadth-first, one query per level of the chain.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from persistence.tables import event_auth


class AuthChainStore:
    def list_auth_chain_ids(self, conn: Connection, event_ids: Iterable[str]) -> set[str]:
        """Ids of every event in the auth chains of ``event_ids`` (not the events themselves, unless cited)."""
        chain: set[str] = set()
        frontier = set(event_ids)
        while frontier:
            rows = conn.execute(select(event_auth.c.auth_event_id)
                                .where(event_auth.c.event_id.in_(sorted(frontier))))
            found = {row.auth_event_id for row in rows}
            frontier = found - chain
            chain |= found
        return chain
