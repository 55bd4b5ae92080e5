"""Membership read and write paths beyond the basics in test_rooms.py: forgetting rooms, members as of a token."""

from __future__ import annotations

from typing import Any

from tests.homeserver import HomeserverUnderTest

CLIENT = "/_matrix/client/v3"


def _room(server: HomeserverUnderTest, token: str, **body: Any) -> str:
    response = server.post(f"{CLIENT}/createRoom", token=token, json=body)
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def _forgotten(server: HomeserverUnderTest, user_id: str) -> list[str]:
    with server.deps.database.read() as conn:
        return server.deps.stores.forgotten_rooms.list_forgotten_rooms(conn, user_id)


# --- POST /rooms/{roomId}/forget ---------------------------------------------------------------------------------
def test_a_room_can_be_forgotten_only_once_left(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    forget = f"{CLIENT}/rooms/{room_id}/forget"
    joined = homeserver.post(forget, token=alice, json={})
    assert (joined.status_code, joined.json["errcode"]) == (400, "M_UNKNOWN")
    homeserver.post(f"{CLIENT}/rooms/{room_id}/invite", token=alice, json={"user_id": "@bob:test.local"})
    invited = homeserver.post(forget, token=bob, json={})
    assert (invited.status_code, invited.json["errcode"]) == (400, "M_UNKNOWN")
    assert _forgotten(homeserver, "@bob:test.local") == []

    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/leave", token=alice, json={}).status_code == 200
    left = homeserver.post(forget, token=alice)
    assert (left.status_code, left.json) == (200, {})
    assert _forgotten(homeserver, "@alice:test.local") == [room_id]
    assert homeserver.post(forget, token=alice).status_code == 200, "forgetting again is harmless"


def test_a_banned_user_may_forget_the_room(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={})
    homeserver.post(f"{CLIENT}/rooms/{room_id}/ban", token=alice, json={"user_id": "@bob:test.local"})
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/forget", token=bob, json={}).status_code == 200
    assert _forgotten(homeserver, "@bob:test.local") == [room_id]


def test_forgetting_a_room_never_entered_answers_200_and_records_nothing(homeserver: HomeserverUnderTest) -> None:
    """As Synapse: no membership, nothing to forget; an unknown room id is no different."""
    alice = homeserver.register("alice")["access_token"]
    eve = homeserver.register("eve")["access_token"]
    room_id = _room(homeserver, alice, preset="private_chat")
    for target in (room_id, "!unknown:test.local"):
        response = homeserver.post(f"{CLIENT}/rooms/{target}/forget", token=eve, json={})
        assert (response.status_code, response.json) == (200, {})
    assert _forgotten(homeserver, "@eve:test.local") == []


def test_rejoining_or_an_invite_brings_a_forgotten_room_back(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    base = f"{CLIENT}/rooms/{room_id}"
    homeserver.post(f"{base}/join", token=bob, json={})
    homeserver.post(f"{base}/leave", token=bob, json={})
    homeserver.post(f"{base}/forget", token=bob, json={})
    assert _forgotten(homeserver, "@bob:test.local") == [room_id]
    assert homeserver.post(f"{base}/join", token=bob, json={}).status_code == 200
    assert _forgotten(homeserver, "@bob:test.local") == []

    homeserver.post(f"{base}/leave", token=bob, json={})
    homeserver.post(f"{base}/forget", token=bob, json={})
    assert _forgotten(homeserver, "@bob:test.local") == [room_id], "a second forget after a rejoin counts"
    homeserver.post(f"{base}/invite", token=alice, json={"user_id": "@bob:test.local"})
    assert _forgotten(homeserver, "@bob:test.local") == [], "an invite to a forgotten room must be seen"


def test_guests_cannot_forget(make_homeserver: Any) -> None:
    """As Synapse: forgetting is for full accounts."""
    server: HomeserverUnderTest = make_homeserver(allow_guest_access=True)
    guest = server.post(f"{CLIENT}/register?kind=guest", json={}).json["access_token"]
    refused = server.post(f"{CLIENT}/rooms/!any:test.local/forget", token=guest, json={})
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")


# --- GET /rooms/{roomId}/members?at= -----------------------------------------------------------------------------
def _now_token(server: HomeserverUnderTest, token: str, room_id: str) -> str:
    """A topological token for "now": where a backwards /messages with no ``from`` starts."""
    return str(server.get(f"{CLIENT}/rooms/{room_id}/messages?dir=b&limit=1", token=token).json["start"])


def _members(server: HomeserverUnderTest, token: str, room_id: str, query: str) -> dict[str, str]:
    response = server.get(f"{CLIENT}/rooms/{room_id}/members?{query}", token=token)
    assert response.status_code == 200, response.json
    return {event["state_key"]: event["content"]["membership"] for event in response.json["chunk"]}


def test_members_at_a_token_are_the_members_of_then(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    carol = homeserver.register("carol")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    base = f"{CLIENT}/rooms/{room_id}"
    homeserver.post(f"{base}/join", token=bob, json={})
    joined = homeserver.put(f"{base}/send/m.room.message/t1", token=alice, json={"body": "hi"}).json["event_id"]
    then = _now_token(homeserver, alice, room_id)
    homeserver.post(f"{base}/join", token=carol, json={})
    homeserver.post(f"{base}/kick", token=alice, json={"user_id": "@bob:test.local"})

    assert _members(homeserver, alice, room_id, "") == {
        "@alice:test.local": "join", "@bob:test.local": "leave", "@carol:test.local": "join"}
    assert _members(homeserver, alice, room_id, f"at={then}") == {
        "@alice:test.local": "join", "@bob:test.local": "join"}
    assert _members(homeserver, carol, room_id, f"at={then}&not_membership=leave") == {
        "@alice:test.local": "join", "@bob:test.local": "join"}
    assert _members(homeserver, alice, room_id, f"at={then}&membership=leave") == {}

    with homeserver.deps.database.read() as conn:
        stored = homeserver.deps.stores.events.get_event(conn, joined)
    assert stored is not None
    stream_token = f"s{stored.stream_ordering}"  # a /sync-style token is placed like /messages places it
    assert _members(homeserver, alice, room_id, f"at={stream_token}&membership=join") == {
        "@alice:test.local": "join", "@bob:test.local": "join"}


def test_a_departed_member_sees_members_no_later_than_their_leave(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    carol = homeserver.register("carol")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    base = f"{CLIENT}/rooms/{room_id}"
    homeserver.post(f"{base}/join", token=bob, json={})
    homeserver.post(f"{base}/leave", token=bob, json={})
    homeserver.post(f"{base}/join", token=carol, json={})
    later = _now_token(homeserver, alice, room_id)
    assert _members(homeserver, bob, room_id, f"at={later}") == {
        "@alice:test.local": "join", "@bob:test.local": "leave"}, "carol joined after bob left"


def test_members_at_refuses_outsiders_unseen_history_and_bad_tokens(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    dave = homeserver.register("dave")["access_token"]
    eve = homeserver.register("eve")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat", initial_state=[
        {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "joined"}}])
    homeserver.put(f"{CLIENT}/rooms/{room_id}/send/m.room.message/t1", token=alice, json={"body": "members only"})
    before_dave = _now_token(homeserver, alice, room_id)
    homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=dave, json={})
    members = f"{CLIENT}/rooms/{room_id}/members"

    unseen = homeserver.get(f"{members}?at={before_dave}", token=dave)
    assert (unseen.status_code, unseen.json["errcode"]) == (403, "M_FORBIDDEN")
    assert "@alice:test.local" in _members(homeserver, dave, room_id, f"at={_now_token(homeserver, dave, room_id)}")
    outsider = homeserver.get(f"{members}?at={before_dave}", token=eve)
    assert (outsider.status_code, outsider.json["errcode"]) == (403, "M_FORBIDDEN")
    malformed = homeserver.get(f"{members}?at=yesterday", token=alice)
    assert (malformed.status_code, malformed.json["errcode"]) == (400, "M_INVALID_PARAM")
    too_early = homeserver.get(f"{members}?at=t0-0", token=alice)
    assert (too_early.status_code, too_early.json) == (200, {"chunk": []}), "no member before the room's first event"
    unknown = homeserver.get(f"{CLIENT}/rooms/!unknown:test.local/members?at={before_dave}", token=alice)
    assert unknown.status_code == 404


# --- idempotent state and membership, targets of kick and unban ---------------------------------------------------
def _member_event_id(server: HomeserverUnderTest, token: str, room_id: str, user_id: str) -> str:
    state = server.get(f"{CLIENT}/rooms/{room_id}/state", token=token).json
    return next(event["event_id"] for event in state
                if (event["type"], event["state_key"]) == ("m.room.member", user_id))


def test_setting_identical_state_twice_creates_no_new_event(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    path = f"{CLIENT}/rooms/{room_id}/state/m.room.topic"
    first = homeserver.put(path, token=alice, json={"topic": "same"})
    again = homeserver.put(path, token=alice, json={"topic": "same"})
    assert first.status_code == again.status_code == 200
    assert again.json["event_id"] == first.json["event_id"]
    changed = homeserver.put(path, token=alice, json={"topic": "other"})
    assert changed.json["event_id"] != first.json["event_id"]


def test_joining_a_room_twice_creates_no_new_event(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    first = _member_event_id(homeserver, alice, room_id, "@bob:test.local")
    assert homeserver.post(f"{CLIENT}/join/{room_id}", token=bob, json={}).status_code == 200
    assert _member_event_id(homeserver, alice, room_id, "@bob:test.local") == first


def test_join_keeps_the_reason_and_custom_content(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    response = homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob,
                               json={"reason": "hello", "org.example.custom": {"x": 1}, "membership": "leave"})
    assert response.status_code == 200, response.json
    member = homeserver.get(f"{CLIENT}/rooms/{room_id}/state/m.room.member/@bob:test.local", token=alice).json
    assert member == {"membership": "join", "displayname": "bob", "reason": "hello", "org.example.custom": {"x": 1}}


def test_kicking_someone_not_in_the_room_is_forbidden(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    kick = f"{CLIENT}/rooms/{room_id}/kick"
    stranger = homeserver.post(kick, token=alice, json={"user_id": "@bob:example.com", "reason": "testing"})
    assert (stranger.status_code, stranger.json["errcode"]) == (403, "M_FORBIDDEN")
    homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={})
    assert homeserver.post(kick, token=alice, json={"user_id": "@bob:test.local"}).status_code == 200
    again = homeserver.post(kick, token=alice, json={"user_id": "@bob:test.local"})
    assert (again.status_code, again.json["errcode"]) == (403, "M_FORBIDDEN"), "already left"


def test_kicking_a_banned_user_does_not_unban_them(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={})
    homeserver.post(f"{CLIENT}/rooms/{room_id}/ban", token=alice, json={"user_id": "@bob:test.local"})
    kick = homeserver.post(f"{CLIENT}/rooms/{room_id}/kick", token=alice, json={"user_id": "@bob:test.local"})
    assert kick.status_code == 403
    member = homeserver.get(f"{CLIENT}/rooms/{room_id}/state/m.room.member/@bob:test.local", token=alice).json
    assert member["membership"] == "ban"
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 403


def test_unbanning_someone_not_banned_is_forbidden(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={})
    unban = homeserver.post(f"{CLIENT}/rooms/{room_id}/unban", token=alice, json={"user_id": "@bob:test.local"})
    assert unban.status_code == 403
    member = homeserver.get(f"{CLIENT}/rooms/{room_id}/state/m.room.member/@bob:test.local", token=alice).json
    assert member["membership"] == "join", "an unban is never a kick"


def test_guests_leave_when_guest_access_is_revoked(make_homeserver: Any) -> None:
    homeserver: HomeserverUnderTest = make_homeserver(allow_guest_access=True)
    alice = homeserver.register("alice")["access_token"]
    guest = homeserver.post(f"{CLIENT}/register?kind=guest", json={}).json
    room_id = _room(homeserver, alice, preset="public_chat")
    access = f"{CLIENT}/rooms/{room_id}/state/m.room.guest_access"
    assert homeserver.put(access, token=alice, json={"guest_access": "can_join"}).status_code == 200
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=guest["access_token"], json={}).status_code == 200
    invited = homeserver.post(f"{CLIENT}/register?kind=guest", json={}).json["user_id"]
    homeserver.post(f"{CLIENT}/rooms/{room_id}/invite", token=alice, json={"user_id": invited})
    assert homeserver.put(access, token=alice, json={"guest_access": "forbidden"}).status_code == 200
    for user_id in (guest["user_id"], invited):
        member = homeserver.get(f"{CLIENT}/rooms/{room_id}/state/m.room.member/{user_id}", token=alice).json
        assert member["membership"] == "leave", "joined and invited guests leave, as Synapse has them"
    alice_member = homeserver.get(f"{CLIENT}/rooms/{room_id}/state/m.room.member/@alice:test.local", token=alice)
    assert alice_member.json["membership"] == "join", "full members stay"


def test_guests_join_only_rooms_that_let_guests_join(make_homeserver: Any) -> None:
    homeserver: HomeserverUnderTest = make_homeserver(allow_guest_access=True)
    alice = homeserver.register("alice")["access_token"]
    guest = homeserver.post(f"{CLIENT}/register?kind=guest", json={}).json["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    refused = homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=guest, json={})
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    homeserver.put(f"{CLIENT}/rooms/{room_id}/state/m.room.guest_access", token=alice,
                   json={"guest_access": "can_join"})
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=guest, json={}).status_code == 200
