"""Requests to other servers' federation and key APIs, signed with X-Matrix (Server-Server API,
"Request Authentication"), to destinations ``federation_domain_whitelist`` allows."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from config.federation import FederationConfig
from federation_client.discovery import ServerDiscovery
from federation_client.errors import DestinationNotAllowed, RemoteError, Unreachable
from federation_client.transport import MAX_RESPONSE_BYTES, Response, Transport
from protocol.canonical_json import encode_canonical_json
from protocol.federation.request_auth import sign_request
from protocol.signing import SigningKey


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

        Raises DestinationNotAllowed, Unreachable (also for a longer answer), or RemoteError for an error status.
        """
        response = self._send("GET", destination, path, query, None, True, max_bytes)
        if response.status >= 400:
            try:
                body = json.loads(response.body)
            except ValueError:
                body = None
            raise RemoteError(response.status, body)
        return response

    def get_url(self, url: str, *, max_bytes: int) -> Response:
        """An unsigned GET of a URL another server pointed us to (a media ``Location``), through the same checked
        transport: no blacklisted address, no redirects. Raises Unreachable or RemoteError."""
        response = self._transport.request("GET", url, max_bytes=max_bytes)
        if response.status >= 400:
            raise RemoteError(response.status, None)
        return response

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
