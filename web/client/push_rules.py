"""Push rules (Client-Server API, "Push Rules: API"): a user reads their effective ruleset here and changes it
through their push_rules stream writer; ``/sync`` then sends the new ruleset as ``m.push_rules``.

Only the ``global`` ruleset exists. Kinds and rule ids are checked here, with the spec's errors; whether a rule
exists (and where ``before``/``after`` point) is the writer's to say, under the user's lock.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from protocol.errors import InvalidParam, MissingParam, NotFound, Unrecognized
from protocol.push_rules import (
    PushRule,
    Ruleset,
    check_actions,
    check_conditions,
    check_kind,
    check_new_rule_id,
    check_rule_id,
)
from tasks import api as tasks_api
from web.auth import authenticate
from web.deps import deps
from web.requests import Body, json_body, query_text
from web.routing import client_route

RULE = "/pushrules/global/<kind>/<rule_id>"
NOT_FOUND = "The push rule was not found."


def _ruleset() -> tuple[str, Ruleset]:
    current = deps()
    user_id = authenticate(current).user_id
    with current.database.read() as conn:
        return user_id, current.push_rules.ruleset(conn, user_id)


def _rule(kind: str, rule_id: str) -> PushRule:
    check_kind(kind)
    check_rule_id(rule_id)
    _, ruleset = _ruleset()
    rule = ruleset.find(kind, rule_id)
    if rule is None:
        raise NotFound(NOT_FOUND)
    return rule


def _actions(body: Body) -> list[Any]:
    if not body.has("actions"):
        raise MissingParam("Missing parameter: actions")
    return list(check_actions(body.data["actions"]))


def get_push_rules() -> dict[str, Any]:
    return {"global": _ruleset()[1].to_client()}


def get_push_rules_global() -> dict[str, Any]:
    return _ruleset()[1].to_client()


def get_push_rule(kind: str, rule_id: str) -> dict[str, Any]:
    return _rule(kind, rule_id).to_client()


def set_push_rule(kind: str, rule_id: str) -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    check_new_rule_id(check_kind(kind), rule_id)
    body = json_body()
    actions = _actions(body)
    # Every field is type-checked, though each kind reads only its own (conditions, or a content pattern).
    raw_conditions = body.data.get("conditions")
    conditions = check_conditions(raw_conditions) if raw_conditions is not None else ()
    pattern = body.text("pattern", None)
    if kind == "content" and pattern is None:
        raise MissingParam("Missing parameter: pattern (content rules match a pattern)")
    before, after = query_text("before", max_length=255), query_text("after", max_length=255)
    tasks_api.put_push_rule(
        current.dispatcher, user_id=user_id, kind=kind, rule_id=rule_id, actions=actions,
        conditions=[dict(condition) for condition in conditions] if kind in ("override", "underride") else None,
        pattern=pattern if kind == "content" else None, before=before or None, after=after or None)
    return {}


def delete_push_rule(kind: str, rule_id: str) -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    tasks_api.delete_push_rule(current.dispatcher, user_id=user_id, kind=check_kind(kind),
                               rule_id=check_rule_id(rule_id))
    return {}


def is_push_rule_enabled(kind: str, rule_id: str) -> dict[str, Any]:
    return {"enabled": _rule(kind, rule_id).enabled}


def set_push_rule_enabled(kind: str, rule_id: str) -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    check_kind(kind)
    enabled = json_body().flag("enabled")
    tasks_api.set_push_rule_enabled(current.dispatcher, user_id=user_id, kind=kind, rule_id=check_rule_id(rule_id),
                                    enabled=enabled)
    return {}


def get_push_rule_actions(kind: str, rule_id: str) -> dict[str, Any]:
    return {"actions": _rule(kind, rule_id).to_client()["actions"]}


def set_push_rule_actions(kind: str, rule_id: str) -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    check_kind(kind)
    actions = _actions(json_body())
    tasks_api.set_push_rule_actions(current.dispatcher, user_id=user_id, kind=kind, rule_id=check_rule_id(rule_id),
                                    actions=actions)
    return {}


def get_push_rules_of_kind(kind: str) -> list[dict[str, Any]]:
    """``GET /pushrules/global/{kind}/``: not in the spec, but Synapse serves it and clients (SyTest) read it."""
    ruleset = _ruleset()[1]
    return ruleset.to_client()[check_kind(kind)]


# --- malformed paths: each gets a 400 naming what is wrong, as Synapse answers and SyTest's 61push checks, where
# a router alone would answer 404, 405 or a redirect. Valid paths never reach these: their routes are more specific.
INCOMPLETE = "A push rule is at /pushrules/global/{kind}/{ruleId}; a ruleset is read at /pushrules/global/"


def refuse_push_rules_without_slash() -> Any:
    """``/pushrules`` names nothing (Synapse answers 404, SyTest checks): the rulesets are at ``/pushrules/``.
    Without this route the router would redirect to them."""
    raise Unrecognized("Unrecognized request")


def refuse_push_rules_without_scope() -> Any:
    authenticate(deps())
    raise Unrecognized(INCOMPLETE, status=400)


def refuse_scope_without_kind() -> Any:
    """``/pushrules/global`` (which the router would otherwise redirect), or a write to ``/pushrules/global/``."""
    authenticate(deps())
    raise Unrecognized(INCOMPLETE, status=400)


def refuse_kind_without_rule_id(kind: str) -> Any:
    """``/pushrules/global/{kind}`` (which the router would otherwise redirect), or a write to an empty rule id."""
    authenticate(deps())
    check_kind(kind)
    raise Unrecognized(INCOMPLETE, status=400)


def refuse_malformed_push_rule_path(rest: str) -> Any:
    """Anything else under ``/pushrules/``: an unknown scope, kind or rule attribute."""
    authenticate(deps())  # a bad token is a 401 before any path is judged
    segments = rest.split("/")
    if any("\x00" in segment or "\ufffd" in segment for segment in segments):
        raise Unrecognized("Unrecognized request")  # as the single-segment routes answer such paths
    scope, *path = segments
    if scope != "global":
        raise InvalidParam(f"Unknown push rule scope {scope[:40]!r}; only 'global' exists")
    kind, *path = path or [""]
    check_kind(kind)
    rule_id, *attributes = path or [""]
    if not rule_id:
        raise Unrecognized(INCOMPLETE, status=400)
    if attributes and attributes[0] in ("enabled", "actions") and len(attributes) == 1:
        raise Unrecognized("Unrecognized request", status=405)  # a rule's attribute, with a method it lacks
    raise InvalidParam(f"Unknown push rule attribute {'/'.join(attributes)[:40]!r}; expected enabled or actions")


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/pushrules/", methods=["GET"])(get_push_rules)
    client_route(blueprint, "/pushrules/global/", methods=["GET"])(get_push_rules_global)
    client_route(blueprint, "/pushrules/global/<kind>/", methods=["GET"])(get_push_rules_of_kind)
    client_route(blueprint, RULE, methods=["GET"])(get_push_rule)
    client_route(blueprint, RULE, methods=["PUT"])(set_push_rule)
    client_route(blueprint, RULE, methods=["DELETE"])(delete_push_rule)
    client_route(blueprint, f"{RULE}/enabled", methods=["GET"])(is_push_rule_enabled)
    client_route(blueprint, f"{RULE}/enabled", methods=["PUT"])(set_push_rule_enabled)
    client_route(blueprint, f"{RULE}/actions", methods=["GET"])(get_push_rule_actions)
    client_route(blueprint, f"{RULE}/actions", methods=["PUT"])(set_push_rule_actions)
    # Malformed paths (see refuse_malformed_push_rule_path).
    every = ["GET", "PUT", "DELETE"]
    client_route(blueprint, "/pushrules", methods=every)(refuse_push_rules_without_slash)
    client_route(blueprint, "/pushrules/", methods=["PUT", "DELETE"])(refuse_push_rules_without_scope)
    client_route(blueprint, "/pushrules/global", methods=every)(refuse_scope_without_kind)
    client_route(blueprint, "/pushrules/global/", methods=["PUT", "DELETE"])(refuse_scope_without_kind)
    client_route(blueprint, "/pushrules/global/<kind>", methods=every)(refuse_kind_without_rule_id)
    client_route(blueprint, "/pushrules/global/<kind>/", methods=["PUT", "DELETE"])(refuse_kind_without_rule_id)
    client_route(blueprint, "/pushrules/<path:rest>", methods=every)(refuse_malformed_push_rule_path)
