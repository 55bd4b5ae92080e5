"""Login sessions: a device with an access token (and maybe a refresh token), started and ended together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from persistence.stores.devices import Device
from protocol.identifiers import UserId
from web.accounts.effects import AfterCommit
from web.accounts.tokens import generate_access_token, generate_device_id, generate_refresh_token, hash_token
from web.deps import Deps


@dataclass(frozen=True)
class IssuedSession:
    user_id: str
    device_id: str
    access_token: str
    refresh_token: str | None
    expires_in_ms: int | None
    refresh_token_id: int | None = None

    def to_response(self, server_name: str) -> dict[str, Any]:
        """The fields /login and /register return; ``home_server`` is deprecated but clients still read it."""
        body: dict[str, Any] = {
            "user_id": self.user_id,
            "device_id": self.device_id,
            "access_token": self.access_token,
            "home_server": server_name,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        if self.expires_in_ms is not None:
            body["expires_in_ms"] = self.expires_in_ms
        return body


def start_session(
    deps: Deps,
    conn: Connection,
    effects: AfterCommit,
    user_id: str,
    *,
    device_id: str | None,
    display_name: str | None,
    want_refresh_token: bool,
    ip: str | None,
) -> IssuedSession:
    """Create (or take over) a device and issue its tokens, inside the caller's transaction.

    Reusing a known device id revokes that device's earlier tokens (spec: "Relationship between access tokens
    and devices").
    """
    now = deps.clock.now_ms()
    stores = deps.stores
    if device_id is not None and stores.devices.get_device(conn, user_id, device_id) is not None:
        effects.revoked_tokens.extend(stores.tokens.delete_tokens_for_devices(conn, user_id, [device_id]))
    else:
        device_id = device_id or generate_device_id()
        stores.devices.insert_device(conn, Device(user_id, device_id, display_name, now, now, ip))
        effects.device_changed(deps, conn, user_id, device_id)
    return issue_tokens(deps, conn, user_id, device_id, want_refresh_token=want_refresh_token)


def issue_tokens(
    deps: Deps, conn: Connection, user_id: str, device_id: str, *, want_refresh_token: bool,
    session_expiry_ts: int | None = None,
) -> IssuedSession:
    """A new access token (and refresh token when asked for) bound to an existing device."""
    sessions = deps.config.sessions
    now = deps.clock.now_ms()
    localpart = UserId.parse(user_id).localpart
    refresh_token = refresh_id = None
    if want_refresh_token:
        lifetime = sessions.refreshable_access_token_lifetime_ms
        if session_expiry_ts is None and sessions.session_lifetime_ms is not None:
            session_expiry_ts = now + sessions.session_lifetime_ms
        refresh_token = generate_refresh_token(localpart)
        refresh_expiry = now + sessions.refresh_token_lifetime_ms if sessions.refresh_token_lifetime_ms else None
        if session_expiry_ts is not None:
            refresh_expiry = min(refresh_expiry or session_expiry_ts, session_expiry_ts)
        refresh_id = deps.stores.tokens.insert_refresh_token(
            conn, hash_token(refresh_token), user_id, device_id, refresh_expiry, session_expiry_ts
        )
    else:
        lifetime = sessions.nonrefreshable_access_token_lifetime_ms
    access_token = generate_access_token(localpart)
    valid_until = now + lifetime if lifetime else None
    deps.stores.tokens.insert_access_token(
        conn, hash_token(access_token), user_id, device_id, now, valid_until, refresh_id
    )
    return IssuedSession(user_id, device_id, access_token, refresh_token, lifetime if lifetime else None, refresh_id)


def end_sessions(deps: Deps, conn: Connection, effects: AfterCommit, user_id: str, device_ids: list[str]) -> None:
    """Delete devices with all their tokens, end-to-end keys and record of lazy-loaded members already sent
    (logout, device deletion, deactivation)."""
    stores = deps.stores
    effects.revoked_tokens.extend(stores.tokens.delete_tokens_for_devices(conn, user_id, device_ids))
    deleted = stores.devices.delete_devices(conn, user_id, device_ids)
    stores.e2e_keys.delete_keys_of_devices(conn, user_id, deleted)
    stores.cross_signing.delete_signatures_of_devices(conn, user_id, deleted)
    stores.pushers.delete_pushers_of_devices(conn, user_id, deleted)  # as Synapse: a pusher dies with its token
    for device_id in deleted:
        stores.sent_members.delete_sent_members(conn, user_id, device_id)
    for device_id in deleted:
        effects.device_changed(deps, conn, user_id, device_id)
