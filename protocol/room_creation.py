"""What ``POST /createRoom`` puts in a new room, in the order the spec fixes (Client-Server API, "Creation").

Pure: given the validated request, the creator and the room version, the plan is the list of event templates
the events writer appends after the create event, each checked by the auth rules like any other event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    overridden = {(template.type, template.state_key) for template in request.initial_state}
    for event_type, preset_content in (
        ("m.room.join_rules", {"join_rule": preset["join_rule"]}),
        ("m.room.history_visibility", {"history_visibility": preset["history_visibility"]}),
        ("m.room.guest_access", {"guest_access": preset["guest_access"]}),
    ):
        if (event_type, "") not in overridden:
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
