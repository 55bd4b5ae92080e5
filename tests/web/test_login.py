"""Login, refresh, logout and token handling."""

from __future__ import annotations

from tests.homeserver import PASSWORD, HomeserverUnderTest

LOGIN = "/_matrix/client/v3/login"
WHOAMI = "/_matrix/client/v3/account/whoami"


def test_login_flows_offer_password(homeserver: HomeserverUnderTest) -> None:
    assert homeserver.get(LOGIN).json == {"flows": [{"type": "m.login.password"}]}
    assert homeserver.get("/_matrix/client/r0/login").status_code == 200


def test_password_login_with_identifier_localpart_or_legacy_user(homeserver: HomeserverUnderTest) -> None:
    homeserver.register("alice")
    by_id = homeserver.login("@alice:test.local")
    by_localpart = homeserver.login("ALICE")
    legacy = homeserver.post(LOGIN, json={"type": "m.login.password", "user": "alice", "password": PASSWORD}).json
    assert by_id["user_id"] == by_localpart["user_id"] == legacy["user_id"] == "@alice:test.local"
    assert len({by_id["device_id"], by_localpart["device_id"], legacy["device_id"]}) == 3
    assert homeserver.get(WHOAMI, token=legacy["access_token"]).json["device_id"] == legacy["device_id"]


def test_wrong_password_or_unknown_user_is_forbidden(homeserver: HomeserverUnderTest) -> None:
    homeserver.register("bob")
    for user, password in (("bob", "wrong"), ("nobody", PASSWORD), ("@bob:other.server", PASSWORD)):
        response = homeserver.post(LOGIN, json={"type": "m.login.password", "password": password,
                                                "identifier": {"type": "m.id.user", "user": user}})
        assert response.status_code == 403
        assert response.json["errcode"] == "M_FORBIDDEN"


def test_unknown_login_type_and_third_party_ids_are_rejected(homeserver: HomeserverUnderTest) -> None:
    unknown = homeserver.post(LOGIN, json={"type": "m.login.magic"})
    assert (unknown.status_code, unknown.json["errcode"]) == (400, "M_UNKNOWN")
    threepid = homeserver.post(LOGIN, json={"type": "m.login.password", "password": "x", "identifier": {
        "type": "m.id.thirdparty", "medium": "email", "address": "a@b.c"}})
    assert threepid.status_code == 400
    missing = homeserver.post(LOGIN, json={"type": "m.login.password", "password": "x"})
    assert missing.json["errcode"] == "M_MISSING_PARAM"


def test_login_with_existing_device_id_reuses_it_and_revokes_its_old_token(homeserver: HomeserverUnderTest) -> None:
    first = homeserver.register("carol", device_id="LAPTOP")
    second = homeserver.login("carol", device_id="LAPTOP")
    assert second["device_id"] == "LAPTOP"
    devices = homeserver.get("/_matrix/client/v3/devices", token=second["access_token"]).json["devices"]
    assert [device["device_id"] for device in devices] == ["LAPTOP"]
    old = homeserver.get(WHOAMI, token=first["access_token"])
    assert (old.status_code, old.json["errcode"]) == (401, "M_UNKNOWN_TOKEN")


