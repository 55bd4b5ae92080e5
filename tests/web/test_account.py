"""Password change and deactivation, both behind user-interactive auth."""

from __future__ import annotations

from typing import Any

from tests.homeserver import PASSWORD, HomeserverUnderTest

PASSWORD_PATH = "/_matrix/client/v3/account/password"
WHOAMI = "/_matrix/client/v3/account/whoami"


def test_password_change_needs_the_current_password(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")
    other_device = homeserver.login("alice")
    token = alice["access_token"]

    challenge = homeserver.post(PASSWORD_PATH, token=token, json={"new_password": "s3cret new"})
    assert challenge.status_code == 401
    assert challenge.json["flows"] == [{"stages": ["m.login.password"]}]
    session = challenge.json["session"]

    wrong = homeserver.post(PASSWORD_PATH, token=token, json={
        "new_password": "s3cret new", "auth": homeserver.password_auth(alice["user_id"], "bad", session)})
    assert wrong.status_code == 401
    assert wrong.json["errcode"] == "M_FORBIDDEN"
    assert wrong.json["session"] == session

    done = homeserver.post(PASSWORD_PATH, token=token, json={
        "new_password": "s3cret new", "auth": homeserver.password_auth(alice["user_id"], PASSWORD, session)})
    assert done.status_code == 200
    # logout_devices defaults to true: other devices are gone, this one stays.
    assert homeserver.get(WHOAMI, token=token).status_code == 200
    assert homeserver.get(WHOAMI, token=other_device["access_token"]).json["errcode"] == "M_UNKNOWN_TOKEN"
    assert homeserver.login("alice", "s3cret new")["user_id"] == alice["user_id"]
    old = homeserver.post("/_matrix/client/v3/login", json={
        "type": "m.login.password", "user": "alice", "password": PASSWORD})
    assert old.status_code == 403


def test_password_change_can_keep_other_devices(homeserver: HomeserverUnderTest) -> None:
    bob = homeserver.register("bob")
    other = homeserver.login("bob")
    response = homeserver.post(PASSWORD_PATH, token=bob["access_token"], json={
        "new_password": "another", "logout_devices": False, "auth": homeserver.password_auth(bob["user_id"])})
    assert response.status_code == 200
    assert homeserver.get(WHOAMI, token=other["access_token"]).status_code == 200


def test_someone_elses_password_is_refused_with_403(homeserver: HomeserverUnderTest) -> None:
    """As Synapse: proving to be another user is no stage to retry but a refusal (a stolen token plus the thief's
    own password must not act for the token's owner)."""
    homeserver.register("carol")
    dave = homeserver.register("dave")
    response = homeserver.post(PASSWORD_PATH, token=dave["access_token"], json={
        "new_password": "hijack", "auth": homeserver.password_auth("@carol:test.local")})
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")
    assert homeserver.login("dave")["user_id"] == "@dave:test.local", "the password did not change"


def test_a_wrong_password_is_a_401_listing_completed_stages(homeserver: HomeserverUnderTest) -> None:
    dave = homeserver.register("dave")
    response = homeserver.post("/_matrix/client/v3/account/deactivate", token=dave["access_token"], json={
        "auth": homeserver.password_auth(dave["user_id"], password="wrong password")})
    assert response.status_code == 401
    assert response.json["errcode"] == "M_FORBIDDEN"
    assert response.json["completed"] == []
    assert {"flows", "params", "session", "error"} <= set(response.json)


def test_a_retried_completed_session_asks_for_authentication_again(homeserver: HomeserverUnderTest) -> None:
    """The operation happened; its session is spent rather than forgotten: a retry is told which stages are
    completed (none) instead of "unknown session", and a password proves it again."""
    dave = homeserver.register("dave")
    first = homeserver.post(PASSWORD_PATH, token=dave["access_token"], json={"new_password": "second"})
    assert first.status_code == 401
    session = first.json["session"]
    done = homeserver.post(PASSWORD_PATH, token=dave["access_token"], json={
        "new_password": "second", "auth": homeserver.password_auth(dave["user_id"], session=session)})
    assert done.status_code == 200
    retried = homeserver.post(PASSWORD_PATH, token=dave["access_token"], json={
        "new_password": "second", "auth": {"session": session}})
    assert (retried.status_code, retried.json["session"], retried.json["completed"]) == (401, session, [])


def test_deactivation_removes_sessions_and_profile(homeserver: HomeserverUnderTest) -> None:
    erin = homeserver.register("erin")
    homeserver.put("/_matrix/client/v3/profile/@erin:test.local/displayname", token=erin["access_token"],
                   json={"displayname": "Erin"})
    challenge = homeserver.post("/_matrix/client/v3/account/deactivate", token=erin["access_token"], json={})
    assert challenge.status_code == 401
    done = homeserver.post("/_matrix/client/v3/account/deactivate", token=erin["access_token"], json={
        "auth": homeserver.password_auth(erin["user_id"], session=challenge.json["session"])})
    assert done.json == {"id_server_unbind_result": "no-support"}
    assert homeserver.get(WHOAMI, token=erin["access_token"]).json["errcode"] == "M_UNKNOWN_TOKEN"
    assert homeserver.get("/_matrix/client/v3/profile/@erin:test.local").json == {}
    # The name stays taken: ids are never reused.
    again = homeserver.post("/_matrix/client/v3/register", json={
        "username": "erin", "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
    assert again.json["errcode"] == "M_USER_IN_USE"


def test_whoami_on_r0(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("fred")["access_token"]
    assert homeserver.get("/_matrix/client/r0/account/whoami", token=token).json["user_id"] == "@fred:test.local"


def test_an_erased_users_messages_are_redacted_for_those_who_joined_later(homeserver: HomeserverUnderTest) -> None:
    """Deactivating with ``erase: true`` (as Synapse): members who were joined when a message was sent still see
    it; whoever joined later sees it redacted."""
    creator = homeserver.register("creator")
    member = homeserver.register("member")["access_token"]
    joiner = homeserver.register("joiner")["access_token"]
    room_id = homeserver.post("/_matrix/client/v3/createRoom", token=creator["access_token"],
                              json={"preset": "public_chat"}).json["room_id"]
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=member, json={})
    sent = homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t1",
                          token=creator["access_token"], json={"msgtype": "m.text", "body": "body1"}).json["event_id"]
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=joiner, json={})
    event_path = f"/_matrix/client/v3/rooms/{room_id}/event/{sent}"
    assert homeserver.get(event_path, token=joiner).json["content"]["body"] == "body1"
    done = homeserver.post("/_matrix/client/v3/account/deactivate", token=creator["access_token"], json={
        "erase": True, "auth": homeserver.password_auth(creator["user_id"])})
    assert done.status_code == 200, done.json
    assert homeserver.get(event_path, token=member).json["content"]["body"] == "body1"
    assert homeserver.get(event_path, token=joiner).json["content"] == {}
    messages = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=20", token=joiner).json
    served = next(event for event in messages["chunk"] if event["event_id"] == sent)
    assert served["content"] == {}


def test_an_erased_users_messages_reach_later_joiners_redacted_in_sync(homeserver: HomeserverUnderTest) -> None:
    """The same erasure through ``/sync``'s timeline, which SyTest reads: the original member gets the message,
    the later joiner its redacted form."""
    creator = homeserver.register("creator")
    member = homeserver.register("member")["access_token"]
    joiner = homeserver.register("joiner")["access_token"]
    room_id = homeserver.post("/_matrix/client/v3/createRoom", token=creator["access_token"],
                              json={"preset": "public_chat"}).json["room_id"]
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=member, json={})
    sent = homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t1",
                          token=creator["access_token"], json={"msgtype": "m.text", "body": "body1"}).json["event_id"]
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=joiner, json={})
    done = homeserver.post("/_matrix/client/v3/account/deactivate", token=creator["access_token"], json={
        "erase": True, "auth": homeserver.password_auth(creator["user_id"])})
    assert done.status_code == 200, done.json

    def synced_content(token: str) -> dict[str, Any]:
        timeline = homeserver.get("/_matrix/client/v3/sync", token=token).json["rooms"]["join"][room_id]["timeline"]
        return next(event["content"] for event in timeline["events"] if event["event_id"] == sent)

    assert synced_content(member)["body"] == "body1"
    assert synced_content(joiner) == {}
