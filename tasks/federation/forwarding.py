"""``outbound_federation_restricted_to``: processes outside the list make no outbound federation HTTP requests.

Ganglion's decision, in Celery terms: such a process (a web process verifying an inbound request needs the origin's
keys; a task worker that is not a sender) gets a :class:`ForwardingTransport`. It still builds and signs its
requests, but each HTTP exchange (server discovery's ``.well-known`` lookups included) runs as a
:data:`FORWARD_REQUEST` task on the federation senders' queues, sharded by host, through the sender's own
transport: its address checks (``ip_range_blacklist``/``whitelist``), TLS trust and egress. The answer (status,
headers, body) comes back as the task's result. The senders themselves, and every process when the key is unset,
use the plain :class:`~federation_client.transport.Transport`.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from federation_client.errors import DestinationNotAllowed, FederationError, Unreachable
from federation_client.transport import MAX_RESPONSE_BYTES, Response, Transport
from tasks.api import Dispatcher
from tasks.context import TaskContext
from tasks.federation.fan_out import FAMILY
from tasks.registry import TaskSpec

FORWARD_REQUEST = "federation.forward_request"


class ForwardingTransport(Transport):
    """A transport whose requests a federation sender makes (see the module docstring)."""

    def __init__(self, dispatcher: Dispatcher, timeout_s: float) -> None:
        self._dispatcher = dispatcher
        self._timeout_s = timeout_s

    def close(self) -> None:
        """Nothing to close: the connections are the sender's."""

    def request(self, method: str, url: str, *, host_header: str | None = None, headers: dict[str, str] | None = None,
                content: bytes | None = None, max_bytes: int = MAX_RESPONSE_BYTES) -> Response:
        try:
            host = httpx.URL(url).host
        except httpx.InvalidURL as exc:
            raise Unreachable(f"invalid URL {url!r}: {exc}") from exc
        answer: dict[str, Any] = self._dispatcher.call(
            FORWARD_REQUEST, timeout=self._timeout_s, host=host, method=method, url=url, host_header=host_header,
            headers=headers or {}, content=None if content is None else base64.b64encode(content).decode(),
            max_bytes=max_bytes)
        if "not_allowed" in answer:
            raise DestinationNotAllowed(answer["not_allowed"])
        if "unreachable" in answer:
            raise Unreachable(answer["unreachable"])
        return Response(int(answer["status"]), httpx.Headers(answer["headers"]), base64.b64decode(answer["body"]))


def forward_request(context: TaskContext, *, host: str, method: str, url: str, host_header: str | None,
                    headers: dict[str, str], content: str | None, max_bytes: int) -> dict[str, Any]:
    """Make one HTTP exchange for a process that may not (``host`` only picks the shard)."""
    client = context.federation_client
    if client is None:
        raise RuntimeError("this process was built without a federation client")
    try:
        response = client.transport.request(method, url, host_header=host_header, headers=headers,
                                             content=None if content is None else base64.b64decode(content),
                                             max_bytes=max_bytes)
    except DestinationNotAllowed as error:
        return {"not_allowed": str(error)}
    except FederationError as error:
        return {"unreachable": str(error)}
    return {"status": response.status, "headers": list(response.headers.multi_items()),
            "body": base64.b64encode(response.body).decode()}


TASKS = (
    TaskSpec(FORWARD_REQUEST, family=FAMILY, body=forward_request, shard_param="host", returns_result=True),
)
