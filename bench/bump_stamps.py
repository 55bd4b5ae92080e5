"""In-process: 1,000 rooms x 30 events stored through the events writer's insert_event, then every room's bump
stamp read from ``room_bump_stamps`` and by the old per-room search, 20 times each (bench/README.md).

  python -m bench.bump_stamps sqlite:////tmp/bump.db          # or a postgresql+psycopg2://... URL of an empty database
"""
import os
import sys
import time

from sqlalchemy import insert

from config.database import DatabaseConfig
from persistence import migrate
from persistence.database import Database
from persistence.stores.events import EventStore
from persistence.stores.room_lists import RoomListStore
from persistence.tables import rooms
from protocol.events.model import Event
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.sync_tokens import WriterPositions

url = sys.argv[1]
database = Database(DatabaseConfig("sqlite3" if url.startswith("sqlite") else "psycopg2", url))
migrate.upgrade(database)
store, events = RoomListStore(), EventStore()
ROOMS, PER_ROOM = 1000, 30
ordering = 0
with database.write() as conn:
    for r in range(ROOMS):
        room_id = f"!r{r}:x"
        conn.execute(insert(rooms).values(room_id=room_id, room_version="10", creator="@a:x", created_ts=1))
        for n in range(PER_ROOM):
            ordering += 1
            kind = "m.room.message" if n % 3 == 0 else ("m.room.member" if n % 3 == 1 else "m.reaction")
            event = Event.from_pdu({"type": kind, "room_id": room_id, "sender": "@a:x", "content": {"n": ordering},
                                    "depth": n + 1, "prev_events": [], "auth_events": [], "origin_server_ts": 1},
                                   KNOWN_ROOM_VERSIONS["10"])
            events.insert_event(conn, event, room_id, ordering, "master")
ids = [f"!r{r}:x" for r in range(ROOMS)]
until = WriterPositions(ordering)
for label, read in (("table", lambda c: store.list_bump_stamps(c, ids, until)),
                    ("search", lambda c: store._search_bump_stamps(c, sorted(ids), until))):
    samples = []
    for _ in range(20):
        with database.read() as conn:
            started = time.perf_counter()
            found = read(conn)
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    print(f"{label}: p50 {samples[10]:.1f} ms, min {samples[0]:.1f} ms, {len(found)} rooms, "
          f"load {os.getloadavg()[0]:.1f}")
