"""Profiles of local users (Client-Server API, "Profiles"). Changes also refresh the user directory entry and,
through each room's events writer, the user's membership events in the rooms they are joined to."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from persistence.stores.profiles import Profile
from protocol.errors import Forbidden, MissingParam, NotFound
from protocol.identifiers import UserId
from web.accounts.effects import AfterCommit
from web.appservice_queries import user_exists_or_ask
from web.auth import authenticate
from web.deps import Deps, deps
from web.ratelimit import check_rate_limit
from web.remote.profiles import remote_profile
from web.requests import json_body
from web.routing import client_route

# Synapse's limits, so a profile accepted by one server fits the other.
MAX_DISPLAYNAME_LENGTH = 256
MAX_AVATAR_URL_LENGTH = 1000
FIELDS = ("displayname", "avatar_url")


def _load_profile(current: Deps, user_id: str) -> Profile:
    try:
        parsed = UserId.parse(user_id)
    except ValueError:
        raise NotFound("Profile was not found") from None
    if parsed.server_name != current.config.server_name:
        raise NotFound("Profile was not found")
    with current.database.read() as conn:
        profile = current.stores.profiles.get_profile(conn, user_id)
    if profile is None and current.config.appservices and user_exists_or_ask(current, user_id):
        with current.database.read() as conn:
            profile = current.stores.profiles.get_profile(conn, user_id)
    if profile is None:
        raise NotFound("Profile was not found")
    return profile


def membership_profile(current: Deps, user_id: str) -> dict[str, str]:
    """The display name and avatar a user's membership events carry (only the fields that are set)."""
    with current.database.read() as conn:
        profile = current.stores.profiles.get_profile(conn, user_id)
    fields = {"displayname": profile.displayname, "avatar_url": profile.avatar_url} if profile else {}
    return {key: value for key, value in fields.items() if value}


def _remote_profile(current: Deps, user_id: str) -> dict[str, Any] | None:
    """The profile of a user of another server, asked over federation; None for a local (or invalid) user id."""
    try:
        server = UserId.parse(user_id).server_name
    except ValueError:
        return None
    if server == current.config.server_name:
        return None
    return remote_profile(current.federation.client, current.remote_profiles, current.clock, server, user_id)


def get_profile(user_id: str) -> dict[str, Any]:
    current = deps()
    remote = _remote_profile(current, user_id)
    if remote is not None:
        return remote
    profile = _load_profile(current, user_id)
    body = {"displayname": profile.displayname, "avatar_url": profile.avatar_url}
    return {key: value for key, value in body.items() if value is not None}


def get_profile_field(user_id: str, field: str) -> dict[str, Any]:
    """An unset display name or avatar of a known user is ``{}`` with 200, as Synapse answers (and clients and
    SyTest read before anything is set); only an unknown user or field is 404."""
    if field not in FIELDS:
        raise NotFound("Profile field was not found")
    current = deps()
    remote = _remote_profile(current, user_id)
    if remote is not None:
        return {field: remote[field]} if field in remote else {}
    value = getattr(_load_profile(current, user_id), field)
    return {} if value is None else {field: value}


def set_profile_field(user_id: str, field: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    if requester.user_id != user_id:
        raise Forbidden("You may only change your own profile")
    if field not in FIELDS:
        raise NotFound("Profile field was not found")
    check_rate_limit(current, "rc_profile", requester.user_id)
    body = json_body()
    if not body.has(field):
        # The body must name the field it sets; an empty object is not a request to clear it.
        raise MissingParam(f"Missing parameter: {field}")
    limit = MAX_DISPLAYNAME_LENGTH if field == "displayname" else MAX_AVATAR_URL_LENGTH
    value = body.text(field, None, max_length=limit)
    effects = AfterCommit()
    with current.database.write() as conn:
        if field == "displayname":
            current.stores.profiles.update_displayname(conn, user_id, value or None)
        else:
            current.stores.profiles.update_avatar_url(conn, user_id, value or None)
        effects.directory_changed(current, conn, user_id)
        effects.member_profile_changed(current, conn, user_id)
    effects.apply(current)
    return {}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/profile/<user_id>", methods=["GET"])(get_profile)
    client_route(blueprint, "/profile/<user_id>/<field>", methods=["GET"])(get_profile_field)
    client_route(blueprint, "/profile/<user_id>/<field>", methods=["PUT"])(set_profile_field)
