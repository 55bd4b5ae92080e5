"""Auth rule failures, named by the rule number each room version's spec page gives them.

The rules are the same few checks in every room version, but their numbers move: rooms/v1 and v2 have the
``m.room.aliases`` rule (4) and the redaction rule (11), rooms/v3 drops the redaction rule, rooms/v6 drops the
aliases rule, rooms/v8 inserts the ``join_authorised_via_users_server`` signature rule (4.2), rooms/v10 adds the
integer checks to the power levels rule and rooms/v12 inserts the room id rule (2). Numbering is derived from the
:class:`RoomVersion` fields, so a message says "rule 4.3" exactly where that version's page says 4.3.
"""

from __future__ import annotations

from protocol.errors import Forbidden
from protocol.room_versions import RoomVersion


class AuthError(Forbidden):
    """An event fails the authorization rules. ``rule`` is the number on the room version's spec page."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"Auth rule {rule} failed: {reason}")
        self.rule = rule
        self.reason = reason


def _sections(room_version: RoomVersion) -> list[str]:
    sections = ["create"]
    if not room_version.create_event_in_auth_events:
        sections.append("room_id")  # rooms/v12 rule 2
    sections += ["auth_events", "federate"]
    if room_version.special_case_aliases_auth:
        sections.append("aliases")  # rooms/v1 rule 4, removed in rooms/v6
    sections += ["member", "sender_joined", "third_party_invite", "required_power_level", "state_key",
                 "power_levels"]  # fmt: skip
    if room_version.redactions_in_auth_rules:
        sections.append("redaction")  # rooms/v1 rule 11, removed in rooms/v3
    return sections


def _subsections(room_version: RoomVersion, section: str) -> list[str]:
    if section == "create":
        subsections = ["prev_events", "room_id", "room_version"]
        if room_version.create_event_has_creator:
            subsections.append("creator")
        if room_version.room_creators_have_infinite_power:
            subsections.append("additional_creators")
        return subsections
    if section == "auth_events":
        # rooms/v12 drops "no m.room.create among the entries" (3.4); the room id check moves up to 3.4.
        subsections = ["duplicates", "selection", "rejected"]
        if room_version.create_event_in_auth_events:
            subsections.append("create")
        return [*subsections, "room_id"]
    if section == "aliases":
        return ["state_key", "domain"]
    if section == "member":
        subsections = ["fields"]
        if room_version.restricted_join_rule:
            subsections.append("authorising_signature")
        subsections += ["join", "invite", "leave", "ban"]
        if room_version.knock_join_rule:
            subsections.append("knock")
        return [*subsections, "unknown"]
    if section == "power_levels":
        subsections = ["integer_fields", "integer_maps"] if room_version.integer_only_power_levels else []
        subsections.append("users")
        if room_version.room_creators_have_infinite_power:
            subsections.append("creators")
        return [*subsections, "no_previous", "fields_changed", "maps_old_values", "maps_new_values",
                "users_old_values", "users_new_values"]  # fmt: skip
    return []


def rule_number(room_version: RoomVersion, section: str, subsection: str | None = None) -> str:
    """The spec's number for a rule in ``room_version``, e.g. ``("member", "join")`` is "5.2" in v1, "4.3" in v8."""
    number = str(_sections(room_version).index(section) + 1)
    if subsection is None:
        return number
    return f"{number}.{_subsections(room_version, section).index(subsection) + 1}"


def reject(room_version: RoomVersion, section: str, subsection: str | None, reason: str) -> AuthError:
    """The error for a failed rule; ``raise reject(...)`` keeps the raise visible at the call site."""
    return AuthError(rule_number(room_version, section, subsection), reason)
