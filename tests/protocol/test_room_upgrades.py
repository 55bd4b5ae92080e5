"""What a room upgrade carries over (pure): bans the upgrader can re-issue, a space's remaining children, and the
private_chat defaults for preset state the old room lacks."""

from __future__ import annotations

from protocol.room_creation import bans_to_copy, space_children_to_copy, upgrade_events
from protocol.room_versions import KNOWN_ROOM_VERSIONS

BAN = {"membership": "ban", "reason": "spam"}


def test_bans_of_users_at_or_above_the_upgrader_are_left_behind() -> None:
    levels = {"users": {"@up:x": 100, "@peer:x": 100, "@mod:x": 50}, "ban": 50}
    bans = {"@peer:x": BAN, "@mod:x": BAN, "@nobody:x": BAN}
    copied = bans_to_copy(bans, levels, ["@up:x"], KNOWN_ROOM_VERSIONS["10"])
    assert copied == {"@mod:x": BAN, "@nobody:x": BAN}


def test_an_upgrader_below_the_ban_level_copies_no_bans() -> None:
    levels = {"users": {"@up:x": 40}, "ban": 50}
    assert bans_to_copy({"@nobody:x": BAN}, levels, ["@up:x"], KNOWN_ROOM_VERSIONS["10"]) == {}


def test_v12_creators_ban_anyone_but_another_creator() -> None:
    levels = {"users": {"@admin:x": 1000}, "ban": 50}
    bans = {"@admin:x": BAN, "@co:x": BAN}
    assert bans_to_copy(bans, levels, ["@up:x", "@co:x"], KNOWN_ROOM_VERSIONS["12"]) == {"@admin:x": BAN}


def test_only_a_space_takes_its_children_and_only_those_still_in_it() -> None:
    children = {"!b:x": {"via": ["x"]}, "!a:x": {"via": ["x"]}, "!gone:x": {}}
    assert space_children_to_copy({"type": "m.space"}, children) == {"!a:x": {"via": ["x"]}, "!b:x": {"via": ["x"]}}
    assert space_children_to_copy({}, children) == {}


def test_state_the_old_room_lacks_takes_the_private_chat_defaults() -> None:
    levels = {"users": {"@up:x": 100}}
    plan = upgrade_events("@up:x", {}, (levels, None), {"m.room.join_rules": {"join_rule": "public"}})
    state = {template.type: template.content for template in plan if template.state_key == ""}
    assert state["m.room.join_rules"] == {"join_rule": "public"}, "copied state wins over the defaults"
    assert state["m.room.guest_access"] == {"guest_access": "can_join"}, "a public_chat room had no such event"
    assert state["m.room.history_visibility"] == {"history_visibility": "shared"}
