"""Which local account a password login names (Client-Server API, "Identifier types").

``m.id.user`` identifiers and the legacy top-level ``user`` field are accepted, as a bare localpart or a full
user id, matched case-insensitively when that is unambiguous (as Synapse does).
"""

from __future__ import annotations

from sqlalchemy import Connection

from protocol.errors import MatrixError, MissingParam
from protocol.identifiers import localpart_of
from web.deps import Deps
from web.requests import Body


def resolve_password_login_user(deps: Deps, conn: Connection, body: Body) -> str | None:
    """The user id of the local account the login names, or None when there is no such account."""
    identifier = body.object("identifier", required=False)
    if identifier is not None:
        kind = identifier.text("type")
        if kind == "m.id.user":
            name = identifier.text("user", max_length=255)
        elif kind in ("m.id.thirdparty", "m.id.phone"):
            raise MatrixError("Third-party identifiers are not supported on this server", status=400)
        else:
            raise MatrixError(f"Unknown login identifier type {kind}", status=400)
    else:
        name = body.text("user", None, max_length=255)
        if name is None:
            if body.has("medium") or body.has("address"):
                raise MatrixError("Third-party identifiers are not supported on this server", status=400)
            raise MissingParam("Missing parameter: identifier")
    server_name = deps.config.server_name
    localpart = localpart_of(name, server_name)
    if not localpart:
        return None
    user_id = f"@{localpart}:{server_name}"
    if deps.stores.users.get_user(conn, user_id) is not None:
        return user_id
    matches = deps.stores.users.list_user_ids_case_insensitive(conn, user_id)
    return matches[0] if len(matches) == 1 else None
