"""Push rules, written only by the push_rules stream writers, and the push actions the events writer decides."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

# A user's own rules; within a kind, ``position`` 0 is the most important. ``conditions`` (override and underride
# rules) and ``actions`` are JSON lists as the client sent them; ``pattern`` is a content rule's glob.
push_rules = Table(
    "push_rules",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("rule_id", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("conditions", Text, nullable=True),
    Column("pattern", Text, nullable=True),
    Column("actions", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    PrimaryKeyConstraint("user_id", "kind", "rule_id"),
)

# What a user changed of a server-default rule (NULL: as the server defines it).
push_rule_defaults = Table(
    "push_rule_defaults",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("rule_id", Text, nullable=False),
    Column("enabled", Boolean, nullable=True),
    Column("actions", Text, nullable=True),
    PrimaryKeyConstraint("user_id", "kind", "rule_id"),
)

# The push_rules stream: the position of each user's latest change. /sync sends m.push_rules when it lies in
# the token range; the events writer compares it with its cached rulesets, so a cache is never stale.
push_rules_changes = Table(
    "push_rules_changes",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("stream_id", BigInteger, nullable=False),
    Column("instance_name", Text, nullable=False),
)

# What the events writer's push rule evaluation decided, per local recipient and event: only rows that notify or
# highlight. /sync counts a room's unread notifications from them (those above the user's read position), per
# thread (``thread_id``: the m.thread root, or "main"); ``actions`` (JSON) is what a pusher sends on.
event_push_actions = Table(
    "event_push_actions",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("room_id", Text, nullable=False),
    Column("stream_ordering", BigInteger, nullable=False),
    Column("instance_name", Text, nullable=False),
    Column("thread_id", Text, nullable=False),
    Column("notify", Boolean, nullable=False),
    Column("highlight", Boolean, nullable=False),
    Column("actions", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "event_id"),
    Index(None, "user_id", "room_id", "stream_ordering"),
    # GET /notifications pages a user's rows newest first.
    Index(None, "user_id", "stream_ordering"),
)
