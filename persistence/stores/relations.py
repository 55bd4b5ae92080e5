"""Redactions and relations, recorded by the events writer as events are stored; read by the event read paths."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from persistence.tables import event_relations, redactions


@dataclass(frozen=True)
class Relation:
    event_id: str
    relates_to_id: str
    relation_type: str
    aggregation_key: str | None


class RelationStore:
    def insert_redaction(self, conn: Connection, event_id: str, redacts: str, room_id: str) -> None:
        conn.execute(insert(redactions).values(event_id=event_id, redacts=redacts, room_id=room_id))

    def list_redactions_of(self, conn: Connection, event_ids: list[str]) -> dict[str, list[str]]:
        """target event id -> ids of the redaction events naming it (not yet judged valid)."""
        if not event_ids:
            return {}
        rows = conn.execute(select(redactions.c.redacts, redactions.c.event_id)
                            .where(redactions.c.redacts.in_(event_ids)))
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.redacts, []).append(row.event_id)
        return found

    def insert_relation(self, conn: Connection, room_id: str, relation: Relation) -> None:
        conn.execute(insert(event_relations).values(room_id=room_id, **relation.__dict__))
