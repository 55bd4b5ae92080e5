"""The receipts store on both databases: the read position and who may read which receipts."""

from __future__ import annotations

from persistence.database import Database
from persistence.stores import Stores
from protocol.receipts import MAIN_THREAD, READ, READ_PRIVATE, UNTHREADED, Receipt
from protocol.sync_tokens import WriterPositions

ROOM = "!room:test.local"
ALICE, BOB = "@alice:test.local", "@bob:test.local"


def _put(stores: Stores, database: Database, user_id: str, receipt_type: str, thread_id: str, ordering: int,
         stream_id: int) -> None:
    with database.write() as conn:
        stores.receipts.upsert_receipt(conn, Receipt(ROOM, user_id, receipt_type, thread_id, f"$e{ordering}", 1),
                                       ordering, stream_id, "main")


def test_the_read_position_is_the_furthest_unthreaded_or_main_read_receipt(database: Database) -> None:
    stores = Stores()
    with database.read() as conn:
        assert stores.receipts.get_read_position(conn, ALICE, ROOM) is None
    _put(stores, database, ALICE, READ, UNTHREADED, 10, 1)
    _put(stores, database, ALICE, READ_PRIVATE, MAIN_THREAD, 12, 2)
    _put(stores, database, ALICE, READ, "$thread-root", 50, 3)
    _put(stores, database, ALICE, "m.fully_read", UNTHREADED, 60, 4)
    _put(stores, database, BOB, READ, UNTHREADED, 70, 5)
    with database.read() as conn:
        assert stores.receipts.get_read_position(conn, ALICE, ROOM) == 12
        assert stores.receipts.get_read_position(conn, ALICE, "!other:test.local") is None


def test_private_receipts_are_listed_for_their_owner_only_within_the_range(database: Database) -> None:
    stores = Stores()
    _put(stores, database, ALICE, READ, UNTHREADED, 10, 1)
    _put(stores, database, ALICE, READ_PRIVATE, UNTHREADED, 11, 2)
    _put(stores, database, BOB, READ_PRIVATE, UNTHREADED, 12, 3)
    with database.read() as conn:
        everything = WriterPositions.of_writers({"main": 3})
        mine = stores.receipts.list_receipts(conn, [ROOM], ALICE, None, everything)
        assert [(r.user_id, r.receipt_type) for r in mine] == [(ALICE, READ), (ALICE, READ_PRIVATE)]
        later = stores.receipts.list_receipts(conn, [ROOM], BOB, WriterPositions.of_writers({"main": 1}),
                                              everything)
        assert [(r.user_id, r.receipt_type) for r in later] == [(BOB, READ_PRIVATE)]
        assert stores.receipts.list_receipts(conn, [], ALICE, None, everything) == []
