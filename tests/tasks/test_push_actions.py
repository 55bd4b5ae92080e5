"""The events writer's push step costs a fixed number of queries per event, however many members a room has."""

from __future__ import annotations

from sqlalchemy import func, select

from persistence.database import Database
from persistence.tables import event_push_actions
from protocol.events.builder import EventTemplate
from protocol.room_creation import RoomRequest, create_content, initial_events
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from tasks.context import TaskContext
from tasks.events import create_event, create_room
from tasks.push_rules import put_push_rule
from tests.statements import recorded_statements
from tests.tasks.factories import make_context

ALICE = "@alice:test.local"


def _room(context: TaskContext, room_id: str, members: int) -> list[str]:
    version = KNOWN_ROOM_VERSIONS["10"]
    request = RoomRequest("public_chat")
    templates: list[EventTemplate] = initial_events(request, ALICE, version, {})
    create_room(context, room_id=room_id, room_version="10", creator=ALICE,
                create_content=create_content(request, ALICE, version), origin_server_ts=0,
                initial_events=[{"type": t.type, "content": dict(t.content), "state_key": t.state_key}
                                for t in templates])
    users = [f"@user{index}:test.local" for index in range(members)]
    for user in users:
        create_event(context, room_id=room_id, sender=user, event_type="m.room.member", state_key=user,
                     content={"membership": "join"})
    return users


def _send(context: TaskContext, room_id: str, body: str) -> list[str]:
    with recorded_statements(context.database) as statements:
        create_event(context, room_id=room_id, sender=ALICE, event_type="m.room.message",
                     content={"msgtype": "m.text", "body": body})
    return statements


def _rows(database: Database, room_id: str) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(event_push_actions)
                                .where(event_push_actions.c.room_id == room_id)).scalar_one())


def test_a_message_costs_the_same_queries_in_a_small_and_a_large_room(database: Database) -> None:
    context = make_context(database)
    _room(context, "!small:test.local", 3)
    users = _room(context, "!large:test.local", 40)
    small, large = _send(context, "!small:test.local", "hi"), _send(context, "!large:test.local", "hi")
    assert len(small) == len(large)
    assert sum("event_push_actions" in statement for statement in large) == 1, "one multi-row insert"
    assert _rows(database, "!large:test.local") >= 40

    for user in users[:3]:  # a few members with rules of their own, and a process that has cached nothing yet
        put_push_rule(context, user_id=user, kind="content", rule_id="hi", actions=["notify"], pattern="hi")
    cold = make_context(database)
    assert len(_send(cold, "!large:test.local", "hi")) == len(large) + 2, "one batch load of the stored rules"
    assert len(_send(cold, "!large:test.local", "hi")) == len(large), "then cached"
