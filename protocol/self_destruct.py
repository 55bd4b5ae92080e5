"""Self-destructing messages (MSC2228, as Synapse's ``enable_ephemeral_messages``): pure rules.

A message event whose content holds ``org.matrix.self_destruct_after`` (a timestamp in milliseconds) is served
and stored pruned from that moment, as if redacted; state events never expire (the room is built from them).
"""

from __future__ import annotations

from protocol.events.model import Event

SELF_DESTRUCT_AFTER = "org.matrix.self_destruct_after"


def expiry_ts(event: Event) -> int | None:
    """When ``event`` destroys itself, or None: an integer (never a bool) on a non-state event only."""
    if event.is_state:
        return None
    value = event.content.get(SELF_DESTRUCT_AFTER)
    return value if type(value) is int else None


def has_expired(event: Event, now_ms: int) -> bool:
    expiry = expiry_ts(event)
    return expiry is not None and expiry <= now_ms