def test_token_in_query_parameter_works_but_not_mixed_with_header(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("dora")["access_token"]
    assert homeserver.get(f"{WHOAMI}?access_token={token}").json["user_id"] == "@dora:test.local"
    mixed = homeserver.get(f"{WHOAMI}?access_token={token}", token=token)
    assert (mixed.status_code, mixed.json["errcode"]) == (401, "M_MISSING_TOKEN")


def test_missing_and_unknown_tokens(homeserver: HomeserverUnderTest) -> None:
    missing = homeserver.get(WHOAMI)
    assert (missing.status_code, missing.json["errcode"]) == (401, "M_MISSING_TOKEN")
    unknown = homeserver.get(WHOAMI, token="syt_bm9ib2R5_notarealtoken_000000")
    assert (unknown.status_code, unknown.json["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    assert unknown.json.get("soft_logout", False) is False
    basic = homeserver.get(WHOAMI, headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert basic.json["errcode"] == "M_MISSING_TOKEN"


def test_logout_revokes_only_that_device(homeserver: HomeserverUnderTest) -> None:
    phone = homeserver.register("erin")
    laptop = homeserver.login("erin")
    assert homeserver.post("/_matrix/client/v3/logout", token=phone["access_token"]).json == {}
    assert homeserver.get(WHOAMI, token=phone["access_token"]).json["errcode"] == "M_UNKNOWN_TOKEN"
    assert homeserver.get(WHOAMI, token=laptop["access_token"]).status_code == 200
    devices = homeserver.get("/_matrix/client/v3/devices", token=laptop["access_token"]).json["devices"]
    assert [device["device_id"] for device in devices] == [laptop["device_id"]]


def test_logout_all_revokes_every_device(homeserver: HomeserverUnderTest) -> None:
    one = homeserver.register("fay")
    two = homeserver.login("fay")
    assert homeserver.post("/_matrix/client/v3/logout/all", token=two["access_token"]).status_code == 200
    for session in (one, two):
        assert homeserver.get(WHOAMI, token=session["access_token"]).json["errcode"] == "M_UNKNOWN_TOKEN"
    fresh = homeserver.login("fay")
    assert len(homeserver.get("/_matrix/client/v3/devices", token=fresh["access_token"]).json["devices"]) == 1


def test_expired_access_token_is_a_soft_logout(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(nonrefreshable_access_token_lifetime="1h")
    session = server.register("gus")
    assert "expires_in_ms" in session
    assert server.get(WHOAMI, token=session["access_token"]).status_code == 200
    server.clock.advance(3_600_001)
    expired = server.get(WHOAMI, token=session["access_token"])
    assert expired.status_code == 401
    assert expired.json["errcode"] == "M_UNKNOWN_TOKEN"
    assert expired.json["soft_logout"] is True


def test_refresh_token_rotation(homeserver: HomeserverUnderTest) -> None:
    session = homeserver.register("hal", refresh_token=True)
    assert session["refresh_token"].startswith("syr_")
    assert session["expires_in_ms"] == 300_000

    refreshed = homeserver.post("/_matrix/client/v3/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200
    new = refreshed.json
    assert new["access_token"] != session["access_token"]
    assert new["refresh_token"] != session["refresh_token"]
    # Until the new pair is used, the old refresh token still works (a lost response can be retried)...
    retry = homeserver.post("/_matrix/client/v3/refresh", json={"refresh_token": session["refresh_token"]}).json
    # ...and the retry replaces the unused pair it had issued before.
    assert homeserver.get(WHOAMI, token=new["access_token"]).json["errcode"] == "M_UNKNOWN_TOKEN"
    assert homeserver.get(WHOAMI, token=retry["access_token"]).json["device_id"] == session["device_id"]
    # Using the new pair retires the old refresh token.
    stale = homeserver.post("/_matrix/client/v3/refresh", json={"refresh_token": session["refresh_token"]})
    assert (stale.status_code, stale.json["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    unknown = homeserver.post("/_matrix/client/v3/refresh", json={"refresh_token": "syr_nope"})
    assert unknown.json["errcode"] == "M_UNKNOWN_TOKEN"


def test_expired_refreshable_token_then_refresh(homeserver: HomeserverUnderTest) -> None:
    session = homeserver.register("ida", refresh_token=True)
    homeserver.clock.advance(300_001)
    expired = homeserver.get(WHOAMI, token=session["access_token"])
    assert expired.json["soft_logout"] is True
    new = homeserver.post("/_matrix/client/v3/refresh", json={"refresh_token": session["refresh_token"]}).json
    assert homeserver.get(WHOAMI, token=new["access_token"]).json["user_id"] == "@ida:test.local"


def test_deactivated_account_cannot_log_in(homeserver: HomeserverUnderTest) -> None:
    session = homeserver.register("jon")
    response = homeserver.post("/_matrix/client/v3/account/deactivate", token=session["access_token"],
                               json={"auth": homeserver.password_auth(session["user_id"])})
    assert response.status_code == 200
    login = homeserver.post(LOGIN, json={"type": "m.login.password", "password": PASSWORD,
                                         "identifier": {"type": "m.id.user", "user": "jon"}})
    assert login.status_code == 403
    assert homeserver.get(WHOAMI, token=session["access_token"]).json["errcode"] == "M_UNKNOWN_TOKEN"
