"""Read-only federation queries (Server-Server API, "Query": profile) and ``/version``."""

from __future__ import annotations

from typing import Any

from flask import request

from protocol.errors import InvalidParam, MissingParam, NotFound
from protocol.identifiers import UserId
from web.deps import deps
from web.federation.auth import server_authenticated

SERVER_SOFTWARE = {"name": "Ganglion", "version": "0.1.0"}
PROFILE_FIELDS = ("displayname", "avatar_url")


def get_version() -> dict[str, Any]:
    """No authentication: the spec lets anyone ask which software a server runs."""
    return {"server": SERVER_SOFTWARE}


@server_authenticated
def query_profile(*, origin: str) -> dict[str, Any]:
    """A local user's profile, or one field of it, for a remote server."""
    current = deps()
    user_id = request.args.get("user_id")
    if not user_id:
        raise MissingParam("Missing parameter: user_id")
    field = request.args.get("field")
    if field is not None and field not in PROFILE_FIELDS:
        raise InvalidParam(f"field must be one of {', '.join(PROFILE_FIELDS)}")
    try:
        parsed = UserId.parse(user_id)
    except ValueError:
        raise InvalidParam("user_id is not a valid user ID") from None
    if parsed.server_name != current.config.server_name:
        raise InvalidParam("User is not hosted on this homeserver")
    with current.database.read() as conn:
        profile = current.stores.profiles.get_profile(conn, user_id)
    if profile is None:
        raise NotFound("Profile was not found")
    fields = {"displayname": profile.displayname, "avatar_url": profile.avatar_url}
    if field is not None:
        fields = {field: fields[field]}
    return {key: value for key, value in fields.items() if value is not None}
