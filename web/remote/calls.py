"""Calling other servers for a client: turning what went wrong into the client's error, and asking several
servers at once within one deadline."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, TypeVar

from federation_client.errors import DestinationNotAllowed, FederationError, RemoteError, UnknownServer
from protocol.errors import Forbidden, MatrixError, NotFound
from protocol.identifiers import is_valid_server_name

T = TypeVar("T")
logger = logging.getLogger(__name__)
MAX_PARALLEL = 10
"""Servers one request asks at the same time (a /keys/query naming many servers waits for the slowest anyway)."""


class RemoteServerError(MatrixError):
    """The other server could not be reached or gave no usable answer (Synapse answers 502 here too)."""

    status = 502


def as_client_error(server: str, error: FederationError) -> MatrixError:
    """A remote server's error as the client should see it: its own Matrix error when it sent one."""
    if isinstance(error, DestinationNotAllowed):
        return Forbidden(f"Federation denied with {server}")
    if isinstance(error, UnknownServer):
        return NotFound(f"There is no server {server}")
    if isinstance(error, RemoteError):
        body = error.body if isinstance(error.body, dict) else {}
        errcode, message = body.get("errcode"), body.get("error")
        if error.status == 404 and not isinstance(errcode, str):
            return NotFound(f"{server} has no such resource")
        if isinstance(errcode, str) and errcode.startswith("M_") and 400 <= error.status < 500:
            relayed = MatrixError(message if isinstance(message, str) else errcode, status=error.status)
            relayed.errcode = errcode  # type: ignore[misc]
            return relayed
    return RemoteServerError(f"Failed to get an answer from {server}")


def failure_of(error: BaseException) -> dict[str, Any]:
    """A ``failures`` entry of ``/keys/query`` and ``/keys/claim``: Synapse's shape, a status and a message."""
    if isinstance(error, RemoteError):
        return {"status": error.status, "message": str(error)}
    if isinstance(error, TimeoutError):
        return {"status": 503, "message": "Timed out waiting for the server"}
    return {"status": 503, "message": str(error) or type(error).__name__}


def ask_servers(calls: dict[str, Callable[[], T]], timeout_ms: int) -> tuple[dict[str, T], dict[str, dict[str, Any]]]:
    """Run each server's call at once; the answers in time, and a failure entry for every other server.

    A server that is not a valid server name fails without being asked. Calls still running at the deadline are
    abandoned (they end at the transport's own timeout), so a slow server never holds the client.
    """
    answers: dict[str, T] = {}
    failures: dict[str, dict[str, Any]] = {}
    valid = {server: call for server, call in calls.items() if is_valid_server_name(server)}
    failures.update({server: failure_of(ValueError("Invalid server name")) for server in calls if server not in valid})
    if not valid:
        return answers, failures
    executor = ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(valid)))
    try:
        futures = {server: executor.submit(call) for server, call in valid.items()}
        wait(futures.values(), timeout=timeout_ms / 1000)
        for server, future in futures.items():
            if not future.done():
                failures[server] = failure_of(TimeoutError())
                continue
            error = future.exception()
            if error is None:
                answers[server] = future.result()
            else:
                if not isinstance(error, (FederationError, ValueError)):
                    logger.warning("asking %s failed", server, exc_info=error)
                failures[server] = failure_of(error)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    return answers, failures
