"""Push rules: the spec's conditions and examples, its predefined rules in order, and how a user's rules merge."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import BadJson, InvalidParam
from protocol.push_conditions import EventView, glob_matches, parse_condition, property_path
from protocol.push_rules import (
    DefaultRuleChange,
    Outcome,
    PushRule,
    check_actions,
    check_conditions,
    check_new_rule_id,
    default_rules,
    effective_ruleset,
    evaluate,
    place_rule,
)

ALICE = "@alice:example.org"
BOB = "@bob:example.org"


@dataclass
class Room:
    """A room as conditions see it: ``member_count``, the sender's power and display names."""

    member_count: int = 10
    sender_level: int = 0
    notification_levels: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def sender_may_notify(self, key: str) -> bool:
        return self.sender_level >= self.notification_levels.get(key, 50)

    def display_name(self, user_id: str) -> str | None:
        return self.names.get(user_id)


def _event(event_type: str = "m.room.message", content: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": event_type, "sender": BOB, "room_id": "!room:example.org", "event_id": "$e",
            "content": {"msgtype": "m.text", "body": "hello"} if content is None else content, **extra}


def _outcome(event: dict[str, Any], room: Room | None = None, rules: list[PushRule] | None = None,
             changes: dict[tuple[str, str], DefaultRuleChange] | None = None) -> Outcome | None:
    return evaluate(effective_ruleset(ALICE, rules or [], changes), EventView(event, room or Room()), ALICE)


def _matches(condition: dict[str, Any], event: dict[str, Any], room: Room | None = None) -> bool:
    return parse_condition(condition).matches(EventView(event, room or Room()), ALICE)


# --- the predefined rules ----------------------------------------------------------------------------------------
def test_the_server_default_rules_are_the_specs_in_its_order() -> None:
    ids = [(rule.kind, rule.rule_id) for rule in default_rules(ALICE)]
    spec_override = [".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me", ".m.rule.member_event",
                     ".m.rule.is_user_mention", ".m.rule.is_room_mention", ".m.rule.tombstone", ".m.rule.reaction",
                     ".m.rule.room.server_acl", ".m.rule.suppress_edits"]
    spec_underride = [".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one",
                      ".m.rule.message", ".m.rule.encrypted"]
    overrides = [rule_id for kind, rule_id in ids if kind == "override"]
    underrides = [rule_id for kind, rule_id in ids if kind == "underride"]
    assert [rule_id for rule_id in overrides if rule_id.startswith(".m.")] == spec_override
    assert [rule_id for rule_id in underrides if rule_id.startswith(".m.")] == spec_underride
    assert {rule_id for _, rule_id in ids if not rule_id.startswith(".m.")} == {
        ".org.matrix.msc3930.rule.poll_response", ".org.matrix.msc3930.rule.poll_start_one_to_one",
        ".org.matrix.msc3930.rule.poll_start", ".org.matrix.msc3930.rule.poll_end_one_to_one",
        ".org.matrix.msc3930.rule.poll_end"}
    assert all(rule.default for rule in default_rules(ALICE))
    legacy = {".m.rule.contains_display_name", ".m.rule.roomnotif", ".m.rule.contains_user_name"}
    assert not legacy & {rule_id for _, rule_id in ids}, "removed from the spec in v1.17"


def test_predefined_rules_read_back_as_the_spec_defines_them() -> None:
    ruleset = effective_ruleset(ALICE, [])
    assert ruleset.find("override", ".m.rule.master").to_client() == {  # type: ignore[union-attr]
        "rule_id": ".m.rule.master", "default": True, "enabled": False, "conditions": [], "actions": []}
    assert ruleset.find("override", ".m.rule.is_user_mention").to_client() == {  # type: ignore[union-attr]
        "rule_id": ".m.rule.is_user_mention", "default": True, "enabled": True,
        "conditions": [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids",
                        "value": ALICE}],
        "actions": ["notify", {"set_tweak": "sound", "value": "default"}, {"set_tweak": "highlight"}]}
    invite = ruleset.find("override", ".m.rule.invite_for_me").to_client()  # type: ignore[union-attr]
    assert invite["conditions"][2] == {"kind": "event_match", "key": "state_key", "pattern": ALICE}
    assert set(ruleset.to_client()) == {"override", "content", "room", "sender", "underride"}


