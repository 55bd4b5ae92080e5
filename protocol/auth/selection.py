"""Auth events: which state an event must cite, and the rules about what it does cite.

Spec: Server-Server API, "Auth events selection" (what a new event's ``auth_events`` reference), and the auth
rule "Considering the event's auth_events" (rule 2 in rooms/v1-v11, rule 3 in rooms/v12), which a received event's
``auth_events`` must pass before the rest of the rules are checked against them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from protocol.auth.errors import reject
from protocol.auth.power_levels import CREATE_KEY, POWER_LEVELS_KEY
from protocol.events.model import Event, StateKey
from protocol.room_versions import RoomVersion


def auth_types_for_event(
    event_type: str, sender: str, state_key: str | None, content: Mapping[str, Any], room_version: RoomVersion
) -> set[StateKey]:
    """The state keys whose current events belong in a new event's ``auth_events`` (those present in the state).

    Spec: Server-Server API, "Auth events selection": nothing for ``m.room.create``; otherwise the create event
    (v1-v11 only: rooms/v12 implies it by the room id), the power levels, the sender's membership and, for
    membership events, the target's membership, the join rules (join, invite, knock), the
    ``m.room.third_party_invite`` named by ``third_party_invite.signed.token`` (invite) and the authorising
    user's membership (join with ``join_authorised_via_users_server``, from v8).
    """
    if event_type == "m.room.create":
        return set()
    types = {POWER_LEVELS_KEY, ("m.room.member", sender)}
    if room_version.create_event_in_auth_events:
        types.add(CREATE_KEY)
    if event_type != "m.room.member":
        return types
    membership = content.get("membership")
    if state_key is not None:
        types.add(("m.room.member", state_key))
    if membership in ("join", "invite", "knock"):
        types.add(("m.room.join_rules", ""))
    if membership == "invite":
        third_party_invite = content.get("third_party_invite")
        signed = third_party_invite.get("signed") if isinstance(third_party_invite, Mapping) else None
        token = signed.get("token") if isinstance(signed, Mapping) else None
        if isinstance(token, str):
            types.add(("m.room.third_party_invite", token))
    if membership == "join" and room_version.restricted_join_rule:
        authorising_user = content.get("join_authorised_via_users_server")
        if isinstance(authorising_user, str):
            types.add(("m.room.member", authorising_user))
    return types


def auth_types_of(event: Event) -> set[StateKey]:
    """:func:`auth_types_for_event` for an existing event."""
    return auth_types_for_event(event.type, event.sender, event.state_key, event.content, event.room_version)


def check_auth_events(
    event: Event, auth_events: Iterable[Event], *, rejected_event_ids: Collection[str] = frozenset(),
    ignore_unexpected: bool = False,
) -> dict[StateKey, Event]:
    """Check the auth rule about ``event``'s ``auth_events``; return them keyed by ``(type, state_key)``.

    ``auth_events`` must hold every event ``event`` cites (fetching them is the caller's job: a missing one
    raises ValueError). Rejection is a fact of storage, so the caller names rejected events in
    ``rejected_event_ids`` (rule 2.3 / v12 3.3). Create events cite nothing and pass (rule 1 decides them).

    ``ignore_unexpected``: an auth event of a type the selection would not pick is left out instead of rejecting
    the event, as Synapse treats events received over federation (SyTest's remote server cites the join rules
    for every event); it must still be a state event of the room, not rejected, and not a duplicate.
    """
    room_version = event.room_version
    if event.type == "m.room.create":
        return {}
    by_id = {auth_event.event_id: auth_event for auth_event in auth_events}
    expected = auth_types_of(event)
    by_key: dict[StateKey, Event] = {}
    seen: set[StateKey] = set()
    for event_id in event.auth_event_ids:
        auth_event = by_id.get(event_id)
        if auth_event is None:
            raise ValueError(f"auth event {event_id} of {event.event_id} was not supplied")
        if auth_event.state_key is None:
            raise reject(room_version, "auth_events", "selection", f"auth event {event_id} is not a state event")
        key = auth_event.state_tuple
        if key in seen:
            raise reject(room_version, "auth_events", "duplicates", f"two auth events for {key}")
        seen.add(key)
        if key not in expected and not ignore_unexpected:
            raise reject(room_version, "auth_events", "selection", f"auth event {event_id} for {key} is not expected")
        if event_id in rejected_event_ids:
            raise reject(room_version, "auth_events", "rejected", f"auth event {event_id} was rejected")
        if auth_event.room_id != event.room_id:
            raise reject(room_version, "auth_events", "room_id", f"auth event {event_id} is in another room")
        if key in expected:
            by_key[key] = auth_event
    if room_version.create_event_in_auth_events and CREATE_KEY not in by_key:
        raise reject(room_version, "auth_events", "create", "there is no m.room.create event among the auth events")
    return by_key
