"""Creating an account: the same steps whether it comes from /register, a guest or shared-secret registration."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection

from persistence.stores.users import User, UserExists
from protocol.errors import UserInUse
from protocol.identifiers import UserId
from web.accounts.effects import AfterCommit
from web.deps import Deps


def create_account(
    deps: Deps,
    conn: Connection,
    effects: AfterCommit,
    user_id: str,
    *,
    password_hash: str | None,
    is_guest: bool = False,
    admin: bool = False,
    user_type: str | None = None,
    displayname: str | None = None,
) -> None:
    """Insert the user and their profile (display name defaults to the localpart, as in Synapse)."""
    user = User(user_id, password_hash, deps.clock.now_ms(), is_guest, admin, user_type, deactivated=False)
    try:
        deps.stores.users.insert_user(conn, user)
    except UserExists:
        raise UserInUse("User ID already taken.") from None
    deps.stores.profiles.insert_profile(conn, user_id, displayname or UserId.parse(user_id).localpart)
    effects.directory_changed(deps, conn, user_id)


def generate_numeric_localpart() -> str:
    """A localpart for a user who gave none, or a guest: digits only, which chosen usernames may not be."""
    return str(secrets.randbelow(9 * 10**11) + 10**11)
