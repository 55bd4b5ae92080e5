"""Room versions 1-12 as data: every rule that differs between versions is one named field.

Room versions are opaque, immutable bundles of algorithms (spec: Room Versions, "Complete list of room versions").
Code elsewhere in ``protocol`` never compares version strings; it asks a :class:`RoomVersion` field ("does this
version keep ``allow`` when redacting join rules?"), so adding a version is adding one entry here.

Each version below is written as "the previous one, plus what its spec page marks ``added-in``/``changed-in``",
which keeps the table checkable against the spec line by line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum
from types import MappingProxyType
from typing import Any


class EventIdFormat(Enum):
    """How an event gets its id (spec: rooms/v1 "Event IDs", rooms/v3 "Event IDs", rooms/v4 "Event IDs")."""

    # ``$opaque_id:domain`` chosen by the sending server and carried in the event's ``event_id`` field (v1, v2).
    SERVER_GENERATED = "server_generated"
    # ``$`` + unpadded Base64 of the reference hash; the id is computed, never sent (v3).
    REFERENCE_HASH = "reference_hash"
    # As above with URL-safe unpadded Base64, so ids need no escaping in URLs (v4 onwards).
    URL_SAFE_REFERENCE_HASH = "url_safe_reference_hash"


class RoomIdFormat(Enum):
    """How a room gets its id (spec: Appendices, "Room IDs"; rooms/v12 "Event format")."""

    # ``!opaque_id:domain`` chosen by the creating server (v1-v11).
    SERVER_GENERATED = "server_generated"
    # The create event's event id with ``!`` for ``$``; the create event carries no ``room_id`` (v12).
    CREATE_EVENT_HASH = "create_event_hash"


class StateResolution(Enum):
    """The state resolution algorithm (spec: rooms/v1, rooms/v2 and rooms/v12 "State resolution")."""

    V1 = "v1"
    V2 = "v2"
    # v2 with iterative auth checks starting from an empty state and the conflicted state subgraph (v12).
    V2_1 = "v2.1"


@dataclass(frozen=True)
class RoomVersion:
    """The properties of one room version. Field comments name the version that introduced the behaviour."""

    identifier: str
    # Spec: Room Versions, "Complete list": stable versions may be used by rooms safely.
    stable: bool
    event_id_format: EventIdFormat
    room_id_format: RoomIdFormat
    state_resolution: StateResolution

    # --- Signing and event format ---
    # v5: a signing key's valid_until_ts must cover the event's origin_server_ts (rooms/v5).
    enforce_key_validity: bool
    # v6: events must be Canonical JSON (integers in [-(2**53)+1, 2**53-1], no floats); older rooms must
    # tolerate violations (rooms/v1 and rooms/v6 "Canonical JSON").
    strict_canonical_json: bool
    # v11: the spec's byte limits on sender/room_id/state_key/type/event_id apply without leniency. Synapse let
    # v1-v10 events that break them in bytes but not in codepoints through as rejected (they were once counted in
    # codepoints); following that keeps existing rooms working together.
    strict_event_byte_limits: bool

    # --- Authorisation rules ---
    # v1, v2: m.room.redaction events are checked by auth rule 11 (rooms/v3 "Handling redactions").
    redactions_in_auth_rules: bool
    # v1-v5: auth rule 4 special-cases m.room.aliases (removed in rooms/v6).
    special_case_aliases_auth: bool
    # v6: power level changes to ``notifications`` are checked like ``events`` (rooms/v6 rules 9.4, 9.5).
    limit_notifications_power_levels: bool
    # v7: the ``knock`` join rule and membership.
    knock_join_rule: bool
    # v8: the ``restricted`` join rule and ``join_authorised_via_users_server``.
    restricted_join_rule: bool
    # v10: the ``knock_restricted`` join rule.
    knock_restricted_join_rule: bool
    # v10: power level values must be integers, never strings (rooms/v10 "Deprecated event content schemas").
    integer_only_power_levels: bool
    # v1-v10: m.room.create must carry ``content.creator``; from v11 the creator is the create event's sender.
    create_event_has_creator: bool
    # v11: m.room.redaction carries ``redacts`` in ``content`` instead of at the top level.
    redacts_in_content: bool
    # v12: the create event's sender and ``content.additional_creators`` have infinite power level.
    room_creators_have_infinite_power: bool
    # v1-v11: m.room.create is selected into every event's auth_events; v12 implies it from room_id instead.
    create_event_in_auth_events: bool

    # --- Redaction algorithm (see protocol.redaction) ---
    # v1-v5: m.room.aliases keeps ``aliases`` (dropped in rooms/v6 "Redactions").
    redaction_keeps_aliases: bool
    # v8: m.room.join_rules keeps ``allow``.
    redaction_keeps_join_rules_allow: bool
    # v9: m.room.member keeps ``join_authorised_via_users_server``.
    redaction_keeps_join_authorised_via_users_server: bool
    # v11: ``origin``, ``membership`` and ``prev_state`` are no longer kept; m.room.create keeps all content,
    # m.room.power_levels keeps ``invite``, m.room.redaction keeps ``redacts``, m.room.member keeps
    # ``third_party_invite.signed`` (rooms/v11 "Redactions").
    updated_redaction_rules: bool

    @property
    def event_id_in_event(self) -> bool:
        """Whether PDUs carry ``event_id`` and reference other events as ``[event_id, hashes]`` pairs (v1, v2)."""
        return self.event_id_format is EventIdFormat.SERVER_GENERATED

    @property
    def max_depth(self) -> int:
        """The largest ``depth`` a PDU may have: 2**63-1, or 2**53-1 once Canonical JSON is enforced.

        Spec: Server-Server API PDU schemas, ``depth`` (pdu_v1 / depth_v6).
        """
        return 2**53 - 1 if self.strict_canonical_json else 2**63 - 1


V1 = RoomVersion(
    identifier="1",
    stable=True,
    event_id_format=EventIdFormat.SERVER_GENERATED,
    room_id_format=RoomIdFormat.SERVER_GENERATED,
    state_resolution=StateResolution.V1,
    enforce_key_validity=False,
    strict_canonical_json=False,
    strict_event_byte_limits=False,
    redactions_in_auth_rules=True,
    special_case_aliases_auth=True,
    limit_notifications_power_levels=False,
    knock_join_rule=False,
    restricted_join_rule=False,
    knock_restricted_join_rule=False,
    integer_only_power_levels=False,
    create_event_has_creator=True,
    redacts_in_content=False,
    room_creators_have_infinite_power=False,
    create_event_in_auth_events=True,
    redaction_keeps_aliases=True,
    redaction_keeps_join_rules_allow=False,
    redaction_keeps_join_authorised_via_users_server=False,
    updated_redaction_rules=False,
)
V2 = replace(V1, identifier="2", state_resolution=StateResolution.V2)
V3 = replace(V2, identifier="3", event_id_format=EventIdFormat.REFERENCE_HASH, redactions_in_auth_rules=False)
V4 = replace(V3, identifier="4", event_id_format=EventIdFormat.URL_SAFE_REFERENCE_HASH)
V5 = replace(V4, identifier="5", enforce_key_validity=True)
V6 = replace(
    V5,
    identifier="6",
    strict_canonical_json=True,
    special_case_aliases_auth=False,
    limit_notifications_power_levels=True,
    redaction_keeps_aliases=False,
)
V7 = replace(V6, identifier="7", knock_join_rule=True)
V8 = replace(V7, identifier="8", restricted_join_rule=True, redaction_keeps_join_rules_allow=True)
V9 = replace(V8, identifier="9", redaction_keeps_join_authorised_via_users_server=True)
V10 = replace(V9, identifier="10", knock_restricted_join_rule=True, integer_only_power_levels=True)
V11 = replace(
    V10,
    identifier="11",
    strict_event_byte_limits=True,
    create_event_has_creator=False,
    redacts_in_content=True,
    updated_redaction_rules=True,
)
V12 = replace(
    V11,
    identifier="12",
    room_id_format=RoomIdFormat.CREATE_EVENT_HASH,
    state_resolution=StateResolution.V2_1,
    room_creators_have_infinite_power=True,
    create_event_in_auth_events=False,
)

KNOWN_ROOM_VERSIONS: MappingProxyType[str, RoomVersion] = MappingProxyType(
    {version.identifier: version for version in (V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12)}
)
# Spec: Room Versions, "Complete list": servers SHOULD use room version 12 when creating new rooms.
DEFAULT_ROOM_VERSION = "12"

# Spec: Room Versions, "Room version grammar".
_ROOM_VERSION_GRAMMAR = re.compile(r"[a-z0-9.\-]{1,32}")


def is_valid_room_version_identifier(identifier: str) -> bool:
    """Whether ``identifier`` follows the room version grammar (1-32 of ``a-z``, ``0-9``, ``.``, ``-``)."""
    return bool(_ROOM_VERSION_GRAMMAR.fullmatch(identifier))


def room_version_capability(default: str = DEFAULT_ROOM_VERSION) -> dict[str, Any]:
    """The ``m.room_versions`` capability (spec: Client-Server API, "m.room_versions capability")."""
    return {
        "default": default,
        "available": {key: "stable" if version.stable else "unstable" for key, version in KNOWN_ROOM_VERSIONS.items()},
    }