# --- conditions: the spec's examples ------------------------------------------------------------------------------
@pytest.mark.parametrize(("topic", "expected"), [
    ("Lunch plans", True), ("LUNCH", True), (" lunch", False), ("lunc", False), (None, False)])
def test_event_match_globs_the_whole_value_case_insensitively(topic: str | None, expected: bool) -> None:
    event = {"type": "m.room.topic", "state_key": "", "content": {"topic": topic}}
    assert _matches({"kind": "event_match", "key": "content.topic", "pattern": "lunc?*"}, event) is expected


@pytest.mark.parametrize(("body", "expected"), [
    ("An example event.", True), ("exple", True), ("An exciting triple-whammy", True), ("examples", False),
    ("counterexample", False), ("EXAMPLE", True)])
def test_event_match_on_the_body_matches_between_word_boundaries(body: str, expected: bool) -> None:
    event = _event(content={"body": body})
    assert _matches({"kind": "event_match", "key": "content.body", "pattern": "ex*ple"}, event) is expected


def test_event_match_needs_a_string_even_for_a_star() -> None:
    condition = {"kind": "event_match", "key": "content.count", "pattern": "*"}
    assert not _matches(condition, _event(content={"count": 3}))
    assert not _matches(condition, _event(content={}))
    assert not _matches({"kind": "event_match", "key": "state_key", "pattern": ""}, _event())


def test_event_property_is_matches_exact_values_of_the_same_json_type() -> None:
    create = {"type": "m.room.create", "state_key": "", "content": {"m.federate": True, "version": 1}}
    assert _matches({"kind": "event_property_is", "key": "content.m\\.federate", "value": True}, create)
    assert not _matches({"kind": "event_property_is", "key": "content.m\\.federate", "value": "true"}, create)
    assert not _matches({"kind": "event_property_is", "key": "content.m\\.federate", "value": 1}, create)
    assert not _matches({"kind": "event_property_is", "key": "content.version", "value": True}, create)
    assert _matches({"kind": "event_property_is", "key": "content.gone", "value": None},
                    {"content": {"gone": None}})
    assert not _matches({"kind": "event_property_is", "key": "content.gone", "value": None}, {"content": {}})


def test_event_property_contains_matches_whole_array_entries() -> None:
    aliases = {"type": "m.room.canonical_alias", "content": {
        "alias": "#somewhere:localhost", "alt_aliases": ["#somewhere:example.org", "#myroom:example.com"]}}
    condition = {"kind": "event_property_contains", "key": "content.alt_aliases"}
    assert _matches({**condition, "value": "#myroom:example.com"}, aliases)
    assert not _matches({**condition, "value": ":example.com"}, aliases)
    assert not _matches({"kind": "event_property_contains", "key": "content.alias", "value": "#somewhere:localhost"},
                        aliases), "not an array"


def test_property_paths_unescape_dots_and_backslashes_only() -> None:
    assert property_path("content.m\\.relates_to.rel_type") == ("content", "m.relates_to", "rel_type")
    assert property_path("content.m\\\\foo") == ("content", "m\\foo")
    assert property_path("content.m\\xfoo") == ("content", "m\\xfoo")


@pytest.mark.parametrize(("is_", "members", "expected"), [
    ("2", 2, True), ("2", 3, False), ("==2", 2, True), ("<10", 9, True), ("<10", 10, False), (">10", 11, True),
    (">=10", 10, True), ("<=10", 10, True), ("<=10", 11, False), ("=>10", 10, False), ("ten", 10, False)])
