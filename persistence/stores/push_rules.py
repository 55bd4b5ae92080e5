"""Push rules (Client-Server API, "Push Rules"): each user's own rules, their changes to the server-default
rules, and the push_rules stream (the position of each user's latest change).

Written only by the push_rules stream writers. A user's *version* is the stream position of their latest change
(0 for a user who never changed anything): readers that cache rulesets compare it to know theirs is current.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select, update

from persistence.stream_ranges import between
from persistence.tables import current_state_events, push_rule_defaults, push_rules, push_rules_changes
from persistence.upsert import upsert
from protocol.push_rules import DefaultRuleChange, PushRule
from protocol.sync_tokens import WriterPositions

BATCH = 500
"""User ids per ``IN`` list: well under SQLite's bound-parameter limit, however large the room."""


@dataclass(frozen=True)
class StoredRules:
    """What one user stored: their own rules (each kind most important first) and default-rule changes."""

    rules: list[PushRule] = field(default_factory=list)
    changes: dict[tuple[str, str], DefaultRuleChange] = field(default_factory=dict)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _batches(user_ids: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(user_ids)
    for start in range(0, len(ordered), BATCH):
        yield ordered[start:start + BATCH]


def _rule(row: Any) -> PushRule:
    conditions = json.loads(row.conditions) if row.conditions is not None else None
    return PushRule(row.kind, row.rule_id, tuple(json.loads(row.actions)),
                    tuple(conditions) if conditions is not None else None, row.pattern, default=False,
                    enabled=bool(row.enabled))


class PushRulesStore:
    # --- versions ---------------------------------------------------------------------------------------------
    def get_version(self, conn: Connection, user_id: str) -> int:
        found = conn.execute(select(push_rules_changes.c.stream_id)
                             .where(push_rules_changes.c.user_id == user_id)).scalar_one_or_none()
        return int(found or 0)

    def list_versions(self, conn: Connection, user_ids: Collection[str]) -> dict[str, int]:
        """user id -> version, 0 for those who never changed their rules."""
        found = dict.fromkeys(user_ids, 0)
        for batch in _batches(user_ids):
            rows = conn.execute(select(push_rules_changes.c.user_id, push_rules_changes.c.stream_id)
                                .where(push_rules_changes.c.user_id.in_(batch)))
            found.update({row.user_id: int(row.stream_id) for row in rows})
        return found

    def list_joined_member_versions(self, conn: Connection, room_id: str) -> dict[str, int]:
        """Every joined member of the room with their version, in one query (what the events writer needs
        per event: who to evaluate, the member count, and which cached rulesets are current)."""
        rows = conn.execute(
            select(current_state_events.c.state_key, push_rules_changes.c.stream_id)
            .select_from(current_state_events)
            .outerjoin(push_rules_changes, push_rules_changes.c.user_id == current_state_events.c.state_key)
            .where(current_state_events.c.room_id == room_id, current_state_events.c.type == "m.room.member",
                   current_state_events.c.membership == "join"))
        return {row.state_key: int(row.stream_id or 0) for row in rows}

    def has_changed(self, conn: Connection, user_id: str, since: WriterPositions | None,
                    until: WriterPositions) -> bool:
        """Whether the user's latest change lies after ``since`` (any change when None), at or before ``until``."""
        return conn.execute(select(push_rules_changes.c.user_id).where(
            push_rules_changes.c.user_id == user_id,
            between(push_rules_changes.c.instance_name, push_rules_changes.c.stream_id, since, until))
        ).first() is not None

    def upsert_change(self, conn: Connection, user_id: str, stream_id: int, instance_name: str) -> None:
        upsert(conn, push_rules_changes, {"user_id": user_id},
               {"stream_id": stream_id, "instance_name": instance_name})

    # --- reading rules ----------------------------------------------------------------------------------------
    def list_stored_rules(self, conn: Connection, user_ids: Collection[str]) -> dict[str, StoredRules]:
        """What each of ``user_ids`` stored (two queries per batch of users)."""
        found = {user_id: StoredRules() for user_id in user_ids}
        for batch in _batches(user_ids):
            for row in conn.execute(select(push_rules).where(push_rules.c.user_id.in_(batch))
                                    .order_by(push_rules.c.user_id, push_rules.c.kind, push_rules.c.position)):
                found[row.user_id].rules.append(_rule(row))
            for row in conn.execute(select(push_rule_defaults).where(push_rule_defaults.c.user_id.in_(batch))):
                actions = tuple(json.loads(row.actions)) if row.actions is not None else None
                found[row.user_id].changes[(row.kind, row.rule_id)] = DefaultRuleChange(
                    None if row.enabled is None else bool(row.enabled), actions)
        return found

    def list_rule_ids(self, conn: Connection, user_id: str, kind: str) -> list[str]:
        """The user's rule ids of one kind, most important first."""
        rows = conn.execute(select(push_rules.c.rule_id)
                            .where(push_rules.c.user_id == user_id, push_rules.c.kind == kind)
                            .order_by(push_rules.c.position))
        return [row.rule_id for row in rows]

    def get_rule(self, conn: Connection, user_id: str, kind: str, rule_id: str) -> PushRule | None:
        row = conn.execute(select(push_rules).where(
            push_rules.c.user_id == user_id, push_rules.c.kind == kind, push_rules.c.rule_id == rule_id)).first()
        return _rule(row) if row is not None else None

    # --- writing rules ----------------------------------------------------------------------------------------
    def upsert_rule(self, conn: Connection, user_id: str, rule: PushRule, position: int) -> None:
        upsert(conn, push_rules, {"user_id": user_id, "kind": rule.kind, "rule_id": rule.rule_id},
               {"position": position, "pattern": rule.pattern, "actions": _json(list(rule.actions)),
                "conditions": None if rule.conditions is None else _json(list(rule.conditions)),
                "enabled": rule.enabled})

    def update_positions(self, conn: Connection, user_id: str, kind: str, order: Sequence[str]) -> None:
        """Number the kind's rules 0, 1, ... in ``order`` (a user has tens of rules, not thousands)."""
        for position, rule_id in enumerate(order):
            conn.execute(update(push_rules).where(
                push_rules.c.user_id == user_id, push_rules.c.kind == kind, push_rules.c.rule_id == rule_id,
                push_rules.c.position != position).values(position=position))

    def update_rule(self, conn: Connection, user_id: str, kind: str, rule_id: str, *, enabled: bool | None = None,
                    actions: Sequence[Any] | None = None) -> bool:
        """Change a user rule's flag or actions; False when the user has no such rule."""
        values: dict[str, Any] = {}
        if enabled is not None:
            values["enabled"] = enabled
        if actions is not None:
            values["actions"] = _json(list(actions))
        result = conn.execute(update(push_rules).where(
            push_rules.c.user_id == user_id, push_rules.c.kind == kind, push_rules.c.rule_id == rule_id)
            .values(**values))
        return bool(result.rowcount)

    def delete_rule(self, conn: Connection, user_id: str, kind: str, rule_id: str) -> bool:
        result = conn.execute(delete(push_rules).where(
            push_rules.c.user_id == user_id, push_rules.c.kind == kind, push_rules.c.rule_id == rule_id))
        return bool(result.rowcount)

    def upsert_default_change(self, conn: Connection, user_id: str, kind: str, rule_id: str, *,
                              enabled: bool | None = None, actions: Sequence[Any] | None = None) -> None:
        """Record the user's flag or actions for a server-default rule, keeping what they changed before."""
        values: dict[str, Any] = {}
        if enabled is not None:
            values["enabled"] = enabled
        if actions is not None:
            values["actions"] = _json(list(actions))
        upsert(conn, push_rule_defaults, {"user_id": user_id, "kind": kind, "rule_id": rule_id}, values)
