"""A light HTTP/1.1 client for holding thousands of ``/sync`` long-polls from one process.

httpx keeps a connection pool, a response object and several tasks per request; for 10,000 waiting requests that
is hundreds of MiB in the client on the same 2 cores as the servers measured. A long-poll needs none of it: open a
socket, write one GET with ``Connection: close``, read to the end. This module does only that, plus raising the
process's open-file limit as far as the hard limit allows (each poll is a socket).
"""

from __future__ import annotations

import asyncio
import json
import resource
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


def raise_open_files(wanted: int) -> int:
    """Raise the soft open-file limit towards ``wanted`` (never past the hard limit); answers the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @staticmethod
    def of(url: str) -> Endpoint:
        parts = urlsplit(url)
        return Endpoint(parts.hostname or "127.0.0.1", parts.port or 80)


class PollFailed(Exception):
    pass


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return bytes(out)


async def get_json(endpoint: Endpoint, path: str, params: dict[str, Any], token: str | None,
                   timeout: float) -> dict[str, Any]:
    """One GET on a fresh connection, read to the end; the JSON body of a 200, else :class:`PollFailed`."""
    target = f"{path}?{urlencode(params)}" if params else path
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = (f"GET {target} HTTP/1.1\r\nHost: {endpoint.host}:{endpoint.port}\r\n{auth}"
               "Connection: close\r\nAccept-Encoding: identity\r\n\r\n").encode()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(endpoint.host, endpoint.port), timeout)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    if status != 200:
        raise PollFailed(f"HTTP {status}: {body[:200]!r}")
    return json.loads(body)  # type: ignore[no-any-return]
