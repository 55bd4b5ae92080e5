"""The push gateway client reaches only addresses ``ip_range_blacklist``/``ip_range_whitelist`` allow, checked
after resolving the gateway's name, and connects to the checked address with the gateway's name as ``Host``."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from config.federation import FederationConfig
from tasks.push_gateway import notify
from tests.push_gateway import PushGateway, running_push_gateway

NOTIFICATION = {"event_id": "$e", "room_id": "!r:test.local", "counts": {"unread": 1},
                "devices": [{"app_id": "a", "pushkey": "k", "pushkey_ts": 0, "data": {}}]}
LOOPBACK_ALLOWED = FederationConfig(ip_range_whitelist=(ipaddress.ip_network("127.0.0.1/32"),))


@pytest.fixture
def gateway() -> Iterator[PushGateway]:
    with running_push_gateway() as running:
        yield running


def test_a_gateway_on_a_blocked_address_is_never_contacted(gateway: PushGateway) -> None:
    assert not notify(gateway.url, NOTIFICATION, ranges=FederationConfig()).delivered
    assert gateway.events() == []


def test_a_name_resolving_to_a_blocked_address_is_never_contacted(gateway: PushGateway) -> None:
    by_name = gateway.url.replace("127.0.0.1", "localhost")
    assert not notify(by_name, NOTIFICATION, ranges=FederationConfig()).delivered
    assert gateway.events() == []


def test_an_allowed_gateway_is_reached_by_its_checked_address(gateway: PushGateway) -> None:
    by_name = gateway.url.replace("127.0.0.1", "localhost")
    assert notify(by_name, NOTIFICATION, ranges=LOOPBACK_ALLOWED).delivered
    assert [n["event_id"] for n in gateway.events()] == ["$e"]


def test_a_url_that_is_not_http_is_refused() -> None:
    assert not notify("file:///etc/passwd", NOTIFICATION, ranges=LOOPBACK_ALLOWED).delivered


def test_the_test_gateway_refuses_what_the_push_gateway_api_does_not_allow(gateway: PushGateway) -> None:
    """The gateway the pusher tests run against checks requests as the spec shapes them (it stands in for
    Sygnal), so a pusher sending a badge update with ``type: null`` or a ``data.url`` would fail them."""
    bad = [{"notification": {"event_id": "$e", "room_id": "!r:x", "devices": []}},
           {"notification": {"counts": {"unread": 0}, "type": None, "devices": NOTIFICATION["devices"]}},
           {"notification": {**NOTIFICATION, "devices": [{"app_id": "a", "pushkey": "k", "data": {"url": "u"}}]}},
           {"notification": {"event_id": "$e", "devices": NOTIFICATION["devices"]}}]
    answers = [httpx.post(gateway.url, json=body) for body in bad]
    assert [answer.status_code for answer in answers] == [400] * len(bad)
    assert len(gateway.malformed) == len(bad)
    gateway.malformed.clear()
    good = httpx.post(gateway.url, json={"notification": NOTIFICATION})
    assert good.status_code == 200 and good.json() == {"rejected": []}
