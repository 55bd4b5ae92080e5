"""What ``POST /createRoom`` puts in a new room, in the order the spec fixes (Client-Server API, "Creation").

Pure: given the validated request, the creator and the room version, the plan is the list of event templates
the events writer appends after the create event, each checked by the auth rules like any other event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.auth.power_levels import PowerLevels
from protocol.events.builder import EventTemplate
from protocol.room_versions import RoomVersion

PRESETS = {
    "private_chat": {"join_rule": "invite", "history_visibility": "shared", "guest_access": "can_join"},
    "trusted_private_chat": {"join_rule": "invite", "history_visibility": "shared", "guest_access": "can_join"},
    "public_chat": {"join_rule": "public", "history_visibility": "shared", "guest_access": "forbidden"},
}


@dataclass(frozen=True)
class RoomRequest:
    """The parts of a createRoom request that shape the room's first events (already type-checked)."""

    preset: str
    creation_content: Mapping[str, Any] = field(default_factory=dict)
    initial_state: Sequence[EventTemplate] = ()
    name: str | None = None
    topic: str | None = None
    invite: Sequence[str] = ()
    is_direct: bool = False
    power_level_content_override: Mapping[str, Any] | None = None
    canonical_alias: str | None = None
    """The full alias made from ``room_alias_name`` (already created and mapped to the room)."""


def default_preset(visibility: str) -> str:
    """The preset implied by ``visibility`` when the client names none (spec: createRoom ``preset``)."""
    return "public_chat" if visibility == "public" else "private_chat"


def create_content(request: RoomRequest, creator: str, room_version: RoomVersion) -> dict[str, Any]:
    """The ``m.room.create`` content: the client's ``creation_content`` plus what the version requires."""
    content = {key: value for key, value in request.creation_content.items() if key not in ("creator",)}
    content["room_version"] = room_version.identifier
    if room_version.create_event_has_creator:
        content["creator"] = creator
    if room_version.room_creators_have_infinite_power and request.preset == "trusted_private_chat":
        extra = [user for user in content.get("additional_creators") or [] if isinstance(user, str)]
        content["additional_creators"] = list(dict.fromkeys([*extra, *request.invite]))
    return content


def default_power_levels(request: RoomRequest, creator: str, room_version: RoomVersion) -> dict[str, Any]:
    """Synapse's defaults: the creator (and, for trusted chats, the invitees) at 100; state needs 50.

    From v12 creators hold infinite power and must not be listed in ``users``, and tombstones need more than
    ``state_default`` (150), so an upgrade cannot be forced by any moderator.
    """
    users: dict[str, int] = {}
    if not room_version.room_creators_have_infinite_power:
        users[creator] = 100
        if request.preset == "trusted_private_chat":
            users.update({invitee: 100 for invitee in request.invite})
    content: dict[str, Any] = {
        "users": users,
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            "m.room.tombstone": 150 if room_version.room_creators_have_infinite_power else 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 0 if request.preset != "public_chat" else 50,
        "historical": 100,
        "notifications": {"room": 50},
    }
    if request.power_level_content_override:
        content.update(request.power_level_content_override)
    return content


def initial_events(request: RoomRequest, creator: str, room_version: RoomVersion,
                   creator_profile: Mapping[str, str]) -> list[EventTemplate]:
    """Steps 2-8 of room creation (step 1, the create event, is built first by the writer)."""
    preset = PRESETS[request.preset]
    plan = [
        EventTemplate("m.room.member", {"membership": "join", **creator_profile}, state_key=creator),
        EventTemplate("m.room.power_levels", default_power_levels(request, creator, room_version), state_key=""),
    ]
    if request.canonical_alias is not None:  # step 4
        plan.append(EventTemplate("m.room.canonical_alias", {"alias": request.canonical_alias}, state_key=""))
    overridden = {(template.type, template.state_key) for template in request.initial_state}
    for event_type, preset_content in (
        ("m.room.join_rules", {"join_rule": preset["join_rule"]}),
        ("m.room.history_visibility", {"history_visibility": preset["history_visibility"]}),
        ("m.room.guest_access", {"guest_access": preset["guest_access"]}),
    ):
        # public_chat's "forbidden" guest access is what no m.room.guest_access event means (spec:
        # "Guest Access"), so, as Synapse, the room gets none: a client's view of the room's state matches.
        if (event_type, "") not in overridden and preset_content != {"guest_access": "forbidden"}:
            plan.append(EventTemplate(event_type, preset_content, state_key=""))
    # ``name`` and ``topic`` win over the same state in ``initial_state``.
    superseded = {("m.room.name", "") if request.name is not None else None,
                  ("m.room.topic", "") if request.topic is not None else None}
    plan.extend(template for template in request.initial_state
                if (template.type, template.state_key) not in superseded)
    if request.name is not None:
        plan.append(EventTemplate("m.room.name", {"name": request.name}, state_key=""))
    if request.topic is not None:
        plan.append(EventTemplate("m.room.topic", {"topic": request.topic}, state_key=""))
    for invitee in request.invite:
        content: dict[str, Any] = {"membership": "invite"}
        if request.is_direct:
            content["is_direct"] = True
        plan.append(EventTemplate("m.room.member", content, state_key=invitee))
    return plan


