"""Hypothesis strategies for JSON values and events, shared by the protocol tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from protocol.canonical_json import MAX_SAFE_INTEGER, MIN_SAFE_INTEGER

# Text without lone surrogates: those cannot be encoded as UTF-8 at all.
json_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
json_scalars = st.none() | st.booleans() | st.integers(MIN_SAFE_INTEGER, MAX_SAFE_INTEGER) | json_text
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4),
    max_leaves=20,
)
json_objects: st.SearchStrategy[dict[str, Any]] = st.dictionaries(json_text, json_values, max_size=6)

EVENT_TYPES = (
    "m.room.create",
    "m.room.member",
    "m.room.join_rules",
    "m.room.power_levels",
    "m.room.history_visibility",
    "m.room.aliases",
    "m.room.redaction",
    "m.room.message",
    "m.room.name",
)
# Keys that appear in content of the event types above, so redaction has something to keep and to strip.
_CONTENT_KEYS = (
    "membership", "join_authorised_via_users_server", "third_party_invite", "creator", "room_version",
    "additional_creators", "join_rule", "allow", "ban", "events", "events_default", "invite", "kick", "redact",
    "state_default", "users", "users_default", "notifications", "history_visibility", "aliases", "redacts", "body",
    "displayname", "name",
)  # fmt: skip
_TOP_LEVEL_KEYS = (
    "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth", "prev_events",
    "prev_state", "auth_events", "origin", "origin_server_ts", "membership", "unsigned", "redacts", "age_ts", "extra",
)  # fmt: skip


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """Event-like objects: a known type, content drawn from the keys redaction cares about, odd extra keys."""
    content = draw(
        st.dictionaries(
            st.sampled_from(_CONTENT_KEYS) | json_text,
            json_values | st.fixed_dictionaries({"signed": json_values, "display_name": json_text}),
            max_size=8,
        )
    )
    event = draw(st.dictionaries(st.sampled_from(_TOP_LEVEL_KEYS), json_values, max_size=10))
    event["type"] = draw(st.sampled_from(EVENT_TYPES))
    event["content"] = content
    return event
