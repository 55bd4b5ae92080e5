"""The push_rules stream writer: a user's own push rules and their changes to the server-default rules.

Sharded by user id. Each change runs under the user's lock (placing a rule renumbers the kind's rules, a
read-modify-write), takes a new stream position recorded as the user's latest change, and rings the doorbell
with the user id after the commit: their ``/sync`` wakes to send the new ``m.push_rules``, and every process
drops its cached ruleset. Repeating a change writes the same rules again, so redelivery is harmless.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from persistence.doorbell import Ring
from persistence.locks import lock_user
from protocol.errors import NotFound, UnknownError
from protocol.push_rules import PushRule, is_default_rule, place_rule
from tasks.api import DELETE_PUSH_RULE, PUT_PUSH_RULE, SET_PUSH_RULE_ACTIONS, SET_PUSH_RULE_ENABLED
from tasks.context import TaskContext
from tasks.registry import TaskSpec

STREAM = "push_rules"


def _record_change(context: TaskContext, conn: Connection, user_id: str) -> int:
    stores = context.stores
    stream_id = stores.stream_ids.allocate(conn, STREAM, writer=context.instance_name)[0]
    stores.push_rules.upsert_change(conn, user_id, stream_id, context.instance_name)
    stores.stream_ids.advance_position(conn, STREAM, context.instance_name, stream_id)
    return stream_id


def _ring(context: TaskContext, user_id: str, stream_id: int) -> dict[str, Any]:
    context.doorbell.ring(Ring(STREAM, context.instance_name, stream_id, (user_id,)))
    return {}


def put_push_rule(context: TaskContext, *, user_id: str, kind: str, rule_id: str, actions: list[Any],
                  conditions: list[dict[str, Any]] | None = None, pattern: str | None = None,
                  before: str | None = None, after: str | None = None) -> dict[str, Any]:
    """Create or replace one of the user's rules (checked by the web tier), placed relative to ``before`` or
    ``after`` (spec: setPushRule); an existing rule keeps its enabled flag."""
    store = context.stores.push_rules
    with context.database.write() as conn:
        lock_user(conn, STREAM, user_id)
        order = store.list_rule_ids(conn, user_id, kind)
        try:
            placed = place_rule(order, rule_id, before=before, after=after)
        except KeyError as missing:
            # The spec's example answer for this case (pushrules.yaml, setPushRule 400).
            raise UnknownError(f"before/after rule not found: {missing.args[0]}") from None
        existing = store.get_rule(conn, user_id, kind, rule_id)
        rule = PushRule(kind, rule_id, tuple(actions), None if conditions is None else tuple(conditions), pattern,
                        enabled=existing.enabled if existing is not None else True)
        store.upsert_rule(conn, user_id, rule, placed.index(rule_id))
        store.update_positions(conn, user_id, kind, placed)
        stream_id = _record_change(context, conn, user_id)
    return _ring(context, user_id, stream_id)


def delete_push_rule(context: TaskContext, *, user_id: str, kind: str, rule_id: str) -> dict[str, Any]:
    with context.database.write() as conn:
        lock_user(conn, STREAM, user_id)
        if not context.stores.push_rules.delete_rule(conn, user_id, kind, rule_id):
            raise NotFound("The push rule was not found.")
        stream_id = _record_change(context, conn, user_id)
    return _ring(context, user_id, stream_id)


def _change(context: TaskContext, user_id: str, kind: str, rule_id: str, *, enabled: bool | None = None,
            actions: list[Any] | None = None) -> dict[str, Any]:
    store = context.stores.push_rules
    with context.database.write() as conn:
        lock_user(conn, STREAM, user_id)
        if is_default_rule(kind, rule_id):
            store.upsert_default_change(conn, user_id, kind, rule_id, enabled=enabled, actions=actions)
        elif not store.update_rule(conn, user_id, kind, rule_id, enabled=enabled, actions=actions):
            raise NotFound("The push rule was not found.")
        stream_id = _record_change(context, conn, user_id)
    return _ring(context, user_id, stream_id)


def set_push_rule_enabled(context: TaskContext, *, user_id: str, kind: str, rule_id: str,
                          enabled: bool) -> dict[str, Any]:
    """Enable or disable a user rule or a server-default one."""
    return _change(context, user_id, kind, rule_id, enabled=enabled)


def set_push_rule_actions(context: TaskContext, *, user_id: str, kind: str, rule_id: str,
                          actions: list[Any]) -> dict[str, Any]:
    """Replace the actions of a user rule, or of a server-default one ("to change the actions of builtin
    rules")."""
    return _change(context, user_id, kind, rule_id, actions=actions)


TASKS = (
    TaskSpec(PUT_PUSH_RULE, family=STREAM, body=put_push_rule, shard_param="user_id", returns_result=True),
    TaskSpec(DELETE_PUSH_RULE, family=STREAM, body=delete_push_rule, shard_param="user_id", returns_result=True),
    TaskSpec(SET_PUSH_RULE_ENABLED, family=STREAM, body=set_push_rule_enabled, shard_param="user_id",
             returns_result=True),
    TaskSpec(SET_PUSH_RULE_ACTIONS, family=STREAM, body=set_push_rule_actions, shard_param="user_id",
             returns_result=True),
)
