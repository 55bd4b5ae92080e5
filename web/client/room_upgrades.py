"""Room upgrades (Client-Server API, "Room Upgrades"): ``POST /rooms/{roomId}/upgrade``.

The web tier reads the old room's transferable state and plans the replacement with the pure helpers of
:mod:`protocol.room_creation`; the events writers do the writing. A new room whose id is chosen (before v12) gets
the tombstone first, so that its ``predecessor.event_id`` can name the tombstone, as Synapse does and clients
and SyTest expect; the tombstone then briefly names a room about to exist (created atomically with its copied
state). A v12 room's id is the hash of its create event, which the tombstone must name: that room is created
first, and its predecessor names the room alone (spec 1.16: ``event_id`` may then be omitted). Only then is the
old room restricted. As in Synapse, the upgrader re-issues the old room's bans in the new one, a space takes its
children along, and aliases and the directory listing move to the successor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from flask import Blueprint

from persistence.stores.account_data import GLOBAL
from protocol.auth import CREATE_KEY, POWER_LEVELS_KEY, power_levels_from_state
from protocol.errors import Forbidden, MatrixError
from protocol.events.model import Event, StateKey
from protocol.room_creation import (
    SPACE_CHILD,
    SPACE_ROOM_TYPE,
    TRANSFERABLE_STATE,
    bans_to_copy,
    restricted_power_levels,
    space_children_to_copy,
    upgrade_create_content,
    upgrade_events,
    upgrade_power_levels,
)
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomIdFormat
from tasks import api as tasks_api
from web.auth import authenticate
from web.client.profile import membership_profile
from web.client.room_access import require_joined
from web.client.rooms import UnsupportedRoomVersion
from web.client.rooms import new_room_id as choose_room_id
from web.deps import Deps, deps
from web.ratelimit import check_rate_limit
from web.requests import json_body
from web.routing import client_route

CANONICAL_ALIAS_KEY: StateKey = ("m.room.canonical_alias", "")
TOMBSTONE_BODY = "This room has been replaced"
DIRECT_TYPE = "m.direct"
TAG_TYPE = "m.tag"


def upgrade_room(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    body = json_body()
    version_id = body.text("new_version", max_length=32)
    additional_creators = body.user_ids("additional_creators")
    if version_id not in KNOWN_ROOM_VERSIONS:
        raise UnsupportedRoomVersion(f"Room version {version_id!r} is not supported by this server")
    check_rate_limit(current, "rc_room_creation", requester.user_id)
    room_version = KNOWN_ROOM_VERSIONS[version_id]
    upgrader = requester.user_id
    state, last_event_id = _old_room(current, room_id, upgrader)
    # Step 1: the upgrader must be able to send the tombstone.
    levels = power_levels_from_state(state)
    if levels.user_level(upgrader) < levels.event_level("m.room.tombstone", is_state=True):
        raise Forbidden("You cannot upgrade this room")
    tombstone_id = None
    if room_version.room_id_format is not RoomIdFormat.CREATE_EVENT_HASH:
        new_room_id, now = choose_room_id(current, room_version, {}, upgrader, current.clock.now_ms())
        tombstone_id = _send_tombstone(current, room_id, upgrader, new_room_id)
    create_content = upgrade_create_content(state[CREATE_KEY].content, room_id, tombstone_id or last_event_id,
                                            upgrader, room_version, additional_creators)
    if tombstone_id is None:
        new_room_id, now = choose_room_id(current, room_version, create_content, upgrader, current.clock.now_ms())
    old_levels = state[POWER_LEVELS_KEY].content if POWER_LEVELS_KEY in state else None
    power_levels = upgrade_power_levels(old_levels, [upgrader, *additional_creators], room_version)
    transferred = {event_type: state[(event_type, "")].content for event_type in TRANSFERABLE_STATE
                   if (event_type, "") in state}
    children = {key[1]: event.content for key, event in state.items() if key[0] == SPACE_CHILD}
    bans = {key[1]: event.content for key, event in state.items()
            if key[0] == "m.room.member" and event.membership == "ban"}
    templates = upgrade_events(
        upgrader, membership_profile(current, upgrader), power_levels, transferred,
        space_children=space_children_to_copy(state[CREATE_KEY].content, children),
        bans=bans_to_copy(bans, power_levels[0], [upgrader, *additional_creators], room_version))
    plan = [{"type": t.type, "state_key": t.state_key, "content": dict(t.content)} for t in templates]
    tasks_api.create_room(current.dispatcher, room_id=new_room_id, room_version=version_id, creator=upgrader,
                          create_content=create_content, origin_server_ts=now, initial_events=plan)
    if tombstone_id is None:
        _send_tombstone(current, room_id, upgrader, new_room_id)
    _restrict(current, room_id, upgrader, old_levels)
    _carry_account_data(current, upgrader, room_id, new_room_id)
    _move_aliases(current, room_id, new_room_id, upgrader, state.get(CANONICAL_ALIAS_KEY))
    _move_publication(current, room_id, new_room_id)
    return {"replacement_room": new_room_id}


def _send_tombstone(current: Deps, room_id: str, upgrader: str, new_room_id: str) -> str:
    result = tasks_api.create_event(current.dispatcher, room_id=room_id, sender=upgrader,
                                    event_type="m.room.tombstone", state_key="",
                                    content={"body": TOMBSTONE_BODY, "replacement_room": new_room_id})
    return str(result["event_id"])


def _old_room(current: Deps, room_id: str, user_id: str) -> tuple[dict[StateKey, Event], str | None]:
    """The old room's create, power levels, transferable state, ban and (for a space) ``m.space.child`` events,
    and its last event's id."""
    wanted: list[StateKey] = [CREATE_KEY, POWER_LEVELS_KEY, CANONICAL_ALIAS_KEY,
                              *((event_type, "") for event_type in TRANSFERABLE_STATE)]
    with current.database.read() as conn:
        require_joined(current, conn, room_id, user_id)
        stores = current.stores
        wanted += [("m.room.member", banned) for banned in stores.state.list_members(conn, room_id, "ban")]
        state_ids = stores.state.get_current_state_ids_for(conn, room_id, wanted)
        create = stores.events.get_event(conn, state_ids[CREATE_KEY]) if CREATE_KEY in state_ids else None
        if create is not None and create.event.content.get("type") == SPACE_ROOM_TYPE:
            state_ids.update({(SPACE_CHILD, state_key): event_id for state_key, event_id
                              in stores.state.list_current_state_of_type(conn, room_id, SPACE_CHILD).items()})
        events = stores.events.get_events(conn, state_ids.values())
        last = stores.events.list_room_events(conn, room_id, limit=1, backwards=True)
    state = {key: events[event_id].event for key, event_id in state_ids.items() if event_id in events}
    return state, last[0].event_id if last else None


