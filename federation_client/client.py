"""Requests to other servers' federation and key APIs, signed with X-Matrix (Server-Server API,
"Request Authentication"), to destinations ``federation_domain_whitelist`` allows."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode, urljoin

from config.federation import FederationConfig
from federation_client.discovery import ServerDiscovery
from federation_client.errors import DestinationNotAllowed, RemoteError, TooManyRedirects, Unreachable
from federation_client.transport import MAX_RESPONSE_BYTES, Response, Transport
from protocol.canonical_json import encode_canonical_json
from protocol.federation.request_auth import sign_request
from protocol.signing import SigningKey

MAX_REDIRECTS = 5
"""Hops a media download may take after the first answer (a CDN, a presigned bucket URL): enough for real
deployments, and a loop ends here."""
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))


def path_segment(value: str) -> str:
    """A value placed in a request path, every reserved character escaped."""
    return quote(value, safe="")


class FederationClient:
    def __init__(self, server_name: str, signing_key: SigningKey, config: FederationConfig, transport: Transport,
                 discovery: ServerDiscovery) -> None:
        self.server_name = server_name
        self._signing_key = signing_key
        self._config = config
        self._transport = transport
        self._discovery = discovery

    @property
    def transport(self) -> Transport:
        """The HTTP exchange under the signed requests (a federation sender makes forwarded ones with it)."""
        return self._transport

    def close(self) -> None:
        self._transport.close()

    def get_json(self, destination: str, path: str, query: dict[str, Any] | None = None, *,
                 signed: bool = True) -> Any:
        return self.request_json("GET", destination, path, query=query, signed=signed)

    def post_json(self, destination: str, path: str, content: Any, *, signed: bool = True) -> Any:
        return self.request_json("POST", destination, path, content=content, signed=signed)

    def put_json(self, destination: str, path: str, content: Any, *, signed: bool = True) -> Any:
        return self.request_json("PUT", destination, path, content=content, signed=signed)

    def get_bytes(self, destination: str, path: str, query: dict[str, Any] | None = None, *,
                  max_bytes: int) -> Response:
        """A signed GET whose answer is not JSON (media): the response as received, at most ``max_bytes`` long.
        A redirect (spec v1.11 lets a server send media from elsewhere, "Content Repository") is followed as
        :meth:`get_url` follows one: unsigned, every hop's address checked, at most :data:`MAX_REDIRECTS`.

        Raises DestinationNotAllowed (also for a hop to a blocked address), Unreachable (also for a longer
        answer, TooManyRedirects), or RemoteError for an error status.
        """
        response = self._send("GET", destination, path, query, None, True, max_bytes)
        if response.status in REDIRECT_STATUSES:
            return self.get_url(_location(response), max_bytes=max_bytes, hops=MAX_REDIRECTS - 1)
        if response.status >= 400:
            try:
                body = json.loads(response.body)
            except ValueError:
                body = None
            raise RemoteError(response.status, body)
        return response

    def get_url(self, url: str, *, max_bytes: int, hops: int = MAX_REDIRECTS) -> Response:
        """An unsigned GET of a URL another server pointed us to (a media ``Location``), through the same checked
        transport, following at most ``hops`` redirects, each to an address the IP range rules allow (a redirect
        is another server's choice of where we connect: the SSRF check applies to it as to the first URL).
        Raises DestinationNotAllowed, Unreachable (TooManyRedirects), or RemoteError."""
        for _ in range(hops + 1):
            response = self._transport.request("GET", url, max_bytes=max_bytes)
            if response.status not in REDIRECT_STATUSES:
                if response.status >= 400:
                    raise RemoteError(response.status, None)
                return response
            url = _location(response)
        raise TooManyRedirects(f"more than {hops} redirects, the last to {url}")

    def request_json(self, method: str, destination: str, path: str, *, query: dict[str, Any] | None = None,
                     content: Any = None, signed: bool = True) -> Any:
        """Send and return the JSON answer. ``path`` is already escaped; ``query`` values are encoded here.

        Raises DestinationNotAllowed, Unreachable, or RemoteError for an error status (with the remote's body).
        """
        response = self._send(method, destination, path, query, content, signed, MAX_RESPONSE_BYTES)
        try:
            answer = json.loads(response.body) if response.body else None
        except ValueError as exc:
            if response.status >= 400:
                raise RemoteError(response.status, None) from exc
            raise Unreachable(f"{destination} answered {method} {path} with invalid JSON") from exc
        if response.status >= 400:
            raise RemoteError(response.status, answer)
        return answer

    def _send(self, method: str, destination: str, path: str, query: dict[str, Any] | None, content: Any,
              signed: bool, max_bytes: int) -> Response:
        if destination == self.server_name:
            raise DestinationNotAllowed("refusing to send a federation request to ourselves")
        if not self._config.allows_domain(destination):
            raise DestinationNotAllowed(f"{destination} is not in federation_domain_whitelist")
        try:
            where = self._discovery.destination(destination)
        except ValueError as exc:
            raise DestinationNotAllowed(str(exc)) from exc
        uri = path + ("?" + urlencode(query, doseq=True) if query else "")
        headers = {}
        body = None
        if content is not None:
            body = encode_canonical_json(content)
            headers["Content-Type"] = "application/json"
        if signed:
            authorization = sign_request(self._signing_key, method, uri, self.server_name, destination, content)
            headers["Authorization"] = authorization.to_header()
        return self._transport.request(method, where.base_url + uri, host_header=where.host_header,
                                       headers=headers, content=body, max_bytes=max_bytes)


def _location(response: Response) -> str:
    """Where a redirect points, absolute; Unreachable when it points nowhere usable."""
    location = str(response.headers.get("location") or "")
    if not location:
        raise Unreachable(f"{response.url} answered {response.status} without a Location")
    target: str = urljoin(response.url, location)
    if not target.startswith(("http://", "https://")):
        raise Unreachable(f"{response.url} redirected to a URL that is not http(s): {target[:200]!r}")
    return target
