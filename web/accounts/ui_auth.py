"""User-interactive authentication (Client-Server API, "User-Interactive Authentication API").

A session is created on the first request and kept in the database, bound to the operation (method + path) it
authorises, so any worker can continue it and it cannot be replayed for another operation. Each request may
complete one stage; when the completed stages cover a whole flow, the operation may go ahead.

A session outlives its operation (until it expires): the transaction that performs the operation marks it spent
and clears its completed stages, so a retried request learns what happened instead of "unknown session". A
registration retried this way answers for the account it created (as Synapse does); any other operation asks
for its stages again (a 401 listing what is ``completed``, nothing yet), so a spent session never authorises
twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from persistence.stores.ui_auth import UiAuthSession
from protocol.errors import Forbidden, MatrixError, Unauthorized
from web.accounts.login_identifiers import resolve_password_login_user
from web.accounts.passwords import PasswordHasher
from web.deps import Deps
from web.requests import Body

DUMMY = "m.login.dummy"
PASSWORD = "m.login.password"
REGISTRATION_TOKEN = "m.login.registration_token"
SPENT = "spent"
"""Session data key: the operation this session authorised has been performed."""


class AuthRequired(MatrixError):
    """The 401 that tells the client which flows exist and which stages it has completed."""

    errcode = "M_FORBIDDEN"
    status = 401

    def __init__(self, flows: list[list[str]], session_id: str, completed: list[str],
                 error: MatrixError | None = None, params: dict[str, Any] | None = None) -> None:
        super().__init__(error.message if error else "Authentication required")
        self.flows, self.session_id, self.completed, self.error = flows, session_id, completed, error
        self.params = params or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "flows": [{"stages": stages} for stages in self.flows],
            "params": self.params,
            "session": self.session_id,
            "completed": self.completed,
        }
        if self.error is not None:
            body["errcode"] = self.error.errcode
            body["error"] = self.error.message
        return body


@dataclass
class Authorised:
    """The outcome of a completed flow: the session (to mark spent once the operation commits) and its data."""

    session_id: str
    data: dict[str, Any] = field(default_factory=dict)


def check_ui_auth(
    deps: Deps,
    body: Body,
    *,
    operation: str,
    flows: list[list[str]],
    user_id: str | None,
) -> Authorised:
    """Advance the UIA session in ``body['auth']``; return when a flow is complete, else raise :class:`AuthRequired`.

    ``user_id`` is the account the stages must prove (None during registration, where there is none yet).
    """
    auth = body.object("auth", required=False)
    session_id = auth.text("session", None) if auth else None
    now = deps.clock.now_ms()
    with deps.database.write() as conn:
        session = deps.stores.ui_auth.get_session(conn, session_id, for_update=True) if session_id else None
        if session_id and session is None:
            raise MatrixError("Unknown session ID", status=400)
        if session is None:
            session = UiAuthSession(secrets.token_urlsafe(24), now, operation, user_id, [], {})
            deps.stores.ui_auth.insert_session(conn, session)
        elif session.operation != operation or session.user_id != user_id:
            raise Forbidden("Requested operation has changed during the UI authentication session.")
        completed, data = list(session.completed), dict(session.data)
        stage_error: MatrixError | None = None
        if auth is not None and auth.has("type"):
            stage = auth.text("type")
            allowed = {stage_name for flow in flows for stage_name in flow}
            try:
                if stage not in allowed:
                    raise MatrixError(f"Authentication stage {stage} is not offered", status=400)
                _complete_stage(deps, conn, auth, stage, user_id, data)
                if stage not in completed:
                    completed.append(stage)
            except AuthStageFailed as failure:
                stage_error = failure.error
            deps.stores.ui_auth.update_session(conn, session.session_id, completed, data)
    if any(all(stage in completed for stage in flow) for flow in flows):
        return Authorised(session.session_id, data)
    raise AuthRequired(flows, session.session_id, completed, stage_error)


class AuthStageFailed(Exception):
    def __init__(self, error: MatrixError) -> None:
        super().__init__(error.message)
        self.error = error


def _complete_stage(deps: Deps, conn: Any, auth: Body, stage: str, user_id: str | None,
                    data: dict[str, Any]) -> None:
    if stage == DUMMY:
        return
    if stage == PASSWORD:
        claimed = resolve_password_login_user(deps, conn, auth)
        password = auth.text("password", max_length=512)
        user = deps.stores.users.get_user(conn, claimed) if claimed else None
        if user is None or not PasswordHasher(deps.config.passwords).verify(password, user.password_hash):
            raise AuthStageFailed(Forbidden("Invalid username or password"))
        if claimed != user_id:
            # Proving to be someone else is no failed attempt to retry: the request is refused (403, as
            # Synapse), so a stolen access token plus the thief's own password cannot act for its owner.
            raise Forbidden("The authenticated user does not match the requester")
        return
    if stage == REGISTRATION_TOKEN:
        token = auth.text("token", max_length=64)
        if data.get("registration_token") == token:
            return
        stored = deps.stores.registration_tokens.get_token(conn, token, for_update=True)
        if stored is None or not stored.is_valid(deps.clock.now_ms()):
            raise AuthStageFailed(Unauthorized("Invalid registration token"))
        deps.stores.registration_tokens.update_pending(conn, token, +1)
        data["registration_token"] = token
        return
    raise MatrixError(f"Unsupported authentication type {stage}", status=400)


def continued_session(deps: Deps, body: Body) -> UiAuthSession | None:
    """The session ``body['auth']`` continues, if it names one that exists (read only: to find what an earlier
    request of the session left there before deciding how to answer this one)."""
    auth = body.object("auth", required=False)
    session_id = auth.text("session", None) if auth else None
    if not session_id:
        return None
    with deps.database.read() as conn:
        return deps.stores.ui_auth.get_session(conn, session_id)


def remember_in_session(deps: Deps, session_id: str, values: dict[str, Any]) -> None:
    """Keep values of a request for the last one (clients need not resend them when they continue)."""
    with deps.database.write() as conn:
        session = deps.stores.ui_auth.get_session(conn, session_id, for_update=True)
        if session is not None:
            deps.stores.ui_auth.update_session(conn, session_id, session.completed, {**session.data, **values})


def finish_ui_auth(deps: Deps, conn: Any, authorised: Authorised, outcome: dict[str, Any] | None = None) -> None:
    """Mark the session spent in the transaction that performs the operation, keeping ``outcome`` for a retry;
    a spent registration token is counted."""
    token = authorised.data.get("registration_token")
    if token:
        deps.stores.registration_tokens.update_completed_from_pending(conn, token)
    deps.stores.ui_auth.update_session(conn, authorised.session_id, [], {SPENT: True, **(outcome or {})})
