"""The ``m.room.member`` auth rule: who may join, invite, leave, kick, ban, unban and knock.

Spec: rooms/v1 auth rule 5 (v1-v5), rooms/v6 and v7 rule 4 (v7 adds ``knock``), rooms/v8 rule 4 (the
``restricted`` join rule and ``join_authorised_via_users_server``), rooms/v10 rule 4 (``knock_restricted``),
rooms/v11 rule 4 (the creator is the create event's sender) and rooms/v12 rule 5. Every branch ends in allow
(return) or reject (raise): membership events never reach the later rules.

"Current membership state" of a user is the membership of their ``m.room.member`` event in the state the event
is checked against; a user without one has none (``None``), which no rule treats as joined, invited or banned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from protocol.auth.errors import reject
from protocol.auth.power_levels import CREATE_KEY, PowerLevels, room_creator
from protocol.auth.third_party_invite import check_third_party_invite
from protocol.events.model import Event, StateKey

SignedByServer = Callable[[Event, str], bool]
"""``(event, server_name) -> bool``: whether ``server_name`` validly signed ``event`` (a key lookup, so I/O)."""

AUTHORISING_USER = "join_authorised_via_users_server"


def membership_of(state: Mapping[StateKey, Event], user_id: str) -> str | None:
    """``user_id``'s current membership in ``state``, or None when they have no membership event."""
    member_event = state.get(("m.room.member", user_id))
    return None if member_event is None else member_event.membership


def join_rule_of(state: Mapping[StateKey, Event]) -> str:
    """The room's join rule; ``invite`` without an ``m.room.join_rules`` event or without ``join_rule``.

    The spec leaves the missing cases open; ``invite`` is what Synapse assumes, and the safe reading. A value that
    is not a string matches no rule (so nobody may join by it).
    """
    join_rules_event = state.get(("m.room.join_rules", ""))
    if join_rules_event is None:
        return "invite"
    value = join_rules_event.content.get("join_rule", "invite")
    return value if isinstance(value, str) else ""


def check_membership(
    event: Event, state: Mapping[StateKey, Event], levels: PowerLevels, *, is_signed_by: SignedByServer | None
) -> None:
    """Allow (return) or reject (raise) a membership event against ``state``.

    ``is_signed_by`` checks rooms/v8+ rule 4.2, "the event is validly signed by the homeserver of the user ID
    denoted by join_authorised_via_users_server". That needs the server's keys, so it belongs with the signature
    checks on receipt (Server-Server API, "Checks performed on receipt of a PDU", step 2), which is where Synapse
    performs it; pass None (state resolution, re-checks against current state) to skip it here.
    """
    room_version = event.room_version
    target = event.state_key
    membership = event.membership
    if target is None or "membership" not in event.content:
        raise reject(room_version, "member", "fields", "a membership event needs a state_key and content.membership")
    if room_version.restricted_join_rule and AUTHORISING_USER in event.content and is_signed_by is not None:
        authoriser = event.content[AUTHORISING_USER]
        if not isinstance(authoriser, str) or not is_signed_by(event, _domain(authoriser)):
            raise reject(room_version, "member", "authorising_signature",
                         f"not signed by the server of {AUTHORISING_USER} {authoriser!r}")  # fmt: skip
    if membership == "join":
        _check_join(event, target, state, levels)
    elif membership == "invite":
        _check_invite(event, target, state, levels)
    elif membership == "leave":
        _check_leave(event, target, state, levels)
    elif membership == "ban":
        _check_ban(event, target, state, levels)
    elif membership == "knock" and room_version.knock_join_rule:
        _check_knock(event, target, state)
    else:
        raise reject(room_version, "member", "unknown", f"unknown membership {membership!r}")