def test_room_member_count_compares_with_its_prefix(is_: str, members: int, expected: bool) -> None:
    assert _matches({"kind": "room_member_count", "is": is_}, _event(), Room(member_count=members)) is expected


def test_sender_notification_permission_reads_the_notifications_levels() -> None:
    condition = {"kind": "sender_notification_permission", "key": "room"}
    assert not _matches(condition, _event(), Room(sender_level=49))
    assert _matches(condition, _event(), Room(sender_level=50))
    assert _matches(condition, _event(), Room(sender_level=0, notification_levels={"room": 0}))


def test_contains_display_name_is_literal_and_word_bounded() -> None:
    condition = {"kind": "contains_display_name"}
    room = Room(names={ALICE: "Alice*"})
    assert _matches(condition, _event(content={"body": "hi alice*, lunch?"}), room)
    assert not _matches(condition, _event(content={"body": "hi alicexx"}), room), "the name is no glob"
    assert not _matches(condition, _event(content={"body": "hi alice"}), Room())


def test_equal_conditions_are_one_object_so_an_events_memo_serves_every_user() -> None:
    first = parse_condition({"kind": "event_match", "key": "type", "pattern": "m.room.message"})
    assert first is parse_condition({"pattern": "m.room.message", "key": "type", "kind": "event_match"})
    assert effective_ruleset(ALICE, []).find("underride", ".m.rule.message").matchers == (  # type: ignore[union-attr]
        effective_ruleset(BOB, []).find("underride", ".m.rule.message").matchers)  # type: ignore[union-attr]
    assert parse_condition({"kind": "event_property_is", "key": "k", "value": True}) is not parse_condition(
        {"kind": "event_property_is", "key": "k", "value": 1})


def test_unknown_or_incomplete_conditions_never_match() -> None:
    assert not _matches({"kind": "org.example.future"}, _event())
    assert not _matches({"kind": "event_match", "key": "type"}, _event())


# --- globs: the linear matcher agrees with a plain regex reading of the spec ---------------------------------------
def _reference(pattern: str, value: str, words: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    if not words:
        return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL) is not None

    def boundary(i: int) -> bool:
        word = re.compile("[A-Za-z0-9_]")
        return i in (0, len(value)) or not (word.match(value[i - 1]) and word.match(value[i]))

    return any(re.fullmatch(regex, value[i:j], re.IGNORECASE | re.DOTALL)
               for i in range(len(value) + 1) for j in range(i, len(value) + 1) if boundary(i) and boundary(j))


@given(st.text("ab*? -", max_size=7), st.text("abAB -_\n", max_size=10), st.booleans())
def test_globs_agree_with_the_reference(pattern: str, value: str, words: bool) -> None:
    assert glob_matches(pattern, value, words=words) is _reference(pattern, value, words)


def test_a_hostile_glob_stays_fast() -> None:
    assert not glob_matches("*a*a*a*a*a*a*a*a*a*b", "a" * 60_000, words=True)
    assert not glob_matches("*a*a*a*a*a*a*a*a*a*b", "a" * 60_000)


# --- evaluating the defaults --------------------------------------------------------------------------------------
def test_a_message_notifies_and_a_one_to_one_message_also_sounds() -> None:
    assert _outcome(_event()) == Outcome(True, False, None, ("notify",))
    one_to_one = _outcome(_event(), Room(member_count=2))
    assert one_to_one is not None and (one_to_one.notify, one_to_one.sound) == (True, "default")


def test_encrypted_events_notify_and_sound_in_one_to_one_rooms() -> None:
    encrypted = _event("m.room.encrypted", {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "..."})
    group = _outcome(encrypted, Room(member_count=5))
    direct = _outcome(encrypted, Room(member_count=2))
    assert group is not None and (group.notify, group.sound) == (True, None)
    assert direct is not None and (direct.notify, direct.sound, direct.highlight) == (True, "default", False)


