"""What the events writer checks of a client's event before building it, beyond the room's auth rules.

These run under the room lock, in the writer's transaction, so they judge the state the event would extend:

- **Unchanged state is not sent again.** A state event identical to the current one at its key (same sender,
  same content) is answered with the event already there, as Synapse does: a second ``PUT /state`` with the same
  body, or a second ``/join`` by a joined member, creates nothing.
- **A targeted membership change names a fitting target.** ``/kick`` needs a member who is joined, invited or
  knocking, ``/unban`` a banned one: both are a ``leave`` sent for someone else, and without this check a kick
  would unban a banned user (the auth rules allow it).
- **No duplicate annotation** (Client-Server API, "Avoiding duplicate annotations").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection

from persistence.stores import Stores
from persistence.stores.events import StoredEvent
from protocol.errors import DuplicateAnnotation, Forbidden
from protocol.events.builder import EventTemplate

MEMBER = "m.room.member"


def check_client_event(stores: Stores, conn: Connection, room_id: str, sender: str, template: EventTemplate,
                       target_memberships: Sequence[str] | None) -> StoredEvent | None:
    """Raise if the event may not be sent; return the current state event it would only repeat, if any."""
    if target_memberships is not None:
        _check_target(stores, conn, room_id, template, target_memberships)
    if template.state_key is not None:
        return _unchanged_state(stores, conn, room_id, sender, template)
    _check_annotation(stores, conn, sender, template)
    return None


def _check_target(stores: Stores, conn: Connection, room_id: str, template: EventTemplate,
                  allowed: Sequence[str]) -> None:
    found = stores.state.get_membership(conn, room_id, template.state_key) if template.state_key else None
    if found is None or found[0] not in allowed:
        wanted = " or ".join(allowed)
        raise Forbidden(f"{template.state_key} is not {wanted} in the room")


def _unchanged_state(stores: Stores, conn: Connection, room_id: str, sender: str,
                     template: EventTemplate) -> StoredEvent | None:
    """The current event at the template's key if sending the template would change nothing. Only for a sender
    who is joined: anyone else is left to the auth rules, which refuse them."""
    assert template.state_key is not None
    membership = stores.state.get_membership(conn, room_id, sender)
    if membership is None or membership[0] != "join":
        return None
    current_id = stores.state.get_current_state_event_id(conn, room_id, (template.type, template.state_key))
    current = stores.events.get_event(conn, current_id) if current_id else None
    if current is None or current.event.sender != sender or current.event.content != template.content:
        return None
    return current


def _check_annotation(stores: Stores, conn: Connection, sender: str, template: EventTemplate) -> None:
    relates_to = template.content.get("m.relates_to")
    if not isinstance(relates_to, Mapping) or relates_to.get("rel_type") != "m.annotation":
        return
    parent, key = relates_to.get("event_id"), relates_to.get("key")
    if not isinstance(parent, str) or not isinstance(key, str):
        return
    if stores.relations.has_annotation(conn, parent, sender=sender, event_type=template.type, key=key):
        raise DuplicateAnnotation(f"{sender} already annotated {parent} with {key!r}")
