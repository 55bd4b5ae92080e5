"""What can go wrong talking to another server, as exceptions the callers can tell apart."""

from __future__ import annotations

from typing import Any


class FederationError(Exception):
    """A request to another server did not produce a usable answer."""


class DestinationNotAllowed(FederationError):
    """``federation_domain_whitelist`` or the IP range rules forbid talking to this server or address."""


class Unreachable(FederationError):
    """No address of the server answered (DNS, connection, TLS or timeout failure) or the answer was too big."""


class UnknownServer(Unreachable):
    """DNS says the server's host does not exist (not a temporary failure): there is nothing to ask."""


class ResponseTooLarge(Unreachable):
    """The answer was longer than the caller allows (a response body, or remote media past max_upload_size)."""


class TooManyRedirects(Unreachable):
    """The answer was a redirect after the last one a caller follows (a loop, or a chain longer than allowed)."""


class RemoteError(FederationError):
    """The server answered with an error status; ``body`` is its JSON error when it sent one."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"remote answered {status}: {body!r}"[:500])
        self.status = status
        self.body = body
