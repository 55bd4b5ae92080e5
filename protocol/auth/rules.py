"""The authorization rules of room versions 1-12: is this event allowed by this state?

Spec: rooms/v1 "Authorization rules" (fragment v1-auth-rules, v1-v2), rooms/v3 (v3-auth-rules, v3-v5), rooms/v6,
rooms/v7, rooms/v8 (v8-auth-rules, v8-v9), rooms/v10, rooms/v11, rooms/v12, and Server-Server API "Checks
performed on receipt of a PDU". Where the versions differ, the code asks a :class:`RoomVersion` field.

A received event is checked several times against different state (its auth events, the state before it, the
current state for soft failure) and state resolution re-checks events against partial states; all of them call
:func:`check_auth`. :func:`check_auth_against_auth_events` is the first of those checks, including the rule
about the ``auth_events`` themselves.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from protocol.auth.errors import reject
from protocol.auth.membership import SignedByServer, check_membership, membership_of
from protocol.auth.power_level_changes import check_power_levels_change
from protocol.auth.power_levels import CREATE_KEY, PowerLevel, PowerLevels, power_levels_from_state
from protocol.auth.selection import check_auth_events
from protocol.events.ids import create_event_id_from_room_id
from protocol.events.model import Event, StateKey
from protocol.identifiers import is_valid_user_id
from protocol.room_versions import KNOWN_ROOM_VERSIONS


def check_auth(
    event: Event, auth_state: Mapping[StateKey, Event], *, is_signed_by: SignedByServer | None = None
) -> None:
    """Raise :class:`~protocol.auth.errors.AuthError` unless ``event`` is allowed by ``auth_state``.

    ``auth_state`` maps ``(type, state_key)`` to events: the event's auth events, the state before it, or the
    room's current state. It must include the room's ``m.room.create`` event in every room version; in v12,
    where events do not cite it, the caller adds it (it is named by the room id). ``is_signed_by``: see
    :func:`protocol.auth.membership.check_membership`.
    """
    room_version = event.room_version
    if event.type == "m.room.create":
        _check_create(event)
        return
    create_event = auth_state.get(CREATE_KEY)
    if create_event is None:
        if not room_version.create_event_in_auth_events:
            raise reject(room_version, "room_id", None, "the room's m.room.create event is unknown")
        raise reject(room_version, "auth_events", "create", "there is no m.room.create event")
    _check_room_of(event, create_event)
    _check_federation(event, create_event)
    if room_version.special_case_aliases_auth and event.type == "m.room.aliases":
        _check_aliases(event)
        return
    levels = power_levels_from_state(auth_state)
    if event.type == "m.room.member":
        check_membership(event, auth_state, levels, is_signed_by=is_signed_by)
        return
    if membership_of(auth_state, event.sender) != "join":
        raise reject(room_version, "sender_joined", None, f"{event.sender} is not joined to the room")
    sender_level = levels.user_level(event.sender)
    if event.type == "m.room.third_party_invite":
        if sender_level < levels.invite:
            raise reject(room_version, "third_party_invite", None, "the sender's power level is below invite")
        return
    required = levels.event_level(event.type, is_state=event.is_state)
    if sender_level < required:
        raise reject(room_version, "required_power_level", None,
                     f"{event.type} needs power level {required}, the sender has {sender_level}")  # fmt: skip
    state_key = event.state_key
    if state_key is not None and state_key.startswith("@") and state_key != event.sender:
        raise reject(room_version, "state_key", None, "a state_key starting with '@' must be the sender's user id")
    if event.type == "m.room.power_levels":
        check_power_levels_change(event, auth_state, levels)
    if room_version.redactions_in_auth_rules and event.type == "m.room.redaction":
        _check_redaction(event, sender_level, levels)


def check_auth_against_auth_events(
    event: Event,
    auth_events: Iterable[Event],
    *,
    create_event: Event | None = None,
    rejected_event_ids: Collection[str] = frozenset(),
    is_signed_by: SignedByServer | None = None,
    ignore_unexpected: bool = False,
) -> None:
    """Step 4 of "Checks performed on receipt of a PDU": the rules against the event's own ``auth_events``.

    ``auth_events`` are the events ``event`` cites. In v12 ``create_event`` is the room's create event (named by
    the room id, rule 2); it must be accepted, so it may not be in ``rejected_event_ids``. Earlier versions find
    it among the auth events and ignore the argument. ``ignore_unexpected``: see
    :func:`protocol.auth.selection.check_auth_events`.
    """
    room_version = event.room_version
    auth_state = check_auth_events(event, auth_events, rejected_event_ids=rejected_event_ids,
                                   ignore_unexpected=ignore_unexpected)
    if event.type != "m.room.create" and not room_version.create_event_in_auth_events:
        if create_event is None or create_event.event_id in rejected_event_ids:
            raise reject(room_version, "room_id", None, "the room's m.room.create event is unknown or rejected")
        auth_state[CREATE_KEY] = create_event
    check_auth(event, auth_state, is_signed_by=is_signed_by)


def _check_create(event: Event) -> None:
    """Rule 1: a create event has no prev events, a well-formed room id (v12: none), a known version."""
    room_version = event.room_version
    if event.pdu.get("prev_events"):
        raise reject(room_version, "create", "prev_events", "m.room.create has prev_events")
    if room_version.create_event_in_auth_events:
        if _domain(event.room_id) != _domain(event.sender):
            raise reject(room_version, "create", "room_id", "the room id's domain is not the sender's domain")
    elif "room_id" in event.pdu:
        raise reject(room_version, "create", "room_id", "m.room.create has a room_id")
    content_version = event.content.get("room_version", "1")
    if not isinstance(content_version, str) or content_version not in KNOWN_ROOM_VERSIONS:
        raise reject(room_version, "create", "room_version", f"unknown room version {content_version!r}")
    if room_version.create_event_has_creator and "creator" not in event.content:
        raise reject(room_version, "create", "creator", "content has no creator")
    if room_version.room_creators_have_infinite_power and "additional_creators" in event.content:
        additional = event.content["additional_creators"]
        if not isinstance(additional, list) or not all(is_valid_user_id(user) for user in additional):
            raise reject(room_version, "create", "additional_creators", "additional_creators must be user ids")


def _check_redaction(event: Event, sender_level: PowerLevel, levels: PowerLevels) -> None:
    """rooms/v1 rule 11 (v1, v2): the redact level, or redacting an event whose id has the redaction's domain.

    From v3 event ids carry no domain and the rule is gone: whether a redaction takes effect is decided when it
    is applied (rooms/v3 "Handling redactions"), not by the auth rules.
    """
    redacts = event.redacts
    if sender_level >= levels.redact or (redacts is not None and _domain(redacts) == _domain(event.event_id)):
        return
    raise reject(event.room_version, "redaction", None, "below the redact level and redacting another server's event")


def _check_room_of(event: Event, create_event: Event) -> None:
    """v12 rule 2: the room id names the create event. Earlier: the create event is from this room (rule 2.5)."""
    room_version = event.room_version
    if room_version.create_event_in_auth_events:
        if create_event.room_id != event.room_id:
            raise reject(room_version, "auth_events", "room_id", "the m.room.create event is from another room")
        return
    try:
        named = create_event_id_from_room_id(event.room_id, room_version)
    except ValueError:
        named = None
    if named != create_event.event_id:
        raise reject(room_version, "room_id", None, f"room id {event.room_id!r} does not name the create event")


def _check_federation(event: Event, create_event: Event) -> None:
    """Rule 3 (v12: 4): ``m.federate: false`` keeps out senders from other servers than the creator's.

    The spec says "set to false"; only the JSON value false counts (Synapse treats any non-true value as false).
    """
    if create_event.content.get("m.federate", True) is False and _domain(event.sender) != _domain(create_event.sender):
        raise reject(event.room_version, "federate", None, "the room does not federate with the sender's server")


def _check_aliases(event: Event) -> None:
    """rooms/v1 rule 4 (v1-v5): a server may publish aliases under its own name, and nothing else is checked."""
    room_version = event.room_version
    if event.state_key is None:
        raise reject(room_version, "aliases", "state_key", "m.room.aliases needs a state_key")
    if event.state_key != _domain(event.sender):
        raise reject(room_version, "aliases", "domain", "the state_key is not the sender's domain")


def _domain(identifier: str) -> str:
    """The server name of a user, room (v1-v11) or event (v1-v2) id: everything after the first colon."""
    return identifier.partition(":")[2]
