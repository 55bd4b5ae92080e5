"""Lazy-loaded members in /sync (web/sync/lazy_members.py), in both shapes: initial, incremental and gappy syncs
send the members the client needs and none it holds, and what a device holds is known to every web process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from protocol.sync_tokens import WriterPositions
from tests.homeserver import HomeserverUnderTest
from tests.web.test_sync import _bodies, _room, _send, _sync
from web.sync.lazy_members import record_sent_members

LAZY = {"room": {"timeline": {"limit": 10}, "state": {"lazy_load_members": True}}}
"""Element's sync filter, as far as members go."""


def _members(body: dict[str, Any], room_id: str) -> dict[str, str]:
    """state key -> membership of the membership events in the room's ``state`` section."""
    section = body["rooms"]["join"].get(room_id, {"state": {"events": []}})
    return {event["state_key"]: event["content"]["membership"] for event in section["state"]["events"]
            if event["type"] == "m.room.member"}


def _fillers(server: HomeserverUnderTest, token: str, room_id: str, count: int, label: str) -> None:
    for number in range(count):
        _send(server, token, room_id, f"{label} {number}")


@pytest.fixture
def trio(homeserver: HomeserverUnderTest) -> tuple[dict[str, str], str]:
    """alice's public room that bob and carol joined (no one has spoken yet), and everyone's access token."""
    tokens = {name: homeserver.register(name)["access_token"] for name in ("alice", "bob", "carol", "dave")}
    room_id = _room(homeserver, tokens["alice"], preset="public_chat", name="Lazy")
    for name in ("bob", "carol"):
        assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=tokens[name],
                               json={}).status_code == 200
    return tokens, room_id


def test_an_incremental_sync_sends_only_the_new_senders_membership(homeserver: HomeserverUnderTest,
                                                                   trio: tuple[dict[str, str], str]) -> None:
    tokens, room_id = trio
    _fillers(homeserver, tokens["bob"], room_id, 10, "bob")
    first = _sync(homeserver, tokens["alice"], filter=LAZY)
    assert _members(first, room_id) == {"@alice:test.local": "join", "@bob:test.local": "join"}
    _send(homeserver, tokens["carol"], room_id, "carol speaks")
    second = _sync(homeserver, tokens["alice"], first["next_batch"], filter=LAZY)
    assert _members(second, room_id) == {"@carol:test.local": "join"}, "alice and bob are held already"
    _send(homeserver, tokens["bob"], room_id, "bob again")
    third = _sync(homeserver, tokens["alice"], second["next_batch"], filter=LAZY)
    assert _bodies(third["rooms"]["join"][room_id]) == ["bob again"] and _members(third, room_id) == {}
    assert room_id not in _sync(homeserver, tokens["alice"], third["next_batch"], filter=LAZY)["rooms"]["join"]


def test_a_gappy_sync_sends_the_members_of_the_gap_and_the_senders_not_held(
        homeserver: HomeserverUnderTest, trio: tuple[dict[str, str], str]) -> None:
    tokens, room_id = trio
    _fillers(homeserver, tokens["bob"], room_id, 10, "bob")
    first = _sync(homeserver, tokens["alice"], filter=LAZY)
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=tokens["dave"],
                           json={}).status_code == 200
    _fillers(homeserver, tokens["carol"], room_id, 20, "carol")
    gappy = _sync(homeserver, tokens["alice"], first["next_batch"], filter=LAZY)
    assert gappy["rooms"]["join"][room_id]["timeline"]["limited"] is True
    assert _members(gappy, room_id) == {"@carol:test.local": "join", "@dave:test.local": "join"}, (
        "dave joined in the gap though he said nothing; carol speaks; alice and bob are held")
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/leave", token=tokens["dave"],
                           json={}).status_code == 200
    _fillers(homeserver, tokens["carol"], room_id, 20, "carol again")
    again = _sync(homeserver, tokens["alice"], gappy["next_batch"], filter=LAZY)
    assert _members(again, room_id) == {"@dave:test.local": "leave"}, "only the leave in the gap is news"


