"""URL preview rules: which addresses a preview may reach, and a page's Open Graph data."""

from __future__ import annotations

import ipaddress

from protocol.url_preview import charset_of, is_address_allowed, open_graph

BLACKLIST = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"),
             ipaddress.ip_network("192.168.0.0/16"))
WHITELIST = (ipaddress.ip_network("192.168.1.10/32"),)


def test_the_whitelist_wins_and_mapped_addresses_are_judged_as_ipv4() -> None:
    assert not is_address_allowed("127.0.0.1", BLACKLIST, WHITELIST)
    assert not is_address_allowed("::1", BLACKLIST, WHITELIST)
    assert not is_address_allowed("::ffff:127.0.0.1", BLACKLIST, WHITELIST)
    assert is_address_allowed("192.168.1.10", BLACKLIST, WHITELIST)
    assert not is_address_allowed("192.168.1.11", BLACKLIST, WHITELIST)
    assert is_address_allowed("93.184.216.34", BLACKLIST, WHITELIST)
    assert is_address_allowed("2001:db8::1", BLACKLIST, WHITELIST)


def test_open_graph_data_with_fallbacks_and_an_absolute_image() -> None:
    page = """<html><head><title>Fallback</title><meta property="og:title" content="Real title">
    <META NAME="og:image" CONTENT="/img/a.png"><meta property="og:title" content="second is ignored">
    <meta name="description" content="desc"></head></html>"""
    assert open_graph(page, "https://example.org/articles/1") == {
        "og:title": "Real title", "og:image": "https://example.org/img/a.png", "og:description": "desc"}
    assert open_graph("<p>no head at all", "https://example.org/") == {}
    assert len(open_graph(f'<meta property="og:title" content="{"x" * 5000}">', "https://e.org/")["og:title"]) == 1000


def test_charsets_come_from_the_content_type_when_python_knows_them() -> None:
    assert charset_of("text/html; charset=ISO-8859-1") == "ISO-8859-1"
    assert charset_of('text/html; charset="utf-8"') == "utf-8"
    assert charset_of("text/html; charset=no-such-codec") == "utf-8"
    assert charset_of(None) == "utf-8"
