"""Profiles, and the user directory entries the user_directory task keeps in step with them."""

from __future__ import annotations

from tests.homeserver import HomeserverUnderTest


def _directory_entry(server: HomeserverUnderTest, user_id: str):  # type: ignore[no-untyped-def]
    with server.deps.database.read() as conn:
        return server.deps.stores.user_directory.get_entry(conn, user_id)


def test_display_name_defaults_to_localpart_and_can_be_changed(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")
    profile = "/_matrix/client/v3/profile/@alice:test.local"
    assert homeserver.get(profile).json == {"displayname": "alice"}
    assert homeserver.put(f"{profile}/displayname", token=alice["access_token"],
                          json={"displayname": "Alice A."}).json == {}
    assert homeserver.put(f"{profile}/avatar_url", token=alice["access_token"],
                          json={"avatar_url": "mxc://test.local/abc"}).json == {}
    assert homeserver.get(profile).json == {"displayname": "Alice A.", "avatar_url": "mxc://test.local/abc"}
    assert homeserver.get(f"{profile}/displayname").json == {"displayname": "Alice A."}
    assert homeserver.get("/_matrix/client/r0/profile/@alice:test.local/avatar_url").json == {
        "avatar_url": "mxc://test.local/abc"}


def test_profile_changes_reach_the_user_directory(homeserver: HomeserverUnderTest) -> None:
    bob = homeserver.register("bob")
    homeserver.eventually(lambda: _directory_entry(homeserver, bob["user_id"]))
    homeserver.put("/_matrix/client/v3/profile/@bob:test.local/displayname", token=bob["access_token"],
                   json={"displayname": "Bobby"})
    entry = homeserver.eventually(
        lambda: (e := _directory_entry(homeserver, bob["user_id"])) and e.display_name == "Bobby" and e)
    assert entry.user_id == "@bob:test.local"


def test_unset_fields_are_empty_and_unknown_users_not_found(homeserver: HomeserverUnderTest) -> None:
    """As Synapse: a known user's unset display name or avatar is ``{}``, not 404."""
    homeserver.register("carol")
    unset = homeserver.get("/_matrix/client/v3/profile/@carol:test.local/avatar_url")
    assert (unset.status_code, unset.json) == (200, {})
    unknown_field = homeserver.get("/_matrix/client/v3/profile/@carol:test.local/org.example.unknown")
    assert (unknown_field.status_code, unknown_field.json["errcode"]) == (404, "M_NOT_FOUND")
    field = homeserver.get("/_matrix/client/v3/profile/@nobody:test.local/displayname")
    assert (field.status_code, field.json["errcode"]) == (404, "M_NOT_FOUND")
    for user in ("@nobody:test.local", "not-a-user-id"):
        assert homeserver.get(f"/_matrix/client/v3/profile/{user}").json["errcode"] == "M_NOT_FOUND"


def test_cannot_change_someone_elses_profile(homeserver: HomeserverUnderTest) -> None:
    homeserver.register("dave")
    erin = homeserver.register("erin")
    response = homeserver.put("/_matrix/client/v3/profile/@dave:test.local/displayname",
                              token=erin["access_token"], json={"displayname": "owned"})
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")
    assert homeserver.get("/_matrix/client/v3/profile/@dave:test.local").json == {"displayname": "dave"}


def test_too_long_display_name_is_rejected_and_nothing_changes(homeserver: HomeserverUnderTest) -> None:
    fay = homeserver.register("fay")
    response = homeserver.put("/_matrix/client/v3/profile/@fay:test.local/displayname",
                              token=fay["access_token"], json={"displayname": "x" * 257})
    assert response.status_code == 400
    assert homeserver.get("/_matrix/client/v3/profile/@fay:test.local").json == {"displayname": "fay"}