def test_redundant_members_are_sent_when_the_filter_asks(homeserver: HomeserverUnderTest,
                                                         trio: tuple[dict[str, str], str]) -> None:
    tokens, room_id = trio
    redundant = {"room": {"timeline": {"limit": 10},
                          "state": {"lazy_load_members": True, "include_redundant_members": True}}}
    _fillers(homeserver, tokens["bob"], room_id, 10, "bob")
    first = _sync(homeserver, tokens["alice"], filter=redundant)
    assert set(_members(first, room_id)) == {"@alice:test.local", "@bob:test.local"}
    _send(homeserver, tokens["bob"], room_id, "bob again")
    second = _sync(homeserver, tokens["alice"], first["next_batch"], filter=redundant)
    assert set(_members(second, room_id)) == {"@bob:test.local"}, (
        "the sender again; the user's own membership comes only with a room new to the client")


@pytest.fixture
def another_web_process(homeserver: HomeserverUnderTest) -> Iterator[HomeserverUnderTest]:
    """A second web process of the same deployment: its own dependencies (connections, caches, memory), the
    same database."""
    from ganglion.wiring import build_monolith, build_web_worker
    from web.app import create_app

    config, clock = homeserver.config, homeserver.clock
    deps = build_web_worker(config, clock) if homeserver.shape == "workers" else build_monolith(config, clock).deps
    yield HomeserverUnderTest(homeserver.shape, config, deps, create_app(config, deps), clock)
    deps.doorbell.close()
    deps.database.dispose()


def test_what_a_device_holds_is_known_to_every_web_process(homeserver: HomeserverUnderTest,
                                                           another_web_process: HomeserverUnderTest,
                                                           trio: tuple[dict[str, str], str]) -> None:
    tokens, room_id = trio
    _fillers(homeserver, tokens["bob"], room_id, 10, "bob")
    first = _sync(homeserver, tokens["alice"], filter=LAZY)
    assert "@bob:test.local" in _members(first, room_id)
    _send(homeserver, tokens["bob"], room_id, "bob again")
    _send(homeserver, tokens["carol"], room_id, "carol speaks")
    elsewhere = _sync(another_web_process, tokens["alice"], first["next_batch"], filter=LAZY)
    assert _members(elsewhere, room_id) == {"@carol:test.local": "join"}, "bob was sent by the other process"
    _send(homeserver, tokens["carol"], room_id, "carol again")
    back = _sync(homeserver, tokens["alice"], elsewhere["next_batch"], filter=LAZY)
    assert _members(back, room_id) == {}, "carol was sent by the other process"


def test_a_sync_that_sends_no_new_member_writes_nothing(homeserver: HomeserverUnderTest,
                                                        trio: tuple[dict[str, str], str]) -> None:
    tokens, room_id = trio
    _fillers(homeserver, tokens["bob"], room_id, 10, "bob")
    first = _sync(homeserver, tokens["alice"], filter=LAZY)

    def recorded() -> list[tuple[str, str]]:
        with homeserver.deps.database.read() as conn:
            held = homeserver.deps.stores.sent_members.list_sent_members(
                conn, "@alice:test.local", _device(homeserver, tokens["alice"]), [room_id])
        return sorted((member, sent.sent_until.encode()) for member, sent in held.get(room_id, {}).items())

    before = recorded()
    assert [member for member, _ in before] == ["@alice:test.local", "@bob:test.local"]
    _send(homeserver, tokens["bob"], room_id, "bob again")
    second = _sync(homeserver, tokens["alice"], first["next_batch"], filter=LAZY)
    assert _bodies(second["rooms"]["join"][room_id]) == ["bob again"]
    assert recorded() == before, "nothing new was sent, so nothing was written"


