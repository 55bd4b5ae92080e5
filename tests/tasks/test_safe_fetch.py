"""The URL preview fetcher against a real local web server, with DNS answers chosen by the test (the one process
edge faked here): blocked addresses are refused after resolution, and a name resolving to both blocked and allowed
addresses is reached only on an allowed one."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from config.media import UrlPreviewConfig
from tasks.safe_fetch import FetchFailed, FetchRefused, SafeFetcher
from tests.web.pages import ROCK_PNG, PageServer, page_server

CONFIG = UrlPreviewConfig(enabled=True, ip_range_blacklist=(ipaddress.ip_network("127.0.0.0/8"),
                                                           ipaddress.ip_network("10.0.0.0/8")),
                          ip_range_whitelist=(ipaddress.ip_network("127.0.0.1/32"),), max_spider_size=5000)
ANSWERS = {"evil.test": ["10.1.2.3"], "mixed.test": ["10.1.2.3", "127.0.0.1"], "loop.test": ["127.0.0.2"]}


def _resolve(host: str, port: int) -> list[str]:
    return ANSWERS.get(host, [host])


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    with page_server() as server:
        yield server


def test_names_resolving_only_to_blocked_addresses_are_refused(pages: PageServer) -> None:
    fetcher = SafeFetcher(CONFIG, _resolve)
    for host in ("evil.test", "loop.test"):
        with pytest.raises(FetchRefused):
            fetcher.fetch(pages.url("/page.html", host=host))


def test_a_name_with_an_allowed_address_is_reached_there_under_its_own_name(pages: PageServer) -> None:
    fetched = SafeFetcher(CONFIG, _resolve).fetch(pages.url("/rock.png", host="mixed.test"))
    assert (fetched.content_type, fetched.body) == ("image/png", ROCK_PNG)


def test_every_redirect_hop_is_checked(pages: PageServer) -> None:
    fetcher = SafeFetcher(CONFIG, _resolve)
    with pytest.raises(FetchRefused):
        fetcher.fetch(pages.url(f"/redirect-to/{quote(pages.url('/page.html', host='evil.test'), safe='')}"))
    loop = pages.url("/redirect-to/" + quote(pages.url("/redirect-to/x"), safe=""))
    with pytest.raises(FetchFailed):
        fetcher.fetch(pages.url("/redirect-to/" + quote(loop, safe="")))


def test_bodies_past_max_spider_size_are_refused(pages: PageServer) -> None:
    small = UrlPreviewConfig(enabled=True, ip_range_whitelist=CONFIG.ip_range_whitelist, max_spider_size=100)
    with pytest.raises(FetchFailed):
        SafeFetcher(small, _resolve).fetch(pages.url("/rock.png"))


def test_only_http_and_https_urls_are_fetched() -> None:
    fetcher = SafeFetcher(CONFIG, _resolve)
    for url in ("file:///etc/passwd", "gopher://127.0.0.1/", "http://", "http://127.0.0.1:99999/"):
        with pytest.raises(FetchRefused):
            fetcher.fetch(url)
