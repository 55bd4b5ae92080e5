"""Fetching a URL a user gave us without letting them reach what they should not (server-side request forgery).

The host name is resolved here, every address is checked against ``url_preview_ip_range_blacklist`` (the
whitelist wins), and the connection goes to a checked address, never to the name again, so DNS cannot answer
differently between the check and the connection. Redirects are followed by hand, each hop checked the same way.
Bodies are read up to ``max_spider_size``. TLS is verified against the host name (SNI as usual).
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from config.media import UrlPreviewConfig
from protocol.url_preview import REDIRECT_STATUSES, is_address_allowed

MAX_REDIRECTS = 5
TIMEOUT_SECONDS = 10.0
USER_AGENT = "Ganglion URL preview (Matrix homeserver)"
READ_CHUNK = 64 * 1024

Resolver = Callable[[str, int], list[str]]


class FetchRefused(Exception):
    """The URL may not be fetched: not http(s), or every address it resolves to is blocked."""


class FetchFailed(Exception):
    """The fetch went wrong on the far side: unreachable, an error status, too large, too many redirects."""


@dataclass(frozen=True)
class Fetched:
    url: str
    """Where the content came from, after redirects (relative links resolve against it)."""
    content_type: str | None
    body: bytes


def resolve_host(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise FetchFailed(f"cannot resolve {host}: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT_SECONDS)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=TIMEOUT_SECONDS, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def _tls_context(config: UrlPreviewConfig) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not config.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SafeFetcher:
    def __init__(self, config: UrlPreviewConfig, resolve: Resolver = resolve_host,
                 tls: ssl.SSLContext | None = None) -> None:
        self._config = config
        self._resolve = resolve
        self._tls = tls or _tls_context(config)

    def fetch(self, url: str) -> Fetched:
        for _hop in range(MAX_REDIRECTS + 1):
            status, location, fetched = self._fetch_once(url)
            if location is None:
                if not 200 <= status < 300:
                    raise FetchFailed(f"{url} answered {status}")
                return fetched
            url = urljoin(url, location)
        raise FetchFailed("too many redirects")

    def _allowed_address(self, host: str, port: int) -> str:
        addresses = self._resolve(host, port)
        allowed = [address for address in addresses if is_address_allowed(
            address, self._config.ip_range_blacklist, self._config.ip_range_whitelist)]
        if not allowed:
            raise FetchRefused(f"{host} resolves only to blocked addresses")
        return allowed[0]

    def _fetch_once(self, url: str) -> tuple[int, str | None, Fetched]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"only http and https URLs can be previewed, not {url[:100]!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise FetchRefused("the URL has an invalid port") from None
        address = self._allowed_address(parts.hostname, port)
        connection: http.client.HTTPConnection = (
            _PinnedHTTPSConnection(parts.hostname, port, address, self._tls) if parts.scheme == "https"
            else _PinnedHTTPConnection(parts.hostname, port, address))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("GET", path, headers={
                "User-Agent": USER_AGENT, "Accept-Language": ", ".join(self._config.accept_language)})
            response = connection.getresponse()
            location = response.getheader("Location") if response.status in REDIRECT_STATUSES else None
            body = b"" if location is not None else self._read_body(response)
            return response.status, location, Fetched(url, response.getheader("Content-Type"), body)
        except (OSError, http.client.HTTPException) as error:
            raise FetchFailed(f"fetching {parts.hostname} failed: {error}") from None
        finally:
            connection.close()

    def _read_body(self, response: http.client.HTTPResponse) -> bytes:
        limit = self._config.max_spider_size
        declared = response.getheader("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise FetchFailed("the content is larger than max_spider_size")
        chunks, total = [], 0
        while chunk := response.read(READ_CHUNK):
            total += len(chunk)
            if total > limit:
                raise FetchFailed("the content is larger than max_spider_size")
            chunks.append(chunk)
        return b"".join(chunks)
