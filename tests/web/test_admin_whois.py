"""``GET /admin/whois/{userId}`` (Client-Server API, "Server Administration"): each device's last connection,
for the user themselves or a server admin."""

from __future__ import annotations

from tests.homeserver import HomeserverUnderTest

CLIENT = "/_matrix/client/v3"


def test_a_user_sees_where_each_of_their_devices_was_last_seen(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")
    homeserver.clock.advance(60_000)
    response = homeserver.get(f"{CLIENT}/admin/whois/{alice['user_id']}", token=alice["access_token"],
                              headers={"User-Agent": "Lab/1.0"})
    assert response.status_code == 200, response.json
    assert response.json["user_id"] == alice["user_id"]
    [connection] = response.json["devices"][alice["device_id"]]["sessions"][0]["connections"]
    assert connection == {"ip": "127.0.0.1", "last_seen": homeserver.clock.now_ms(), "user_agent": "Lab/1.0"}


def test_only_a_server_admin_may_ask_about_someone_else(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")
    bob = homeserver.register("bob")["access_token"]
    refused = homeserver.get(f"{CLIENT}/admin/whois/{alice['user_id']}", token=bob)
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN")
    with homeserver.deps.database.write() as conn:
        homeserver.deps.stores.users.update_admin(conn, "@bob:test.local", True)
    answered = homeserver.get(f"{CLIENT}/admin/whois/{alice['user_id']}", token=bob)
    assert answered.status_code == 200, answered.json
    assert list(answered.json["devices"]) == [alice["device_id"]]
    bad = homeserver.get(f"{CLIENT}/admin/whois/not-a-user-id", token=bob)
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_INVALID_PARAM")
