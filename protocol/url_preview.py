"""Pure rules of URL previews (Client-Server API, ``GET /_matrix/client/v1/media/preview_url``): which addresses a
preview may reach, and the Open Graph data of an HTML page (https://ogp.me)."""

from __future__ import annotations

import codecs
import ipaddress
from collections.abc import Iterable
from html.parser import HTMLParser
from urllib.parse import urljoin

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_VALUE_LENGTH = 1000
"""Longer values are cut: a preview is a card, not the page."""
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def is_address_allowed(address: str, blacklist: Iterable[IpNetwork], whitelist: Iterable[IpNetwork]) -> bool:
    """Whether a preview may connect to ``address``: the whitelist wins over the blacklist, as in Synapse. An
    IPv4-mapped IPv6 address is judged as the IPv4 address it carries (else ``::ffff:127.0.0.1`` would slip by)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in whitelist if network.version == ip.version):
        return True
    return not any(ip in network for network in blacklist if network.version == ip.version)


class _OpenGraphParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.properties: dict[str, str] = {}
        self.description: str | None = None
        self.title_parts: list[str] | None = None
        self.title: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        if tag == "meta":
            key = values.get("property") or values.get("name") or ""
            content = values.get("content")
            if content is None:
                return
            if key.lower().startswith("og:"):
                self.properties.setdefault(key.lower(), content[:MAX_VALUE_LENGTH])
            elif key.lower() == "description" and self.description is None:
                self.description = content[:MAX_VALUE_LENGTH]
        elif tag == "title" and self.title is None:
            self.title_parts = []

    def handle_data(self, data: str) -> None:
        if self.title_parts is not None:
            self.title_parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self.title_parts is not None:
            self.title = " ".join("".join(self.title_parts).split())[:MAX_VALUE_LENGTH]
            self.title_parts = None


def open_graph(html: str, page_url: str) -> dict[str, str]:
    """The page's ``og:*`` properties, with ``og:title`` and ``og:description`` taken from ``<title>`` and the
    description meta tag when the page has none, and ``og:image`` made absolute against ``page_url``."""
    parser = _OpenGraphParser()
    parser.feed(html)
    parser.close()
    found = dict(parser.properties)
    if "og:title" not in found and parser.title:
        found["og:title"] = parser.title
    if "og:description" not in found and parser.description:
        found["og:description"] = parser.description
    if "og:image" in found:
        found["og:image"] = urljoin(page_url, found["og:image"])
    return found


def charset_of(content_type: str | None, default: str = "utf-8") -> str:
    """The ``charset`` parameter of a ``Content-Type`` header, if it names a codec Python knows."""
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset":
            candidate = value.strip().strip('"')
            try:
                codecs.lookup(candidate)
            except LookupError:
                return default
            return candidate
    return default
