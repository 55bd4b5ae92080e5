"""MSC3202 for application services that ask for it (``org.matrix.msc3202: true``), so a bridge can run
end-to-end encryption for its puppets, whose devices no client syncs for: each transaction carries

- ``org.matrix.msc3202.device_lists``: ``changed`` holds the users whose device lists changed since the last
  transaction and whom the appservice is interested in (read from the device_lists stream between its positions
  and the writers' committed ones); ``left`` stays empty, as in Synapse, which does not compute it either;
- ``org.matrix.msc3202.device_one_time_key_counts`` (and the older ``..._keys_count`` spelling bridges still read)
  and ``org.matrix.msc3202.device_unused_fallback_key_types`` for the appservice's users the transaction
  concerns: its sender, its users in the rooms of the transaction's events and ephemeral events, and the
  recipients of its to-device messages.

Who counts as interesting follows Synapse's ``_is_appservice_interested_in_device_lists_of_user``: the user is
the appservice's sender or in its user namespaces, or is joined to a room the appservice is interested in
(``appservice_ephemeral.RoomInterest``: a room or alias in its namespaces, or a joined member in its users).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from persistence.stores import Stores
from protocol.appservices import AppService
from protocol.sync_tokens import WriterPositions
from tasks.appservice_ephemeral import Clamp, RoomInterest

DEVICE_LISTS_STREAM = "device_lists"
BATCH = 500
"""Device-list rows read per step."""
DEVICE_LISTS_KEY = "org.matrix.msc3202.device_lists"
OTK_COUNTS_KEYS = ("org.matrix.msc3202.device_one_time_key_counts", "org.matrix.msc3202.device_one_time_keys_count")
FALLBACK_KEY = "org.matrix.msc3202.device_unused_fallback_key_types"


def changed_device_lists(stores: Stores, conn: Connection, service: AppService, since: WriterPositions,
                         until: WriterPositions, clamp: Clamp) -> tuple[list[str], WriterPositions]:
    """The users of interest whose device lists changed between ``since`` and ``until`` (at most a batch of
    rows), and how far that reaches."""
    changes = stores.device_lists.list_changes_between(conn, since, until, BATCH)
    interested = RoomInterest(stores, conn, service)
    changed: dict[str, None] = {}
    for change in changes:
        user_id = change.user_id
        if change.cross_signing_key_type == "user_signing" or user_id in changed:
            continue  # a user-signing key is seen by its owner alone ("Cross-signing")
        if service.is_interested_in_user(user_id) or any(
                interested(room_id) for room_id in stores.state.list_rooms_with_membership(conn, user_id, "join")):
            changed[user_id] = None
    reached = until if len(changes) < BATCH else clamp(since, until, changes[-1].stream_id)
    return list(changed), reached


def key_counts(stores: Stores, conn: Connection, service: AppService, events: Iterable[dict[str, Any]],
               ephemeral: Iterable[dict[str, Any]], to_device: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The transaction's one-time key counts and unused fallback key types, for the appservice's users it
    concerns (see the module docstring)."""
    users = {service.sender}
    rooms = {str(item["room_id"]) for item in (*events, *ephemeral) if isinstance(item.get("room_id"), str)}
    for room_id in sorted(rooms):
        users.update(member for member in stores.state.list_members(conn, room_id, "join")
                     if service.is_interested_in_user(member))
    users.update(str(message["to_user_id"]) for message in to_device)
    one_time, fallback = stores.e2e_keys.list_key_counts_of_users(conn, users)
    fields: dict[str, Any] = {}
    if one_time:
        fields.update(dict.fromkeys(OTK_COUNTS_KEYS, one_time))
    if fallback:
        fields[FALLBACK_KEY] = fallback
    return fields