def test_mentions_highlight() -> None:
    mention = _outcome(_event(content={"body": "hey", "m.mentions": {"user_ids": [ALICE]}}))
    assert mention == Outcome(True, True, "default", ("notify", {"set_tweak": "sound", "value": "default"},
                                                       {"set_tweak": "highlight"}))
    other = _outcome(_event(content={"body": "hey", "m.mentions": {"user_ids": [BOB]}}))
    assert other is not None and not other.highlight
    room_mention = _event(content={"body": "all", "m.mentions": {"room": True}})
    assert _outcome(room_mention, Room(sender_level=50)) == Outcome(True, True, None,
                                                                    ("notify", {"set_tweak": "highlight"}))
    weak = _outcome(room_mention, Room(sender_level=0))
    assert weak is not None and not weak.highlight, "the sender may not notify the room: an ordinary message"
    body_only = _outcome(_event(content={"body": "alice: @room"}), Room(sender_level=100))
    assert body_only is not None and not body_only.highlight, "the legacy body rules are gone"


def test_edits_and_notices_and_reactions_are_suppressed_unless_they_mention() -> None:
    edit = {"body": "* fixed", "m.new_content": {"body": "fixed"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}}
    assert _outcome(_event(content=edit)).notify is False  # type: ignore[union-attr]
    mentioning = _outcome(_event(content={**edit, "m.mentions": {"user_ids": [ALICE]}}))
    assert mentioning is not None and mentioning.highlight
    assert _outcome(_event(content={"msgtype": "m.notice", "body": "bot"})).notify is False  # type: ignore[union-attr]
    reaction = _event("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$x", "key": "+1"}})
    assert _outcome(reaction).notify is False  # type: ignore[union-attr]


def test_membership_events_notify_only_invites_for_me() -> None:
    invite = _event("m.room.member", {"membership": "invite"}, state_key=ALICE)
    outcome = _outcome(invite)
    assert outcome is not None and (outcome.notify, outcome.sound) == (True, "default")
    assert _outcome(_event("m.room.member", {"membership": "invite"}, state_key=BOB)).notify is False  # type: ignore[union-attr]
    assert _outcome(_event("m.room.member", {"membership": "join"}, state_key=BOB)).notify is False  # type: ignore[union-attr]


def test_tombstones_calls_and_polls() -> None:
    tombstone = _outcome(_event("m.room.tombstone", {"replacement_room": "!new:x"}, state_key=""))
    assert tombstone is not None and tombstone.highlight
    call = _outcome(_event("m.call.invite", {"call_id": "c"}))
    assert call is not None and call.sound == "ring"
    poll = _outcome(_event("org.matrix.msc3381.poll.start", {}), Room(member_count=2))
    assert poll is not None and poll.sound == "default"
    assert _outcome(_event("org.matrix.msc3381.poll.response", {})).notify is False  # type: ignore[union-attr]
    assert _outcome(_event("m.room.topic", {"topic": "x"}, state_key="")) is None


# --- the user's own rules ------------------------------------------------------------------------------------------
def test_user_rules_come_before_the_defaults_of_their_kind_and_master_before_all() -> None:
    mute_room = PushRule("room", "!room:example.org", ())
    assert _outcome(_event(), rules=[mute_room]).notify is False  # type: ignore[union-attr]
    loud = PushRule("override", "loud", ("notify", {"set_tweak": "sound", "value": "horn"}), conditions=(
        {"kind": "event_match", "key": "content.msgtype", "pattern": "m.notice"},))
    notice = _outcome(_event(content={"msgtype": "m.notice", "body": "bot"}), rules=[loud])
    assert notice is not None and notice.sound == "horn", "a user override beats .m.rule.suppress_notices"
    master = {("override", ".m.rule.master"): DefaultRuleChange(enabled=True)}
    assert _outcome(_event(), rules=[loud], changes=master).notify is False  # type: ignore[union-attr]
    ruleset = effective_ruleset(ALICE, [loud])
    assert [rule["rule_id"] for rule in ruleset.to_client()["override"][:2]] == [".m.rule.master", "loud"]