def _device(server: HomeserverUnderTest, token: str) -> str:
    return str(server.get("/_matrix/client/v3/account/whoami", token=token).json["device_id"])


def test_an_initial_sync_forgets_what_the_device_held_before(homeserver: HomeserverUnderTest,
                                                             trio: tuple[dict[str, str], str]) -> None:
    tokens, room_id = trio
    _send(homeserver, tokens["bob"], room_id, "bob speaks")
    _fillers(homeserver, tokens["carol"], room_id, 10, "carol")
    first = _sync(homeserver, tokens["alice"], filter=LAZY)
    assert "@bob:test.local" not in _members(first, room_id)
    small = {"room": {"timeline": {"limit": 1}, "state": {"lazy_load_members": True}}}
    _send(homeserver, tokens["bob"], room_id, "bob again")
    incremental = _sync(homeserver, tokens["alice"], first["next_batch"], filter=small)
    assert "@bob:test.local" in _members(incremental, room_id)
    _send(homeserver, tokens["carol"], room_id, "carol last")
    fresh = _sync(homeserver, tokens["alice"], filter=small)  # the client started over: bob is not in it
    assert "@bob:test.local" not in _members(fresh, room_id)
    _send(homeserver, tokens["bob"], room_id, "bob after the restart")
    after = _sync(homeserver, tokens["alice"], fresh["next_batch"], filter=small)
    assert "@bob:test.local" in _members(after, room_id), "the restarted client never got bob"


def _recorded_members(server: HomeserverUnderTest, user_id: str, device_id: str, room_id: str) -> set[str]:
    """The members the record says ``device_id`` holds in the room."""
    with server.deps.database.read() as conn:
        held = server.deps.stores.sent_members.list_sent_members(conn, user_id, device_id, [room_id])
    return set(held.get(room_id, {}))


def test_the_record_of_sent_members_goes_with_its_device(homeserver: HomeserverUnderTest,
                                                         trio: tuple[dict[str, str], str]) -> None:
    tokens, room_id = trio
    alice = "@alice:test.local"
    _fillers(homeserver, tokens["bob"], room_id, 10, "bob")
    phone = homeserver.login("alice", device_id="PHONE")["access_token"]
    laptop = homeserver.login("alice", device_id="LAPTOP")["access_token"]
    for token in (tokens["alice"], phone, laptop):
        _sync(homeserver, token, filter=LAZY)
    for device_id in ("PHONE", "LAPTOP"):
        assert _recorded_members(homeserver, alice, device_id, room_id) == {alice, "@bob:test.local"}
    challenge = homeserver.delete("/_matrix/client/v3/devices/PHONE", token=tokens["alice"], json={})
    assert homeserver.delete("/_matrix/client/v3/devices/PHONE", token=tokens["alice"], json={
        "auth": homeserver.password_auth(alice, session=challenge.json["session"])}).status_code == 200
    assert _recorded_members(homeserver, alice, "PHONE", room_id) == set(), "deleted with the device"
    assert _recorded_members(homeserver, alice, "LAPTOP", room_id) == {alice, "@bob:test.local"}, "others keep theirs"
    assert homeserver.post("/_matrix/client/v3/logout", token=laptop, json={}).status_code == 200
    assert _recorded_members(homeserver, alice, "LAPTOP", room_id) == set(), "logging out deletes the device"
    assert _recorded_members(homeserver, alice, _device(homeserver, tokens["alice"]), room_id), "untouched"


def test_a_sync_finishing_after_its_device_was_deleted_records_nothing(homeserver: HomeserverUnderTest) -> None:
    """The response was built before the deletion and recorded after it: the record must not come back."""
    alice = homeserver.register("alice")["user_id"]
    sent = {"!room:test.local": {alice: "$join"}}
    record_sent_members(homeserver.deps, alice, "GONE", WriterPositions(), sent, {}, [], rebuilt_everything=True)
    assert _recorded_members(homeserver, alice, "GONE", "!room:test.local") == set()
