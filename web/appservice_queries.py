"""Asking application services about users and aliases nobody has yet (Application Service API, "Querying").

When a client names a local user or room alias that does not exist and an appservice's namespace covers it, the
appservice is asked (``GET /_matrix/app/v1/users/{userId}`` or ``/rooms/{roomAlias}``); it may create the user or
alias before answering 200, and the caller then reads the database again. Exclusive owners are asked first.
"""

from __future__ import annotations

from appservice_client.client import query_alias, query_user
from protocol.appservices import ALIASES, USERS, AppService, AppServices
from protocol.identifiers import UserId
from web.deps import Deps


def _candidates(appservices: AppServices, kind: str, value: str) -> list[AppService]:
    owner = appservices.exclusive_owner(kind, value)
    if owner is not None:
        return [owner] if owner.url is not None else []
    found = appservices.interested_in_user(value) if kind == USERS else appservices.interested_in_alias(value)
    return [service for service in found if service.url is not None]


def user_exists_or_ask(deps: Deps, user_id: str) -> bool:
    """Whether the local ``user_id`` exists, once the appservices whose namespace covers it have been asked."""
    try:
        if UserId.parse(user_id).server_name != deps.config.server_name:
            return False
    except ValueError:
        return False
    with deps.database.read() as conn:
        if deps.stores.users.get_user(conn, user_id) is not None:
            return True
    for service in _candidates(deps.config.appservices, USERS, user_id):
        if query_user(service, user_id, verify_tls=not deps.config.insecure_outbound_tls):
            with deps.database.read() as conn:
                if deps.stores.users.get_user(conn, user_id) is not None:
                    return True
    return False


def ask_for_alias(deps: Deps, alias: str) -> str | None:
    """The room id of an unknown local ``alias`` once the appservices whose namespace covers it were asked."""
    for service in _candidates(deps.config.appservices, ALIASES, alias):
        if query_alias(service, alias, verify_tls=not deps.config.insecure_outbound_tls):
            with deps.database.read() as conn:
                entry = deps.stores.aliases.get_alias(conn, alias)
            if entry is not None:
                return entry.room_id
    return None
