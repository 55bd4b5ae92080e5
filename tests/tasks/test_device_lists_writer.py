"""The device-lists writer drains the outbox exactly once, however often it is poked."""

from __future__ import annotations

import pytest

from persistence.database import Database
from persistence.doorbell import LocalDoorbell, Ring
from persistence.stores.users import User
from tasks.context import TaskContext
from tasks.device_lists import drain
from tests.tasks.factories import make_context


class _NoDispatch:
    def send(self, name: str, **kwargs: object) -> None:
        raise AssertionError("the writer must not poke anything")

    def call(self, name: str, *, timeout: float, **kwargs: object) -> object:
        raise AssertionError("a task never waits on a task")


def _context(database: Database) -> tuple[TaskContext, list[Ring]]:
    doorbell = LocalDoorbell()
    rings: list[Ring] = []
    doorbell.listen(rings.append)
    return make_context(database, doorbell=doorbell, dispatcher=_NoDispatch()), rings


def test_drain_is_idempotent_and_rings_once(database: Database) -> None:
    context, rings = _context(database)
    stores = context.stores
    with database.write() as conn:
        stores.users.insert_user(conn, User("@a:test.local", None, 0, False, False, None, False))
        for device in ("D1", "D2"):
            stores.outbox.insert_item(conn, "device_lists", "@a:test.local", {"device_id": device}, 0)
    assert drain(context, user_id="@a:test.local") == 2
    assert drain(context, user_id="@a:test.local") == 0, "a duplicate poke finds nothing to do"
    with database.read() as conn:
        changes = stores.device_lists.list_changes(conn, "@a:test.local")
        position = stores.stream_ids.get_positions(conn, "device_lists")["main"]
    assert [change.device_id for change in changes] == ["D1", "D2"]
    assert position == changes[-1].stream_id
    assert rings == [Ring("device_lists", "main", position, ("@a:test.local",))]


def test_a_failed_drain_leaves_the_outbox_for_the_retry(database: Database) -> None:
    context, _ = _context(database)
    stores = context.stores
    with database.write() as conn:
        stores.outbox.insert_item(conn, "device_lists", "@b:test.local", {"no_device_id": True}, 0)
    with pytest.raises(KeyError):
        drain(context, user_id="@b:test.local")
    with database.read() as conn:
        assert len(stores.outbox.list_items(conn, "device_lists", "@b:test.local", lock=False)) == 1
        assert stores.device_lists.list_changes(conn, "@b:test.local") == []
