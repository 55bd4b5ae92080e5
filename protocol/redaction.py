"""The redaction algorithm: which parts of an event survive, per room version.

Redaction is not only what a server does when a user redacts an event: the redacted form is what signatures and
reference hashes (hence event ids) cover (spec: Server-Server API, "Signing Events"), so every server must compute
it identically. The rules live in the room version pages: rooms/v1 "Redactions" (v1-v5), rooms/v6 (aliases no
longer kept), rooms/v8 (join rules keep ``allow``), rooms/v9 (members keep ``join_authorised_via_users_server``)
and rooms/v11 (the revised algorithm, also used by v12).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from protocol.canonical_json import JsonDict
from protocol.errors import Forbidden, NotFound
from protocol.identifiers import server_of
from protocol.room_versions import RoomVersion

if TYPE_CHECKING:  # the event model hashes through this module, so it is only named for the type checker
    from protocol.auth.power_levels import PowerLevels
    from protocol.events.model import Event

# Spec: rooms/v11 "Redactions": the top-level keys every version keeps.
_ALWAYS_KEPT_KEYS = frozenset(
    {
        "event_id",
        "type",
        "room_id",
        "sender",
        "state_key",
        "content",
        "hashes",
        "signatures",
        "depth",
        "prev_events",
        "auth_events",
        "origin_server_ts",
    }
)
# Spec: rooms/v1 "Redactions": also kept before v11, which stopped protecting them.
_PRE_V11_KEPT_KEYS = frozenset({"origin", "membership", "prev_state"})

_POWER_LEVELS_KEYS = frozenset(
    {"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"}
)


def kept_top_level_keys(room_version: RoomVersion) -> frozenset[str]:
    """The top-level event keys that survive redaction in ``room_version``."""
    if room_version.updated_redaction_rules:
        return _ALWAYS_KEPT_KEYS
    return _ALWAYS_KEPT_KEYS | _PRE_V11_KEPT_KEYS


def kept_content_keys(event_type: str, room_version: RoomVersion) -> frozenset[str] | None:
    """The ``content`` keys an event of ``event_type`` keeps when redacted; ``None`` means all of them.

    Nested rules (v11's ``third_party_invite.signed``) are applied by :func:`redact_event`.
    """
    updated = room_version.updated_redaction_rules
    if event_type == "m.room.member":
        keys = {"membership"}
        if room_version.redaction_keeps_join_authorised_via_users_server:
            keys.add("join_authorised_via_users_server")
        return frozenset(keys)
    if event_type == "m.room.create":
        return None if updated else frozenset({"creator"})
    if event_type == "m.room.join_rules":
        return frozenset({"join_rule", "allow"} if room_version.redaction_keeps_join_rules_allow else {"join_rule"})
    if event_type == "m.room.power_levels":
        return _POWER_LEVELS_KEYS | {"invite"} if updated else _POWER_LEVELS_KEYS
    if event_type == "m.room.history_visibility":
        return frozenset({"history_visibility"})
    if event_type == "m.room.aliases" and room_version.redaction_keeps_aliases:
        return frozenset({"aliases"})
    if event_type == "m.room.redaction" and updated:
        return frozenset({"redacts"})
    return frozenset()


def redact_event(event: Mapping[str, Any], room_version: RoomVersion) -> JsonDict:
    """The redacted form of ``event``: unprotected top-level keys and ``content`` keys stripped.

    Returns a new top-level dict and a new ``content`` dict; nested values are shared with ``event``, so treat
    both as read-only. Keys absent from the event stay absent. A ``content`` that is not an object (a malformed
    event) redacts to ``{}``. Redacting twice changes nothing.
    """
    kept = kept_top_level_keys(room_version)
    redacted = {key: value for key, value in event.items() if key in kept}
    if "content" in redacted:
        redacted["content"] = _redact_content(event.get("type"), event["content"], room_version)
    return redacted


def _redact_content(event_type: Any, content: Any, room_version: RoomVersion) -> JsonDict:
    if not isinstance(content, Mapping):
        return {}
    keys = kept_content_keys(event_type, room_version) if isinstance(event_type, str) else frozenset()
    if keys is None:
        return dict(content)
    redacted = {key: value for key, value in content.items() if key in keys}
    if event_type == "m.room.member" and room_version.updated_redaction_rules:
        # Spec: rooms/v11 "Redactions": m.room.member also keeps the ``signed`` key of ``third_party_invite``,
        # which auth rule 4.4.1 needs to re-check a third-party invite after redaction.
        third_party_invite = content.get("third_party_invite")
        if isinstance(third_party_invite, Mapping) and "signed" in third_party_invite:
            redacted["third_party_invite"] = {"signed": third_party_invite["signed"]}
    return redacted


def redaction_needs_power_levels(redaction: Event, target: Event) -> bool:
    """Whether :func:`redaction_applies` must be given the power levels at ``redaction`` to decide.

    Only a v3+ redaction of another server's user's event needs them; read paths load state for those alone.
    """
    return (not redaction.room_version.redactions_in_auth_rules
            and server_of(redaction.sender) != server_of(target.sender))


def redaction_applies(redaction: Event, target: Event, levels_at_redaction: PowerLevels | None) -> bool:
    """Whether the accepted ``redaction`` takes effect on ``target``, so clients are served ``target`` redacted.

    Both events must be of one room and the redaction must name the target. In v1 and v2 the authorization
    rules (rule 11) already decided. From v3 (spec: rooms/v3 "Handling redactions") the redaction applies when
    its sender's server is the target sender's server, or when its sender has the *redact level* in the power
    levels at the redaction (``levels_at_redaction``; None when unknown, which refuses).
    """
    if redaction.redacts != target.event_id or redaction.type != "m.room.redaction":
        return False
    if not redaction_needs_power_levels(redaction, target):
        return True
    if levels_at_redaction is None:
        return False
    return levels_at_redaction.user_level(redaction.sender) >= levels_at_redaction.redact


# Synapse refuses these outright when its own users send them: a redacted create event loses the room's
# settings and a redacted ACL lets every server back in.
_UNREDACTABLE_TYPES = frozenset({"m.room.create", "m.room.server_acl"})


def check_local_redaction(redaction: Event, target: Event | None, levels: PowerLevels) -> None:
    """What this server checks, beyond the auth rules, before its own user's ``redaction`` is sent.

    Client-Server API, ``PUT /rooms/{roomId}/redact``: a user may redact their own events; redacting someone
    else's needs the *redact level*. From v3 the auth rules accept any redaction and its effect is decided when
    served, so a refusal here keeps an under-powered local user from emitting a redaction that would never apply.
    ``target`` is None when the event is not known in this room: only a user with the redact level may then
    redact it (as Synapse does, for events not yet received).
    """
    if target is not None and target.type in _UNREDACTABLE_TYPES:
        raise Forbidden(f"Redacting {target.type} events is not permitted")
    if levels.user_level(redaction.sender) >= levels.redact:
        return
    if target is None:
        raise NotFound(f"Unknown event {redaction.redacts}")
    if target.sender != redaction.sender:
        raise Forbidden("You don't have permission to redact other users' events")
