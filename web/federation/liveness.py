"""A server that reaches us is up: if our senders were backing off from it, they stop and send what it missed.

Synapse does the same on every authenticated inbound request; without it a destination that was down waits out
its whole backoff (up to ``federation.destination_max_retry_interval``) although it is talking to us.
"""

from __future__ import annotations

from tasks import api as tasks_api
from web.deps import Deps


def notice_origin(current: Deps, origin: str) -> None:
    """One primary-key read per authenticated request; a poke only while ``origin`` is backed off."""
    with current.database.read() as conn:
        state = current.stores.federation_sending.get_destination(conn, origin)
    if state is not None and state.retry_at_ts is not None:
        tasks_api.remote_server_up(current.dispatcher, origin)