def _move_aliases(current: Deps, old_room_id: str, new_room_id: str, upgrader: str,
                  canonical: Event | None) -> None:
    """Step 5, as Synapse: local aliases now lead to the new room, and the canonical alias moves with them."""
    with current.database.write() as conn:
        moved = current.stores.aliases.update_room_of_aliases(conn, old_room_id, new_room_id)
    if canonical is None or not (moved or canonical.content):
        return
    with contextlib.suppress(MatrixError):
        tasks_api.create_event(current.dispatcher, room_id=new_room_id, sender=upgrader,
                               event_type="m.room.canonical_alias", content=dict(canonical.content), state_key="")
        tasks_api.create_event(current.dispatcher, room_id=old_room_id, sender=upgrader,
                               event_type="m.room.canonical_alias", content={}, state_key="")


def _carry_account_data(current: Deps, upgrader: str, old_room_id: str, new_room_id: str) -> None:
    """As Synapse: the upgrader's direct-chat mapping and tags of the old room carry over to the new one."""
    with current.database.read() as conn:
        direct = current.stores.account_data.get_account_data(conn, upgrader, GLOBAL, DIRECT_TYPE)
        tags = current.stores.account_data.get_account_data(conn, upgrader, old_room_id, TAG_TYPE)
    with contextlib.suppress(MatrixError):
        if isinstance(direct, dict) and any(isinstance(rooms, list) and old_room_id in rooms
                                            for rooms in direct.values()):
            carried = {user: [*rooms, new_room_id] if isinstance(rooms, list) and old_room_id in rooms else rooms
                       for user, rooms in direct.items()}
            tasks_api.put_account_data(current.dispatcher, user_id=upgrader, room_id=GLOBAL,
                                       event_type=DIRECT_TYPE, content=carried)
        found = tags.get("tags") if isinstance(tags, dict) else None
        for tag, content in (found.items() if isinstance(found, dict) else ()):
            tasks_api.update_tag(current.dispatcher, user_id=upgrader, room_id=new_room_id, tag=tag,
                                 content=content if isinstance(content, dict) else {})


def _move_publication(current: Deps, old_room_id: str, new_room_id: str) -> None:
    """As Synapse: a room published in the directory is replaced there by its successor."""
    with current.database.write() as conn:
        directory = current.stores.directory
        if directory.is_published(conn, old_room_id):
            directory.delete_published(conn, old_room_id)
            directory.insert_published(conn, new_room_id, current.clock.now_ms())


def _restrict(current: Deps, room_id: str, upgrader: str, old_levels: Mapping[str, Any] | None) -> None:
    """Step 6: stop sending and inviting in the old room, if the upgrader may change its power levels.

    The upgrade has happened by now; an upgrader allowed the tombstone but not power levels leaves the old room
    as it was, as Synapse does. A room without power levels is left too: a first one would take the implicit
    100 from its creator.
    """
    restricted = restricted_power_levels(old_levels) if old_levels is not None else None
    if restricted is None:
        return
    with contextlib.suppress(MatrixError):
        tasks_api.create_event(current.dispatcher, room_id=room_id, sender=upgrader,
                               event_type="m.room.power_levels", content=restricted, state_key="")


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/rooms/<room_id>/upgrade", methods=["POST"])(upgrade_room)
