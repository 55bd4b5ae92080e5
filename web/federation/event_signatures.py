"""Checking the signatures an event from another server must carry, with the keys of the servers that signed.

Spec: Server-Server API, "Validating hashes and signatures on received events": the sender's server, the
server of a v1/v2 event id, and for a restricted join the server of ``join_authorised_via_users_server``, each
with a key valid at the event's ``origin_server_ts`` from room version 5 (``enforce_key_validity``), else now.
The web tier holds the key cache, so inbound events are verified here before a writer stores them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from protocol.errors import Forbidden
from protocol.events.model import Event
from protocol.events.signatures import verify_event_signature
from protocol.federation.membership import signing_servers
from protocol.signing import InvalidSignature
from web.deps import Deps


def signed_by(current: Deps, event: Event, server_name: str) -> bool:
    """Whether ``server_name`` signed ``event`` with a key we can find and that was valid when it had to be."""
    signatures = event.pdu.get("signatures")
    ours = signatures.get(server_name) if isinstance(signatures, Mapping) else None
    if not isinstance(ours, Mapping):
        return False
    at_ts = event.origin_server_ts if event.room_version.enforce_key_validity else None
    for key_id in ours:
        if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
            continue
        key = current.federation.keyring.verify_key(server_name, key_id, at_ts)
        if key is None:
            continue
        try:
            verify_event_signature(event.pdu, event.room_version, server_name, key)
        except InvalidSignature:
            continue
        return True
    return False


def require_signatures(current: Deps, event: Event, *, skip: Iterable[str] = ()) -> None:
    """403 ``M_FORBIDDEN`` unless every server that must sign ``event`` did (``skip``: servers already trusted,
    such as ourselves after countersigning)."""
    skipped = set(skip)
    for server_name in sorted(signing_servers(event) - skipped):
        if not signed_by(current, event, server_name):
            raise Forbidden(f"Event {event.event_id} is not validly signed by {server_name}")
