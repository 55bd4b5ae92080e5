"""Access-token authentication (Client-Server API, "Using access tokens").

The token may come in the ``Authorization: Bearer`` header or, for older clients, the ``access_token`` query
parameter, not both. Lookups go through the process's :class:`TokenCache`, trusted only while Redis confirms the
token was not revoked since (``persistence/token_revocations.py``); a miss reads the database once and, for the
first use of a refreshed token, revokes the pair it replaced (spec: "Refreshing access tokens").
"""

from __future__ import annotations

from flask import g, request

from protocol.errors import GuestAccessForbidden, MissingToken, UnknownToken
from web.accounts.effects import AfterCommit
from web.accounts.tokens import hash_token
from web.appservice_auth import appservice_requester
from web.deps import Deps
from web.requests import client_ip
from web.token_cache import Requester


def extract_access_token() -> str | None:
    header = request.headers.get("Authorization")
    query = request.args.get("access_token")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MissingToken("Invalid Authorization header.")
        if query is not None:
            raise MissingToken("Mixing Authorization headers and access_token query parameters.")
        return token.strip()
    return query


def authenticate(deps: Deps, *, allow_guest: bool = False) -> Requester:
    """The requester, or the 401 the spec asks for. Guests are refused unless the endpoint allows them."""
    token = extract_access_token()
    if not token:
        raise MissingToken("Missing access token.")
    token_hash = hash_token(token)
    service = deps.config.appservices.by_as_token(token)
    if service is not None:
        g.requester = appservice_requester(deps, service, token_hash)
        return g.requester  # type: ignore[no-any-return]
    now = deps.clock.now_ms()
    requester = deps.token_cache.get(token_hash, now)
    if requester is not None and not deps.revocations.trusts_cached(token_hash):
        requester = None  # revoked by another process, or Redis cannot say: the database decides
    if requester is None:
        requester = _load_requester(deps, token_hash, now)
        deps.token_cache.put(requester, now)
    if requester.valid_until_ts is not None and requester.valid_until_ts < now:
        raise UnknownToken("Access token has expired", soft_logout=True)
    if requester.is_guest and not allow_guest:
        raise GuestAccessForbidden("Guest access not allowed")
    _record_last_seen(deps, requester, now)
    g.requester = requester
    return requester


def _record_last_seen(deps: Deps, requester: Requester, now: int) -> None:
    ip = client_ip()
    if deps.last_seen.due(requester, ip, now):
        with deps.database.write() as conn:
            deps.stores.devices.update_last_seen(conn, requester.user_id, requester.device_id, now, ip,
                                                 request.headers.get("User-Agent"))


def _load_requester(deps: Deps, token_hash: str, now: int) -> Requester:
    stores = deps.stores
    with deps.database.read() as conn:
        token = stores.tokens.get_access_token(conn, token_hash)
        user = stores.users.get_user(conn, token.user_id) if token else None
    if token is None or user is None or user.deactivated:
        raise UnknownToken("Unrecognised access token.")
    if token.refresh_token_id is not None and not token.used:
        effects = AfterCommit()
        with deps.database.write() as conn:
            stores.tokens.update_access_token_used(conn, token.id)
            effects.revoked_tokens.extend(stores.tokens.delete_predecessors(conn, token.refresh_token_id))
        effects.apply(deps)
    return Requester(
        user_id=token.user_id,
        device_id=token.device_id,
        is_guest=user.is_guest,
        token_hash=token_hash,
        valid_until_ts=token.valid_until_ts,
    )
