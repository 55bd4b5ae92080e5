"""``required_state`` matching (MSC4186): wildcards, ``$ME``, ``$LAZY``, and what a widened request adds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocol.sliding_sync.required_state import RequiredState

ME = "@me:x"
STATE = {("m.room.name", ""): "$name", ("m.room.topic", ""): "$topic", ("m.room.member", ME): "$me",
         ("m.room.member", "@a:x"): "$a", ("m.room.member", "@b:x"): "$b", ("m.space.child", "!c:x"): "$child"}


def _select(*pairs: tuple[str, str], lazy: tuple[str, ...] = ()) -> set[str]:
    return set(RequiredState.of(pairs).select(STATE, ME, lazy).values())


def test_exact_pairs_and_type_wildcards() -> None:
    assert _select(("m.room.name", "")) == {"$name"}
    assert _select(("m.room.member", "*")) == {"$me", "$a", "$b"}
    assert _select(("*", "")) == {"$name", "$topic"}
    assert _select(("*", "*")) == set(STATE.values())
    assert _select(("m.room.name", "other")) == set()


def test_me_is_the_requesting_user() -> None:
    assert _select(("m.room.member", "$ME")) == {"$me"}


def test_lazy_members_are_only_the_given_senders() -> None:
    assert _select(("m.room.member", "$LAZY")) == set()
    assert _select(("m.room.member", "$LAZY"), lazy=("@a:x", "@nobody:x")) == {"$a"}
    assert _select(("m.room.name", ""), lazy=("@a:x",)) == {"$name"}, "senders count only with $LAZY"


def test_added_since_names_only_the_new_pairs() -> None:
    before = RequiredState.of([("m.room.name", "")])
    after = RequiredState.of([("m.room.name", ""), ("m.room.topic", "")])
    assert after.added_since(before).pairs == {("m.room.topic", "")}
    assert before.added_since(after).pairs == frozenset()


PAIRS = st.lists(st.tuples(st.sampled_from(["m.room.name", "m.room.member", "*", "m.space.child"]),
                           st.sampled_from(["", "*", "$ME", "@a:x", "!c:x"])), max_size=5)


@given(PAIRS, PAIRS)
def test_a_union_selects_what_either_selects(first: list[tuple[str, str]], second: list[tuple[str, str]]) -> None:
    left, right = RequiredState.of(first), RequiredState.of(second)
    union = left.union(right).select(STATE, ME)
    assert union == {**left.select(STATE, ME), **right.select(STATE, ME)}