# --- Room upgrades (Client-Server API, "Room Upgrades", "Server behaviour") ----------------------------------------

# Step 3's recommended transferable state (the same list Synapse copies). Membership is not copied (a server
# cannot sign for remote users) except bans, which the upgrader re-issues; nor is state outside the Matrix
# namespace, whose meaning may hang on who sent it. A space also takes its children (Synapse does the same).
TRANSFERABLE_STATE = (
    "m.room.server_acl",
    "m.room.encryption",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.guest_access",
    "m.room.history_visibility",
    "m.room.join_rules",
)
# What the replacement room gets for preset state the old room lacks: Synapse creates it under the private_chat
# preset, whose defaults apply wherever the copied state is silent. A public_chat room has no guest access event
# (no event means "forbidden"), so its replacement gains ``can_join``, as with Synapse; SyTest checks for it.
UPGRADE_DEFAULT_STATE: Mapping[str, Mapping[str, Any]] = {
    "m.room.join_rules": {"join_rule": PRESETS["private_chat"]["join_rule"]},
    "m.room.history_visibility": {"history_visibility": PRESETS["private_chat"]["history_visibility"]},
    "m.room.guest_access": {"guest_access": PRESETS["private_chat"]["guest_access"]},
}
SPACE_CHILD = "m.space.child"
SPACE_ROOM_TYPE = "m.space"
RESTRICTED_LEVEL = 50
CREATOR_TOMBSTONE_LEVEL = 150


def upgrade_create_content(old_create: Mapping[str, Any], old_room_id: str, last_event_id: str | None,
                           creator: str, room_version: RoomVersion,
                           additional_creators: Sequence[str]) -> dict[str, Any]:
    """The replacement room's ``m.room.create`` content (step 2).

    ``predecessor.event_id`` names the old room's last event before the upgrade; from v12 it may be left out
    (and is: the room id then depends on this content alone). ``type`` and ``m.federate`` carry over, as in
    Synapse; additional creators never do: the upgrader names the full set again.
    """
    predecessor: dict[str, Any] = {"room_id": old_room_id}
    if not room_version.room_creators_have_infinite_power and last_event_id is not None:
        predecessor["event_id"] = last_event_id
    content: dict[str, Any] = {"room_version": room_version.identifier, "predecessor": predecessor}
    for key in ("type", "m.federate"):
        if key in old_create:
            content[key] = old_create[key]
    if room_version.create_event_has_creator:
        content["creator"] = creator
    extra = [user for user in dict.fromkeys(additional_creators) if user != creator]
    if room_version.room_creators_have_infinite_power and extra:
        content["additional_creators"] = extra
    return content


