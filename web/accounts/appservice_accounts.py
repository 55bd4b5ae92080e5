"""Accounts of application services (Application Service API, "Server admin style permissions" and
"Using /register"; Client-Server API ``m.login.application_service``).

An appservice registers the users of its namespaces with its ``as_token`` and no user-interactive auth, and may
log in as any of them. Users and aliases in an exclusive namespace belong to that appservice alone: anyone else
gets ``M_EXCLUSIVE``.
"""

from __future__ import annotations

from protocol.appservices import USERS, AppService
from protocol.errors import Exclusive, Forbidden, MissingToken, UnknownToken
from web.auth import extract_access_token
from web.deps import Deps

APPSERVICE_LOGIN = "m.login.application_service"


def requesting_appservice(deps: Deps) -> AppService:
    """The appservice whose ``as_token`` authenticates this request; 401 for anything else."""
    token = extract_access_token()
    if not token:
        raise MissingToken("Missing access token.")
    service = deps.config.appservices.by_as_token(token)
    if service is None:
        raise UnknownToken("Only an application service's as_token may use m.login.application_service")
    return service


def check_user_for_appservice(deps: Deps, service: AppService, user_id: str) -> None:
    """``user_id`` is in ``service``'s user namespaces and no other appservice claims it exclusively."""
    if not service.is_interested_in_user(user_id):
        raise Exclusive("Invalid user localpart for this application service.")
    owner = deps.config.appservices.exclusive_owner(USERS, user_id)
    if owner is not None and owner.id != service.id:
        raise Exclusive("This user ID is reserved by an application service.")


def check_not_exclusive_user(deps: Deps, user_id: str) -> None:
    """A user id an appservice claims exclusively may not be registered by anyone else."""
    if deps.config.appservices.exclusive_owner(USERS, user_id) is not None:
        raise Exclusive("This user ID is reserved by an application service.")


def check_user_login(deps: Deps, service: AppService, user_id: str | None) -> str:
    """The user an appservice logs in as: one of its namespace's registered users."""
    if user_id is None:
        raise Forbidden("Invalid username")
    if not service.is_interested_in_user(user_id):
        raise Forbidden("An application service may only log in as users in its namespaces")
    return user_id
