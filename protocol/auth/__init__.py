"""Event authorization: the auth rules of room versions 1-12, power levels and auth events selection.

Pure: callers hand in the events (auth events, state) and, where the spec needs server keys, a signature check.
The names re-exported here are the package's stable interface (state resolution and the events writer use them).
"""

from protocol.auth.errors import AuthError, rule_number
from protocol.auth.membership import SignedByServer, join_rule_of, membership_of
from protocol.auth.power_levels import (
    CREATE_KEY,
    CREATOR_POWER_LEVEL,
    POWER_LEVELS_KEY,
    InvalidPowerLevels,
    PowerLevel,
    PowerLevels,
    PowerLevelsContent,
    parse_power_level,
    parse_power_levels_content,
    power_levels_from_state,
    read_power_levels_content,
    room_creator,
    room_creators,
    user_power_level,
)
from protocol.auth.rules import check_auth, check_auth_against_auth_events
from protocol.auth.selection import auth_types_for_event, auth_types_of, check_auth_events

__all__ = [
    "CREATE_KEY",
    "CREATOR_POWER_LEVEL",
    "POWER_LEVELS_KEY",
    "AuthError",
    "InvalidPowerLevels",
    "PowerLevel",
    "PowerLevels",
    "PowerLevelsContent",
    "SignedByServer",
    "auth_types_for_event",
    "auth_types_of",
    "check_auth",
    "check_auth_against_auth_events",
    "check_auth_events",
    "join_rule_of",
    "membership_of",
    "parse_power_level",
    "parse_power_levels_content",
    "power_levels_from_state",
    "read_power_levels_content",
    "room_creator",
    "room_creators",
    "rule_number",
    "user_power_level",
]
