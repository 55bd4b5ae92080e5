"""Reports of events and rooms (Client-Server API, "Reporting content"), kept for the server's administrators.

Not a stream: nothing syncs reports, so the web tier inserts them itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from persistence.tables import event_reports


@dataclass(frozen=True)
class Report:
    room_id: str
    event_id: str | None
    user_id: str
    reason: str | None
    score: int | None
    received_ts: int


class ReportStore:
    def insert_report(self, conn: Connection, report: Report) -> None:
        conn.execute(insert(event_reports).values(**report.__dict__))

    def list_reports(self, conn: Connection, room_id: str | None = None) -> list[Report]:
        """Reports, oldest first; only those about ``room_id`` when given."""
        query = select(event_reports).order_by(event_reports.c.id)
        if room_id is not None:
            query = query.where(event_reports.c.room_id == room_id)
        return [Report(row.room_id, row.event_id, row.user_id, row.reason, row.score, row.received_ts)
                for row in conn.execute(query)]