def _check_join(event: Event, target: str, state: Mapping[StateKey, Event], levels: PowerLevels) -> None:
    room_version = event.room_version
    create_event = state.get(CREATE_KEY)
    # Sub-rule 1: the creator's own join straight after the create event. The spec asks only that the *target* be
    # the creator (v1-v10: content.creator; v11+: the create event's sender), not the sender; so do we.
    if (
        create_event is not None
        and event.prev_event_ids == (create_event.event_id,)
        and target == room_creator(create_event)
    ):
        return
    if event.sender != target:
        raise reject(room_version, "member", "join", "the sender cannot join another user")
    current = membership_of(state, target)
    if current == "ban":
        raise reject(room_version, "member", "join", "the sender is banned")
    join_rule = join_rule_of(state)
    if join_rule == "invite" or (room_version.knock_join_rule and join_rule == "knock"):
        if current in ("invite", "join"):
            return
        raise reject(room_version, "member", "join", f"join rule {join_rule!r} and the sender is not invited")
    if (room_version.restricted_join_rule and join_rule == "restricted") or (
        room_version.knock_restricted_join_rule and join_rule == "knock_restricted"
    ):
        if current in ("invite", "join"):
            return
        authoriser = event.content.get(AUTHORISING_USER)
        if not isinstance(authoriser, str):
            raise reject(room_version, "member", "join", f"join rule {join_rule!r} needs {AUTHORISING_USER}")
        if membership_of(state, authoriser) != "join":
            raise reject(room_version, "member", "join", f"authorising user {authoriser} is not joined")
        if levels.user_level(authoriser) < levels.invite:
            raise reject(room_version, "member", "join", f"authorising user {authoriser} may not invite")
        return
    if join_rule == "public":
        return
    raise reject(room_version, "member", "join", f"join rule {join_rule!r} does not allow joining")


def _check_invite(event: Event, target: str, state: Mapping[StateKey, Event], levels: PowerLevels) -> None:
    room_version = event.room_version
    target_membership = membership_of(state, target)
    if "third_party_invite" in event.content:
        check_third_party_invite(event, state, target_membership)
        return
    if membership_of(state, event.sender) != "join":
        raise reject(room_version, "member", "invite", "the sender is not joined")
    if target_membership in ("join", "ban"):
        raise reject(room_version, "member", "invite", f"the target user's membership is {target_membership!r}")
    if levels.user_level(event.sender) < levels.invite:
        raise reject(room_version, "member", "invite", "the sender's power level is below the invite level")


def _check_leave(event: Event, target: str, state: Mapping[StateKey, Event], levels: PowerLevels) -> None:
    room_version = event.room_version
    sender_membership = membership_of(state, event.sender)
    if event.sender == target:
        may_leave = ("invite", "join", "knock") if room_version.knock_join_rule else ("invite", "join")
        if sender_membership in may_leave:
            return
        raise reject(room_version, "member", "leave", f"cannot leave from membership {sender_membership!r}")
    if sender_membership != "join":
        raise reject(room_version, "member", "leave", "the sender is not joined")
    sender_level = levels.user_level(event.sender)
    if membership_of(state, target) == "ban" and sender_level < levels.ban:
        raise reject(room_version, "member", "leave", "the sender's power level is below the ban level (unban)")
    if sender_level >= levels.kick and levels.user_level(target) < sender_level:
        return
    raise reject(room_version, "member", "leave", "the sender needs the kick level and more power than the target")


def _check_ban(event: Event, target: str, state: Mapping[StateKey, Event], levels: PowerLevels) -> None:
    room_version = event.room_version
    if membership_of(state, event.sender) != "join":
        raise reject(room_version, "member", "ban", "the sender is not joined")
    sender_level = levels.user_level(event.sender)
    if sender_level >= levels.ban and levels.user_level(target) < sender_level:
        return
    raise reject(room_version, "member", "ban", "the sender needs the ban level and more power than the target")


def _check_knock(event: Event, target: str, state: Mapping[StateKey, Event]) -> None:
    room_version = event.room_version
    join_rule = join_rule_of(state)
    knock_rules = ("knock", "knock_restricted") if room_version.knock_restricted_join_rule else ("knock",)
    if join_rule not in knock_rules:
        raise reject(room_version, "member", "knock", f"join rule {join_rule!r} does not allow knocking")
    if event.sender != target:
        raise reject(room_version, "member", "knock", "the sender cannot knock for another user")
    current = membership_of(state, target)
    if current in ("ban", "invite", "join"):
        raise reject(room_version, "member", "knock", f"cannot knock from membership {current!r}")


def _domain(user_id: str) -> str:
    return user_id.partition(":")[2]