def test_content_sender_and_underride_rules_take_their_places() -> None:
    cake = PushRule("content", "cake", ("notify", {"set_tweak": "highlight"}), pattern="cake")
    assert _outcome(_event(content={"body": "Cake time!"}), rules=[cake]).highlight  # type: ignore[union-attr]
    assert not _outcome(_event(content={"body": "cupcakes"}), rules=[cake]).highlight  # type: ignore[union-attr]
    quiet_bob = PushRule("sender", BOB, ())
    assert _outcome(_event(content={"body": "cake"}), rules=[cake, quiet_bob]).highlight  # type: ignore[union-attr]
    assert _outcome(_event(), rules=[quiet_bob]).notify is False  # type: ignore[union-attr]
    everything = PushRule("underride", "all", ("notify",), conditions=())
    assert _outcome(_event("m.room.topic", {"topic": "t"}, state_key=""), rules=[everything]).notify  # type: ignore[union-attr]
    assert _outcome(_event(), rules=[quiet_bob, everything]).notify is False  # type: ignore[union-attr]


def test_disabled_and_changed_defaults() -> None:
    quiet = {("underride", ".m.rule.message"): DefaultRuleChange(enabled=False)}
    assert _outcome(_event(), changes=quiet) is None
    louder = {("underride", ".m.rule.message"): DefaultRuleChange(actions=("notify", {"set_tweak": "highlight"}))}
    changed = effective_ruleset(ALICE, [], louder).find("underride", ".m.rule.message")
    assert changed is not None and changed.default and changed.outcome.highlight
    assert _outcome(_event(), changes=louder).highlight  # type: ignore[union-attr]
    historical = PushRule("override", "old", ("dont_notify",), conditions=())
    assert _outcome(_event(), rules=[historical]) == Outcome(False, False, None, ())


# --- what clients may send ----------------------------------------------------------------------------------------
def test_rules_are_placed_before_or_after_user_rules() -> None:
    assert place_rule(["a", "b"], "new", before=None, after=None) == ["new", "a", "b"]
    assert place_rule(["a", "b"], "b", before=None, after=None) == ["a", "b"]
    assert place_rule(["a", "b"], "new", before="b", after="a") == ["a", "new", "b"]
    assert place_rule(["a", "b"], "new", before=None, after="b") == ["a", "b", "new"]
    assert place_rule(["a", "b", "c"], "c", before="a", after=None) == ["c", "a", "b"]
    with pytest.raises(KeyError):
        place_rule(["a"], "new", before=".m.rule.master", after=None)


@pytest.mark.parametrize(("kind", "rule_id"), [
    ("override", ".mine"), ("override", "a/b"), ("content", "a\\b"), ("room", ""),
    ("sender", "not-a-user"), ("override", "x" * 256)])
def test_reserved_and_malformed_rule_ids_are_refused(kind: str, rule_id: str) -> None:
    with pytest.raises(InvalidParam):
        check_new_rule_id(kind, rule_id)


def test_actions_and_conditions_are_checked() -> None:
    assert check_actions(["notify", {"set_tweak": "sound", "value": "x"}, "coalesce"])
    for bad, error in (("notify", BadJson), ([1], BadJson), (["ring"], InvalidParam), ([{"value": 1}], BadJson)):
        with pytest.raises(error):
            check_actions(bad)
    assert check_conditions([{"kind": "org.example.future", "whatever": 1}])
    for conditions, error in (([{"key": "x"}], BadJson), ([{"kind": "event_match", "key": "type"}], BadJson),
                              ([{"kind": "room_member_count", "is": "many"}], InvalidParam),
                              ([{"kind": "event_property_is", "key": "k", "value": [1]}], BadJson), ({}, BadJson)):
        with pytest.raises(error):
            check_conditions(conditions)
