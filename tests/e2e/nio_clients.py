"""What the matrix-nio end-to-end tests share: a registered client, and expecting a response type."""

from __future__ import annotations

from typing import Any

from nio import AsyncClient

from tests.e2e.servers import SERVER_NAME, RunningServer


async def registered_client(server: RunningServer, name: str) -> AsyncClient:
    """A nio client for a new account ``name`` (password ``pw``) on ``server``, logged in by registering."""
    client = AsyncClient(server.base_url, f"@{name}:{SERVER_NAME}")
    response = await client.register(name, "pw")
    assert response.user_id == f"@{name}:{SERVER_NAME}", response
    return client


def expect(response: Any, kind: type) -> Any:
    """``response`` if it is a ``kind`` (nio answers errors as other response types), else fail with it."""
    assert isinstance(response, kind), response
    return response
