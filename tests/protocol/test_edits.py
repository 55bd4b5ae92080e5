"""Which edit applies (spec: "Validity of replacement events", "Server-side aggregation of m.replace")."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from protocol.edits import applicable_replacement, is_valid_replacement
from protocol.events.model import Event
from protocol.room_versions import KNOWN_ROOM_VERSIONS

V11 = KNOWN_ROOM_VERSIONS["11"]
ALICE, BOB = "@alice:x", "@bob:x"


def event(event_id: str, content: dict[str, Any], *, sender: str = ALICE, event_type: str = "m.room.message",
          ts: int = 1, state_key: str | None = None) -> Event:
    pdu: dict[str, Any] = {"type": event_type, "sender": sender, "content": content, "origin_server_ts": ts}
    if state_key is not None:
        pdu["state_key"] = state_key
    return Event(event_id, V11, pdu)


ORIGINAL = event("$original", {"msgtype": "m.text", "body": "hello"})


def edit(event_id: str, *, ts: int = 2, target: str = "$original", **overrides: Any) -> Event:
    content = {"msgtype": "m.text", "body": "* hi", "m.new_content": {"msgtype": "m.text", "body": "hi"},
               "m.relates_to": {"rel_type": "m.replace", "event_id": target}}
    content.update(overrides.pop("content", {}))
    return event(event_id, content, ts=ts, **overrides)


def test_a_replacement_must_keep_sender_and_type_and_carry_new_content() -> None:
    assert is_valid_replacement(ORIGINAL, edit("$ok"))
    assert not is_valid_replacement(ORIGINAL, edit("$other-sender", sender=BOB))
    assert not is_valid_replacement(ORIGINAL, edit("$other-type", event_type="m.sticker"))
    assert not is_valid_replacement(ORIGINAL, edit("$no-new-content", content={"m.new_content": None}))
    assert not is_valid_replacement(ORIGINAL, edit("$state", state_key=""))
    assert not is_valid_replacement(ORIGINAL, edit("$elsewhere", target="$another"))


def test_state_events_and_edits_cannot_be_edited() -> None:
    state = event("$topic", {"topic": "t"}, event_type="m.room.topic", state_key="")
    assert not is_valid_replacement(state, edit("$edit", target="$topic", event_type="m.room.topic"))
    an_edit = edit("$first")
    assert not is_valid_replacement(an_edit, edit("$second", target="$first"))


def test_encrypted_replacements_are_taken_on_trust_for_their_hidden_new_content() -> None:
    original = event("$original", {"ciphertext": "..."}, event_type="m.room.encrypted")
    encrypted = event("$edit", {"ciphertext": "...", "m.relates_to": {"rel_type": "m.replace",
                                                                     "event_id": "$original"}},
                      event_type="m.room.encrypted")
    assert applicable_replacement(original, [encrypted]) == encrypted


def test_the_most_recent_valid_edit_applies_ties_to_the_largest_event_id() -> None:
    early, late, tie = edit("$b", ts=5), edit("$a", ts=9), edit("$c", ts=9)
    invalid_latest = edit("$z", ts=99, sender=BOB)
    assert applicable_replacement(ORIGINAL, [late, early, invalid_latest]) == late
    assert applicable_replacement(ORIGINAL, [early, late, tie]) == tie
    assert applicable_replacement(ORIGINAL, [invalid_latest]) is None


@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from("abcdef")), min_size=1, unique_by=lambda p: p[1]))
def test_the_choice_does_not_depend_on_the_order_edits_arrive(pairs: list[tuple[int, str]]) -> None:
    edits = [edit(f"${name}", ts=ts) for ts, name in pairs]
    assert applicable_replacement(ORIGINAL, edits) == applicable_replacement(ORIGINAL, list(reversed(edits)))
