"""Rooms each user has forgotten (Client-Server API, "Leaving rooms": ``POST /rooms/{roomId}/forget``).

Not a stream: the web tier records a forget directly, as it publishes rooms. A forget names the membership event
that was the user's current one when they forgot; the room counts as forgotten only while that is still so. Any
later membership event of theirs (a rejoin, an invite, a ban) makes it a different event, so the room comes back
without anyone deleting the row, and a forget racing a rejoin cannot hide the room the user just joined.
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, select
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import current_state_events, forgotten_rooms


class ForgottenRoomStore:
    def upsert_forgotten(self, conn: Connection, user_id: str, room_id: str, membership_event_id: str,
                         now_ms: int) -> None:
        """Forget ``room_id`` for ``user_id`` as of their membership event ``membership_event_id``."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        values = {"membership_event_id": membership_event_id, "forgotten_ts": now_ms}
        conn.execute(dialect.insert(forgotten_rooms).values(user_id=user_id, room_id=room_id, **values)
                     .on_conflict_do_update(index_elements=["user_id", "room_id"], set_=values))

    def list_forgotten_rooms(self, conn: Connection, user_id: str) -> list[str]:
        """The rooms ``user_id`` has forgotten and not re-entered since (no newer membership event)."""
        query = (select(forgotten_rooms.c.room_id)
                 .join(current_state_events, and_(
                     current_state_events.c.room_id == forgotten_rooms.c.room_id,
                     current_state_events.c.type == "m.room.member",
                     current_state_events.c.state_key == forgotten_rooms.c.user_id,
                     current_state_events.c.event_id == forgotten_rooms.c.membership_event_id))
                 .where(forgotten_rooms.c.user_id == user_id)
                 .order_by(forgotten_rooms.c.room_id))
        return [row.room_id for row in conn.execute(query)]