def upgrade_power_levels(old: Mapping[str, Any] | None, creators: Sequence[str],
                         room_version: RoomVersion) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The replacement room's power levels: ``(first, final)``, ``final`` None when ``first`` is already it.

    Before v12 the upgrader (``creators[0]``) may hold less than some level the copied state needs; like
    Synapse, the first power levels event lifts them to the highest level in the content and a final event
    restores the old levels once the state is copied. From v12 the creators hold infinite power and must not
    be listed in ``users``, and tombstones need more than any listed user can hold by default (150).
    """
    content: dict[str, Any] = {key: (dict(value) if isinstance(value, Mapping) else value)
                               for key, value in (old or default_power_levels(
                                   RoomRequest(preset="private_chat"), creators[0], room_version)).items()}
    users: dict[str, Any] = content["users"] if isinstance(content.get("users"), dict) else {}
    if room_version.room_creators_have_infinite_power:
        content["users"] = {user: level for user, level in users.items() if user not in creators}
        events: dict[str, Any] = content["events"] if isinstance(content.get("events"), dict) else {}
        tombstone = events.get("m.room.tombstone", content.get("state_default", 50))
        if not isinstance(tombstone, int) or isinstance(tombstone, bool) or tombstone < CREATOR_TOMBSTONE_LEVEL:
            content["events"] = {**events, "m.room.tombstone": CREATOR_TOMBSTONE_LEVEL}
        return content, None
    if creators[0] not in users:  # a creator of a v12 room held infinite power without a users entry
        users = content["users"] = {**users, creators[0]: 100}
    needed = max([level for level in _levels(content) if level is not None] or [100])
    current = users.get(creators[0], content.get("users_default", 0))
    if isinstance(current, int) and not isinstance(current, bool) and current >= needed:
        return content, None
    return {**content, "users": {**users, creators[0]: needed}}, content


def _levels(content: Mapping[str, Any]) -> list[int | None]:
    def level(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    events = content.get("events")
    values = [level(content.get(key)) for key in ("state_default", "ban", "kick", "redact", "invite")]
    if isinstance(events, Mapping):
        values.extend(level(value) for value in events.values())
    return values


def space_children_to_copy(old_create: Mapping[str, Any],
                           children: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ``m.space.child`` events (state key -> content) a space's replacement takes: every child still in the
    space; a child with empty content was removed (spec: "Spaces"), and a room that is no space takes none."""
    if old_create.get("type") != SPACE_ROOM_TYPE:
        return {}
    return {state_key: dict(content) for state_key, content in sorted(children.items()) if content}


def bans_to_copy(bans: Mapping[str, Mapping[str, Any]], first_power_levels: Mapping[str, Any],
                 creators: Sequence[str], room_version: RoomVersion) -> dict[str, dict[str, Any]]:
    """The bans (user id -> ban content) the upgrader re-issues in the replacement room, as Synapse does.

    They are sent under the first power levels, which lift the upgrader to at least the ban level. A banned user
    holding as much power as the upgrader there cannot be banned by them (the auth rules need a lower target);
    that ban is left behind rather than failing the whole upgrade.
    """
    infinite = frozenset(creators) if room_version.room_creators_have_infinite_power else frozenset()
    levels = PowerLevels.from_content(first_power_levels, room_version, infinite)
    upgrader = levels.user_level(creators[0])
    if upgrader < levels.ban:
        return {}
    return {user_id: dict(content) for user_id, content in sorted(bans.items())
            if levels.user_level(user_id) < upgrader}


def upgrade_events(creator: str, creator_profile: Mapping[str, str], power_levels: tuple[dict[str, Any],
                   dict[str, Any] | None], transferred: Mapping[str, Mapping[str, Any]], *,
                   space_children: Mapping[str, Mapping[str, Any]] | None = None,
                   bans: Mapping[str, Mapping[str, Any]] | None = None) -> list[EventTemplate]:
    """What follows the create event in the replacement room: the upgrader's join, power levels, the copied
    state (``transferred``: event type -> content, state key ``""``), the space's children, the bans (state key
    -> content), and the final power levels if any: everything copied is sent under the first, lifted levels.
    Join rules, history visibility and guest access the old room lacks take ``UPGRADE_DEFAULT_STATE``."""
    first, final = power_levels
    plan = [EventTemplate("m.room.member", {"membership": "join", **creator_profile}, state_key=creator),
            EventTemplate("m.room.power_levels", first, state_key="")]
    state = {**UPGRADE_DEFAULT_STATE, **transferred}
    plan.extend(EventTemplate(event_type, dict(state[event_type]), state_key="")
                for event_type in TRANSFERABLE_STATE if event_type in state)
    plan.extend(EventTemplate(SPACE_CHILD, dict(content), state_key=state_key)
                for state_key, content in (space_children or {}).items())
    plan.extend(EventTemplate("m.room.member", dict(content), state_key=user_id)
                for user_id, content in (bans or {}).items())
    if final is not None:
        plan.append(EventTemplate("m.room.power_levels", final, state_key=""))
    return plan


def restricted_power_levels(content: Mapping[str, Any]) -> dict[str, Any] | None:
    """Step 6: the old room's power levels with sending and inviting raised to ``max(50, users_default + 1)``;
    None when both are already that high."""
    users_default = content.get("users_default", 0)
    floor = max(RESTRICTED_LEVEL, (users_default if isinstance(users_default, int) else 0) + 1)
    changed = dict(content)
    for key in ("events_default", "invite"):
        value = content.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < floor:
            changed[key] = floor
    return changed if changed != dict(content) else None
