"""HTTP to other servers over httpx, connecting only to checked addresses, with the configured TLS trust.

Every request names a URL whose host is resolved here, filtered by ``addresses``, and connected to by IP; the
original name goes in the ``Host`` header and as the TLS server name (SNI, certificate check), so DNS answers
cannot change between the check and the connection.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from config.federation import FederationConfig
from federation_client.addresses import Resolve, allowed_addresses, system_resolve
from federation_client.errors import ResponseTooLarge, Unreachable

DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
USER_AGENT = "Ganglion"


@dataclass(frozen=True)
class Response:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str = ""
    """The URL asked (by host name, not the address connected to): a relative ``Location`` resolves against it."""

    def json(self) -> Any:
        return json.loads(self.body)


def tls_context(config: FederationConfig) -> ssl.SSLContext:
    """Default trust roots, or only ``federation_custom_ca_list`` when given (as Synapse: it replaces them)."""
    if not config.verify_certificates:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if config.custom_ca_list:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for path in config.custom_ca_list:
            context.load_verify_locations(cafile=path)
        return context
    return ssl.create_default_context()


class Transport:
    def __init__(self, config: FederationConfig, resolve: Resolve = system_resolve,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._config = config
        self._resolve = resolve
        self._client = httpx.Client(verify=tls_context(config), timeout=timeout, follow_redirects=False,
                                    trust_env=False)

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, url: str, *, host_header: str | None = None, headers: dict[str, str] | None = None,
                content: bytes | None = None, max_bytes: int = MAX_RESPONSE_BYTES) -> Response:
        """Send to the first allowed address of the URL's host that answers; Unreachable if none does."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise Unreachable(f"invalid URL {url!r}: {exc}") from exc
        host = parsed.host
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = allowed_addresses(host, port, self._config, self._resolve)
        sent_headers = {"Host": host_header or _authority(host, parsed.port), "User-Agent": USER_AGENT,
                        **(headers or {})}
        errors = []
        for address in addresses:
            target = parsed.copy_with(host=address, port=port)
            extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
            try:
                request = self._client.build_request(method, target, headers=sent_headers, content=content,
                                                     extensions=extensions)
                response = self._client.send(request, stream=True)
                try:
                    return Response(response.status_code, response.headers, _read_limited(response, max_bytes),
                                    url)
                finally:
                    response.close()
            except httpx.HTTPError as exc:
                errors.append(f"{address}: {exc!r}")
        raise Unreachable(f"{url}: " + "; ".join(errors))


def _read_limited(response: httpx.Response, max_bytes: int) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(f"response larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _authority(host: str, port: int | None) -> str:
    bracketed = f"[{host}]" if ":" in host else host
    return bracketed if port is None else f"{bracketed}:{port}"
