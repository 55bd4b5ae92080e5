"""Rooms this server knows: their version (which fixes every algorithm used on them) and creator."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from persistence.tables import rooms


@dataclass(frozen=True)
class Room:
    room_id: str
    room_version: str
    creator: str
    created_ts: int


class RoomStore:
    def insert_room(self, conn: Connection, room: Room) -> None:
        conn.execute(insert(rooms).values(**room.__dict__))

    def get_room(self, conn: Connection, room_id: str) -> Room | None:
        row = conn.execute(select(rooms).where(rooms.c.room_id == room_id)).mappings().first()
        return Room(**row) if row else None
