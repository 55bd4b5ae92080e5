"""POST /register and its helpers, as a client sees them."""

from __future__ import annotations

import pytest

from persistence.stores.registration_tokens import RegistrationToken
from tests.homeserver import PASSWORD, HomeserverUnderTest

REGISTER = "/_matrix/client/v3/register"


def test_first_request_starts_a_dummy_flow_then_dummy_auth_registers(homeserver: HomeserverUnderTest) -> None:
    first = homeserver.post(REGISTER, json={"username": "alice", "password": PASSWORD})
    assert first.status_code == 401
    assert first.json["flows"] == [{"stages": ["m.login.dummy"]}]
    session = first.json["session"]

    second = homeserver.post(REGISTER, json={"username": "alice", "password": PASSWORD,
                                             "auth": {"type": "m.login.dummy", "session": session}})
    assert second.status_code == 200
    body = second.json
    assert body["user_id"] == "@alice:test.local"
    assert body["device_id"] and body["access_token"].startswith("syt_")
    whoami = homeserver.get("/_matrix/client/v3/account/whoami", token=body["access_token"])
    assert whoami.json == {"user_id": "@alice:test.local", "device_id": body["device_id"], "is_guest": False}


def test_r0_path_registers_too(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.post("/_matrix/client/r0/register", json={
        "username": "bob", "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
    assert response.status_code == 200
    assert response.json["user_id"] == "@bob:test.local"


def test_taken_username_is_m_user_in_use_case_insensitively(homeserver: HomeserverUnderTest) -> None:
    homeserver.register("carol")
    for name in ("carol", "CAROL"):
        response = homeserver.post(REGISTER, json={"username": name, "password": PASSWORD,
                                                   "auth": {"type": "m.login.dummy"}})
        assert response.status_code == 400
        assert response.json["errcode"] == "M_USER_IN_USE"


@pytest.mark.parametrize("username", ["bad name", "émile", "a:b", "12345", "x" * 250, ""])
def test_invalid_usernames_are_rejected(homeserver: HomeserverUnderTest, username: str) -> None:
    response = homeserver.post(REGISTER, json={"username": username, "password": PASSWORD,
                                               "auth": {"type": "m.login.dummy"}})
    assert response.status_code == 400
    assert response.json["errcode"] == "M_INVALID_USERNAME"


def test_uppercase_username_is_lowercased(homeserver: HomeserverUnderTest) -> None:
    assert homeserver.register("Dave")["user_id"] == "@dave:test.local"


def test_no_username_gets_a_generated_id(homeserver: HomeserverUnderTest) -> None:
    body = homeserver.post(REGISTER, json={"password": PASSWORD, "auth": {"type": "m.login.dummy"}}).json
    localpart = body["user_id"][1:].split(":")[0]
    assert localpart.isdigit()


def test_password_is_required_once_auth_is_done(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.post(REGISTER, json={"username": "erin", "auth": {"type": "m.login.dummy"}})
    assert response.status_code == 400
    assert response.json["errcode"] == "M_MISSING_PARAM"
    # Nothing was created: the name is still free.
    homeserver.register("erin")


def test_inhibit_login_creates_the_account_without_a_session(homeserver: HomeserverUnderTest) -> None:
    body = homeserver.register("frank", inhibit_login=True)
    assert body == {"user_id": "@frank:test.local", "home_server": "test.local"}
    assert homeserver.login("frank")["user_id"] == "@frank:test.local"


def test_device_id_and_display_name_are_kept(homeserver: HomeserverUnderTest) -> None:
    body = homeserver.register("gina", device_id="PHONE", initial_device_display_name="Gina's phone")
    assert body["device_id"] == "PHONE"
    device = homeserver.get("/_matrix/client/v3/devices/PHONE", token=body["access_token"]).json
    assert device["display_name"] == "Gina's phone"


def test_registration_disabled_is_forbidden(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(enable_registration=False)
    response = server.post(REGISTER, json={"username": "x", "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
    assert response.status_code == 403
    assert response.json["errcode"] == "M_FORBIDDEN"
    available = server.get("/_matrix/client/v3/register/available?username=x")
    assert available.status_code == 403


def test_guest_registration_needs_guest_access(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    closed = make_homeserver()
    refused = closed.post(REGISTER + "?kind=guest", json={})
    assert refused.status_code == 403
    assert refused.json["errcode"] == "M_GUEST_ACCESS_FORBIDDEN"

    server = make_homeserver(allow_guest_access=True)
    guest = server.post(REGISTER + "?kind=guest", json={}).json
    whoami = server.get("/_matrix/client/v3/account/whoami", token=guest["access_token"]).json
    assert whoami["is_guest"] is True
    # Guests may not use account endpoints that need a full account.
    devices = server.get("/_matrix/client/v3/devices", token=guest["access_token"])
    assert devices.status_code == 403
    assert devices.json["errcode"] == "M_GUEST_ACCESS_FORBIDDEN"


def test_unknown_kind_is_rejected(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.post(REGISTER + "?kind=admin", json={})
    assert response.status_code == 400
    assert response.json["errcode"] == "M_INVALID_PARAM"


def test_username_availability(homeserver: HomeserverUnderTest) -> None:
    homeserver.register("henry")
    free = homeserver.get("/_matrix/client/v3/register/available?username=ivy")
    assert free.json == {"available": True}
    taken = homeserver.get("/_matrix/client/v3/register/available?username=henry")
    assert (taken.status_code, taken.json["errcode"]) == (400, "M_USER_IN_USE")
    invalid = homeserver.get("/_matrix/client/v3/register/available?username=no%20spaces")
    assert invalid.json["errcode"] == "M_INVALID_USERNAME"
    missing = homeserver.get("/_matrix/client/v3/register/available")
    assert missing.json["errcode"] == "M_MISSING_PARAM"


def _add_token(server: HomeserverUnderTest, token: str, uses_allowed: int | None,
               expiry_time: int | None = None) -> None:
    with server.deps.database.write() as conn:
        server.deps.stores.registration_tokens.insert_token(
            conn, RegistrationToken(token, uses_allowed, 0, 0, expiry_time))


def test_registration_token_flow_counts_uses(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(registration_requires_token=True, enable_registration_without_verification=False)
    _add_token(server, "letmein", uses_allowed=1)
    validity = "/_matrix/client/v1/register/m.login.registration_token/validity?token="
    assert server.get(validity + "letmein").json == {"valid": True}
    assert server.get(validity + "nope").json == {"valid": False}

    first = server.post(REGISTER, json={"username": "jack", "password": PASSWORD})
    assert first.json["flows"] == [{"stages": ["m.login.registration_token"]}]
    session = first.json["session"]
    wrong = server.post(REGISTER, json={"username": "jack", "password": PASSWORD, "auth": {
        "type": "m.login.registration_token", "token": "nope", "session": session}})
    assert wrong.status_code == 401
    assert wrong.json["errcode"] == "M_UNAUTHORIZED"
    dummy = server.post(REGISTER, json={"username": "jack", "password": PASSWORD, "auth": {
        "type": "m.login.dummy", "session": session}})
    assert dummy.status_code == 400, "a stage outside the offered flows must not count"
    done = server.post(REGISTER, json={"username": "jack", "password": PASSWORD, "auth": {
        "type": "m.login.registration_token", "token": "letmein", "session": session}})
    assert done.status_code == 200
    # The single use is spent.
    assert server.get(validity + "letmein").json == {"valid": False}
    again = server.post(REGISTER, json={"username": "kim", "password": PASSWORD, "auth": {
        "type": "m.login.registration_token", "token": "letmein"}})
    assert again.status_code == 401


def test_expired_registration_token_is_invalid(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(registration_requires_token=True)
    _add_token(server, "old", uses_allowed=None, expiry_time=server.clock.now_ms() - 1)
    validity = server.get("/_matrix/client/v1/register/m.login.registration_token/validity?token=old")
    assert validity.json == {"valid": False}


def test_token_validity_endpoint_is_forbidden_without_token_registration(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.get("/_matrix/client/v1/register/m.login.registration_token/validity?token=x")
    assert response.status_code == 403


def test_session_cannot_be_reused_for_another_operation(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("lara")
    session = homeserver.post("/_matrix/client/v3/account/password", token=alice["access_token"],
                              json={"new_password": "new one"}).json["session"]
    response = homeserver.post(REGISTER, json={"username": "mona", "password": PASSWORD,
                                               "auth": {"type": "m.login.dummy", "session": session}})
    assert response.status_code == 403


def test_weak_password_is_refused_by_policy(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(password_config={"policy": {"enabled": True, "minimum_length": 12,
                                                          "require_digit": True}})
    short = server.post(REGISTER, json={"username": "nina", "password": "short1", "auth": {"type": "m.login.dummy"}})
    assert short.json["errcode"] == "M_WEAK_PASSWORD"
    nodigit = server.post(REGISTER, json={"username": "nina", "password": "long enough password",
                                          "auth": {"type": "m.login.dummy"}})
    assert nodigit.json["errcode"] == "M_WEAK_PASSWORD"
    assert server.register("nina", password="long enough password 1")["user_id"] == "@nina:test.local"


def test_inhibit_user_in_use_error_defers_the_error_to_the_end(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(inhibit_user_in_use_error=True)
    server.register("olga")
    assert server.get("/_matrix/client/v3/register/available?username=olga").json == {"available": True}
    started = server.post(REGISTER, json={"username": "olga", "password": PASSWORD})
    assert started.status_code == 401
    finished = server.post(REGISTER, json={"username": "olga", "password": PASSWORD, "auth": {
        "type": "m.login.dummy", "session": started.json["session"]}})
    assert finished.json["errcode"] == "M_USER_IN_USE"


def test_password_sent_only_with_the_first_request_is_remembered(homeserver: HomeserverUnderTest) -> None:
    first = homeserver.post(REGISTER, json={"username": "pia", "password": PASSWORD})
    done = homeserver.post(REGISTER, json={"username": "pia", "auth": {
        "type": "m.login.dummy", "session": first.json["session"]}})
    assert done.status_code == 200
    assert homeserver.login("pia")["user_id"] == "@pia:test.local"
    with homeserver.deps.database.read() as conn:
        spent = homeserver.deps.stores.ui_auth.get_session(conn, first.json["session"])
    assert spent is not None and "password_hash" not in spent.data, "the hash goes once the account exists"


def _dummy(session: str) -> dict[str, object]:
    return {"auth": {"type": "m.login.dummy", "session": session}}


@pytest.mark.parametrize("username", [None, "quinn"])
def test_retrying_a_completed_registration_answers_for_the_same_account(homeserver: HomeserverUnderTest,
                                                                        username: str | None) -> None:
    params = {"password": PASSWORD, **({"username": username} if username else {})}
    session = homeserver.post(REGISTER, json=params).json["session"]
    first = homeserver.post(REGISTER, json={**params, **_dummy(session)})
    assert first.status_code == 200, first.json
    again = homeserver.post(REGISTER, json={**params, **_dummy(session)})
    assert again.status_code == 200, again.json
    assert again.json["user_id"] == first.json["user_id"]
    assert again.json["access_token"] != first.json["access_token"], "a fresh sign-in of that account"
    whoami = homeserver.get("/_matrix/client/v3/account/whoami", token=again.json["access_token"])
    assert whoami.json["user_id"] == first.json["user_id"]


def test_parameters_of_the_first_request_are_remembered(homeserver: HomeserverUnderTest) -> None:
    session = homeserver.post(REGISTER, json={"username": "rita", "password": PASSWORD, "device_id": "xyzzy",
                                              "initial_device_display_name": "display_name"}).json["session"]
    done = homeserver.post(REGISTER, json=_dummy(session))
    assert done.status_code == 200, done.json
    assert (done.json["user_id"], done.json["device_id"]) == ("@rita:test.local", "xyzzy")
    device = homeserver.get("/_matrix/client/v3/devices/xyzzy", token=done.json["access_token"]).json
    assert device["display_name"] == "display_name"
    assert homeserver.login("rita")["user_id"] == "@rita:test.local", "the remembered password is the account's"


def test_remembered_inhibit_login_returns_no_device_or_token(homeserver: HomeserverUnderTest) -> None:
    session = homeserver.post(REGISTER, json={"username": "sam", "password": PASSWORD,
                                              "inhibit_login": True}).json["session"]
    done = homeserver.post(REGISTER, json=_dummy(session))
    assert done.status_code == 200
    assert done.json["user_id"] == "@sam:test.local"
    assert "device_id" not in done.json and "access_token" not in done.json


def test_a_guest_upgrades_to_a_full_account(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(allow_guest_access=True)
    guest = server.post(f"{REGISTER}?kind=guest", json={}).json
    localpart = guest["user_id"][1:].split(":")[0]
    params = {"username": localpart, "password": PASSWORD, "guest_access_token": guest["access_token"]}
    first = server.post(REGISTER, json=params)
    assert first.status_code == 401
    done = server.post(REGISTER, json={**params, **_dummy(first.json["session"])})
    assert done.status_code == 200, done.json
    assert done.json["user_id"] == guest["user_id"]
    whoami = server.get("/_matrix/client/v3/account/whoami", token=done.json["access_token"]).json
    assert whoami == {"user_id": guest["user_id"], "device_id": done.json["device_id"], "is_guest": False}
    assert server.login(localpart)["user_id"] == guest["user_id"]


def test_a_guest_token_cannot_upgrade_another_user(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(allow_guest_access=True)
    first = server.post(f"{REGISTER}?kind=guest", json={}).json
    second = server.post(f"{REGISTER}?kind=guest", json={}).json
    localpart = first["user_id"][1:].split(":")[0]
    response = server.post(REGISTER, json={"username": localpart, "password": PASSWORD,
                                           "guest_access_token": second["access_token"],
                                           "auth": {"type": "m.login.dummy"}})
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")
    whoami = server.get("/_matrix/client/v3/account/whoami", token=first["access_token"]).json
    assert whoami["is_guest"] is True
