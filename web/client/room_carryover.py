"""What a user's account carries from a room into its replacement (Client-Server API, "Room Upgrades": "the
client ... may want to copy ... tags" is left to clients by the spec; Synapse copies them on join, and SyTest's
42tags checks it): when a local user joins a room whose ``m.room.create`` names a ``predecessor``, their tags of
the old room become their tags of the new one, unless they already tagged it.
"""

from __future__ import annotations

import logging
from typing import Any

from protocol.errors import MatrixError
from tasks import api as tasks_api
from web.deps import Deps

logger = logging.getLogger(__name__)
TAG_TYPE = "m.tag"


def _predecessor(current: Deps, conn: Any, room_id: str) -> str | None:
    event_id = current.stores.state.get_current_state_event_id(conn, room_id, ("m.room.create", ""))
    stored = current.stores.events.get_event(conn, event_id) if event_id else None
    predecessor = stored.event.content.get("predecessor") if stored else None
    found = predecessor.get("room_id") if isinstance(predecessor, dict) else None
    return found if isinstance(found, str) else None


def carry_over_on_join(current: Deps, user_id: str, room_id: str) -> None:
    """Copy the user's tags from the predecessor of ``room_id``, once they have joined it."""
    with current.database.read() as conn:
        old_room = _predecessor(current, conn, room_id)
        if old_room is None:
            return
        accounts = current.stores.account_data
        if accounts.get_account_data(conn, user_id, room_id, TAG_TYPE) is not None:
            return
        tags = accounts.get_account_data(conn, user_id, old_room, TAG_TYPE)
    if tags and tags.get("tags"):
        try:
            tasks_api.put_account_data(current.dispatcher, user_id=user_id, room_id=room_id, event_type=TAG_TYPE,
                                       content=tags)
        except MatrixError as error:  # the join itself succeeded; the tags stay readable in the old room
            logger.warning("tags of %s not carried into %s: %s", user_id, room_id, error)
