"""What a /sync costs in queries, in both shapes: an initial sync a fixed number however many rooms the user is
in, an incremental one a fixed number however many rooms did not change, and an empty one almost none."""

from __future__ import annotations

from tests.homeserver import HomeserverUnderTest
from tests.statements import recorded_statements
from tests.web.test_sync import _room, _send, _sync

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def _queries(statements: list[str]) -> list[str]:
    return [statement for statement in statements if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL)]


def _furnished_room(server: HomeserverUnderTest, alice: str, bob: str, index: int) -> str:
    """A room with a name, a second member, messages, an edit and a redaction: every part of a room's
    section (timeline, state, summary, redactions, aggregations) has something to read."""
    room_id = _room(server, alice, preset="public_chat", name=f"Room {index}")
    assert server.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    first = _send(server, alice, room_id, "hello")
    _send(server, bob, room_id, "hi")
    edit = {"msgtype": "m.text", "body": "* hello!", "m.new_content": {"msgtype": "m.text", "body": "hello!"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": first}}
    assert server.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/edit{index}", token=alice,
                      json=edit).status_code == 200
    gone = _send(server, bob, room_id, "oops")
    assert server.put(f"/_matrix/client/v3/rooms/{room_id}/redact/{gone}/r{index}", token=bob,
                      json={}).status_code == 200
    return room_id


def _initial(server: HomeserverUnderTest, token: str, rooms: list[str]) -> int:
    with recorded_statements(server.deps.database) as seen:
        body = _sync(server, token)
    assert set(body["rooms"]["join"]) == set(rooms)
    for room_id in rooms:
        section = body["rooms"]["join"][room_id]
        assert section["timeline"]["events"] and section["state"]["events"]
        assert section["summary"]["m.joined_member_count"] == 2
    return len(_queries(seen))


def test_an_initial_sync_costs_the_same_queries_for_two_rooms_as_for_twelve(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    rooms = [_furnished_room(homeserver, alice, bob, index) for index in range(2)]
    _initial(homeserver, alice, rooms)
    two = _initial(homeserver, alice, rooms)
    rooms += [_furnished_room(homeserver, alice, bob, index) for index in range(2, 12)]
    assert _initial(homeserver, alice, rooms) == two
    assert two <= 34  # 32 for the rooms and streams, 1 for the device's one-time and fallback key counts, 1 for
    # erased senders (web/client/room_access.py)


def test_an_incremental_sync_costs_the_same_queries_however_many_rooms_did_not_change(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    rooms = [_furnished_room(homeserver, alice, bob, index) for index in range(2)]

    def one_message(room_id: str) -> int:
        since = _sync(homeserver, bob)["next_batch"]
        _send(homeserver, alice, room_id, "news")
        with recorded_statements(homeserver.deps.database) as seen:
            body = _sync(homeserver, bob, since)
        assert list(body["rooms"]["join"]) == [room_id]
        assert [event["content"]["body"] for event in body["rooms"]["join"][room_id]["timeline"]["events"]] == [
            "news"]
        return len(_queries(seen))

    one_message(rooms[0])
    two = one_message(rooms[0])
    rooms += [_furnished_room(homeserver, alice, bob, index) for index in range(2, 12)]
    one_message(rooms[-1])
    assert one_message(rooms[-1]) == two


def test_an_empty_incremental_sync_reads_only_the_stream_positions_presence_and_key_counts(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    for index in range(3):
        _furnished_room(homeserver, alice, bob, index)
    since = _sync(homeserver, bob)["next_batch"]
    _sync(homeserver, bob, since, timeout=0)
    with recorded_statements(homeserver.deps.database) as seen:
        body = _sync(homeserver, bob, since, timeout=0)
    assert not any(body["rooms"].values()) and not body["to_device"]["events"]
    queries = _queries(seen)
    assert len(queries) <= 3, queries
    assert all(any(table in query for table in ("stream_positions", "FROM presence", "e2e_one_time_keys"))
               for query in queries), queries
    assert sum("e2e_one_time_keys" in query for query in queries) == 1, queries
