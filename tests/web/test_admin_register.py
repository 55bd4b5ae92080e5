"""Synapse-compatible shared-secret registration."""

from __future__ import annotations

from tests.homeserver import HomeserverUnderTest
from web.admin.register import expected_mac

ADMIN_REGISTER = "/_synapse/admin/v1/register"
SECRET = "test-shared-secret"


def _register(server: HomeserverUnderTest, username: str, password: str, admin: bool = False, **overrides):  # type: ignore[no-untyped-def]
    nonce = server.get(ADMIN_REGISTER).json["nonce"]
    body = {"nonce": nonce, "username": username, "password": password, "admin": admin,
            "mac": expected_mac(SECRET, nonce, username, password, admin, None), **overrides}
    return server.post(ADMIN_REGISTER, json=body)


def test_shared_secret_registration_creates_a_user_who_can_log_in(homeserver: HomeserverUnderTest) -> None:
    response = _register(homeserver, "root", "rootpw", admin=True, displayname="The Admin")
    assert response.status_code == 200
    assert response.json["user_id"] == "@root:test.local"
    assert homeserver.get("/_matrix/client/v3/profile/@root:test.local").json == {"displayname": "The Admin"}
    assert homeserver.login("root", "rootpw")["user_id"] == "@root:test.local"
    with homeserver.deps.database.read() as conn:
        assert homeserver.deps.stores.users.get_user(conn, "@root:test.local").admin is True


def test_wrong_mac_is_forbidden(homeserver: HomeserverUnderTest) -> None:
    nonce = homeserver.get(ADMIN_REGISTER).json["nonce"]
    response = homeserver.post(ADMIN_REGISTER, json={
        "nonce": nonce, "username": "eve", "password": "pw", "admin": True,
        "mac": expected_mac(SECRET, nonce, "eve", "pw", False, None)})
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")


def test_nonce_is_single_use_and_expires(homeserver: HomeserverUnderTest) -> None:
    nonce = homeserver.get(ADMIN_REGISTER).json["nonce"]
    body = {"nonce": nonce, "username": "one", "password": "pw", "admin": False,
            "mac": expected_mac(SECRET, nonce, "one", "pw", False, None)}
    assert homeserver.post(ADMIN_REGISTER, json=body).status_code == 200
    reuse = {**body, "username": "two", "mac": expected_mac(SECRET, nonce, "two", "pw", False, None)}
    assert homeserver.post(ADMIN_REGISTER, json=reuse).status_code == 400

    late = homeserver.get(ADMIN_REGISTER).json["nonce"]
    homeserver.clock.advance(61_000)
    expired = {"nonce": late, "username": "three", "password": "pw", "admin": False,
               "mac": expected_mac(SECRET, late, "three", "pw", False, None)}
    assert homeserver.post(ADMIN_REGISTER, json=expired).status_code == 400


def test_taken_name_and_disabled_secret(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver()
    server.register("taken")
    assert _register(server, "taken", "pw").json["errcode"] == "M_USER_IN_USE"
    disabled = make_homeserver(registration_shared_secret=None)
    assert disabled.get(ADMIN_REGISTER).status_code == 400
