"""The unsubscribe link of notification emails, in both shapes: a signed link removes that one email pusher
(GET or one-click POST, twice harmlessly); a link with a token for another pusher, or without its parameters, is
refused with the Matrix error and removes nothing."""

from __future__ import annotations

from urllib.parse import urlencode

from protocol.unsubscribe_tokens import secret_of, sign
from tests.homeserver import HomeserverUnderTest

PUSHERS = "/_matrix/client/v3/pushers"
SET = "/_matrix/client/v3/pushers/set"
ALICE = "@alice:test.local"


def _email_pusher(address: str) -> dict[str, object]:
    return {"kind": "email", "app_id": "m.email", "pushkey": address, "app_display_name": "Email",
            "device_display_name": address, "lang": "en", "data": {}}


def _link(homeserver: HomeserverUnderTest, pushkey: str, signed_for: str | None = None) -> str:
    """The link an email for Alice's ``pushkey`` pusher holds (with the token of ``signed_for``'s, if given)."""
    token = sign(secret_of(homeserver.deps.signing_key), ALICE, "m.email", signed_for or pushkey)
    return "/_synapse/client/unsubscribe?" + urlencode({"user_id": ALICE, "app_id": "m.email", "pushkey": pushkey,
                                                        "token": token})


def _pushkeys(homeserver: HomeserverUnderTest, token: str) -> list[str]:
    return [pusher["pushkey"] for pusher in homeserver.get(PUSHERS, token=token).json["pushers"]]


def test_the_link_removes_that_email_pusher(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    for address in ("alice@example.org", "alice@work.example.org"):
        assert homeserver.post(SET, token=alice, json=_email_pusher(address)).status_code == 200
    response = homeserver.get(_link(homeserver, "alice@example.org"))
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert _pushkeys(homeserver, alice) == ["alice@work.example.org"]
    assert homeserver.get(_link(homeserver, "alice@example.org")).status_code == 200  # clicked twice
    assert homeserver.post(_link(homeserver, "alice@work.example.org")).status_code == 200  # one-click
    assert _pushkeys(homeserver, alice) == []


def test_a_token_signed_for_another_pusher_is_refused(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    homeserver.post(SET, token=alice, json=_email_pusher("alice@example.org"))
    forged = _link(homeserver, "alice@example.org", signed_for="alice@other.example.org")
    response = homeserver.get(forged)
    assert response.status_code == 403 and response.json["errcode"] == "M_FORBIDDEN"
    assert _pushkeys(homeserver, alice) == ["alice@example.org"]


def test_a_link_without_its_parameters_is_refused(homeserver: HomeserverUnderTest) -> None:
    response = homeserver.get("/_synapse/client/unsubscribe?user_id=%40alice%3Atest.local&app_id=m.email")
    assert response.status_code == 400 and response.json["errcode"] == "M_MISSING_PARAM"
