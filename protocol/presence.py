"""Presence (pure; Client-Server API, "Presence"): a user's state, how syncs and requests change it, when it
times out, and what clients are told.

The timings are Synapse's (``presence.last_active_granularity``, ``sync_online_timeout``, ``idle_timeout``):
an online user idle for 5 minutes becomes ``unavailable``, and a user whose syncs stopped 30 seconds ago
becomes ``offline``. A sync marks its user online (or ``unavailable`` with ``set_presence=unavailable``; with
``offline`` it leaves presence alone), and counts as activity, as in Synapse.

Syncs are not written one by one. A sync is recorded only when it changes the state or when what is recorded of
the user's activity or syncing is stale by more than the granularity (one minute). So the record says "this
user's syncs are known to be held open until ``syncing_until_ts``", and unrecorded syncs after it end at most one
granularity later. The offline timeout counts from there: 30 seconds after the latest moment the user may still
have been syncing, which is up to a minute later than Synapse (whose writer sees every sync in memory) would
notice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

ONLINE = "online"
UNAVAILABLE = "unavailable"
OFFLINE = "offline"
STATES = (ONLINE, UNAVAILABLE, OFFLINE)
PRESENCE_TYPE = "m.presence"


@dataclass(frozen=True)
class PresenceTimers:
    """Synapse's defaults, in milliseconds (synapse/config/server.py)."""

    last_active_granularity_ms: int = 60_000
    sync_online_timeout_ms: int = 30_000
    idle_timeout_ms: int = 5 * 60_000


@dataclass(frozen=True)
class UserPresence:
    user_id: str
    state: str = OFFLINE
    status_msg: str | None = None
    last_active_ts: int = 0
    """When the user was last seen doing something (0: never)."""
    syncing_until_ts: int = 0
    """Until when the user's latest recorded sync was held open (0: never synced)."""


def sync_target(set_presence: str | None) -> str | None:
    """The state a sync with this ``set_presence`` puts its user in; None: it leaves presence alone."""
    if set_presence == OFFLINE:
        return None
    return set_presence or ONLINE


def sync_needs_writing(current: UserPresence, target: str, now_ms: int, wait_ms: int,
                       timers: PresenceTimers) -> bool:
    """Whether a sync that may wait ``wait_ms`` must be recorded: it changes the state, or the record of the
    user's activity (when going online) or syncing would otherwise fall more than the granularity behind."""
    granularity = timers.last_active_granularity_ms
    if current.state != target:
        return True
    if target == ONLINE and now_ms - current.last_active_ts > granularity:
        return True
    return now_ms + wait_ms - current.syncing_until_ts > granularity


def after_sync(current: UserPresence, target: str, now_ms: int, wait_ms: int) -> UserPresence:
    """The user is syncing, held open for up to ``wait_ms``; the status message stays (Synapse's rule)."""
    return replace(current, state=target, last_active_ts=now_ms if target == ONLINE else current.last_active_ts,
                   syncing_until_ts=max(current.syncing_until_ts, now_ms + wait_ms))


def after_set(current: UserPresence, state: str, status_msg: str | None, now_ms: int) -> UserPresence:
    """``PUT /presence/{userId}/status``: the state and message as given (no message clears it); going online is
    activity."""
    return replace(current, state=state, status_msg=status_msg,
                   last_active_ts=now_ms if state == ONLINE else current.last_active_ts)


@dataclass(frozen=True)
class Cutoffs:
    """The moments before which each timeout has run out, as of one clock reading."""

    idle_before: int
    """An online user last active before this is idle."""
    synced_before: int
    active_before: int
    """A user whose syncing ended before ``synced_before`` and who was last active before ``active_before`` has
    gone offline."""

    @staticmethod
    def at(now_ms: int, timers: PresenceTimers) -> Cutoffs:
        offline = now_ms - timers.sync_online_timeout_ms
        return Cutoffs(idle_before=now_ms - timers.idle_timeout_ms,
                       synced_before=offline - timers.last_active_granularity_ms, active_before=offline)


def timed_out(current: UserPresence, cutoffs: Cutoffs) -> UserPresence:
    """The user's presence once the timeouts that ran out by ``cutoffs`` have taken effect (as Synapse's
    handle_timeout: offline has none; no sync nor activity for a while is offline; online and idle is
    unavailable)."""
    if current.state == OFFLINE:
        return current
    if current.syncing_until_ts < cutoffs.synced_before and current.last_active_ts < cutoffs.active_before:
        return replace(current, state=OFFLINE)
    if current.state == ONLINE and current.last_active_ts < cutoffs.idle_before:
        return replace(current, state=UNAVAILABLE)
    return current


def clients_hear(old: UserPresence, new: UserPresence) -> bool:
    """Whether a change is sent to the users who see this one's presence: a new state or status message. Newer
    activity alone is not (an online user counts as currently active, so last-active bumps are not news)."""
    return (old.state, old.status_msg) != (new.state, new.status_msg)


def presence_content(presence: UserPresence, now_ms: int, timers: PresenceTimers = PresenceTimers()) -> dict[str, Any]:
    """``m.presence`` content (and the ``GET /presence/{userId}/status`` body) as of ``now_ms``:
    ``last_active_ago`` whenever the user was ever active, and for an online user ``currently_active``, true while
    their last activity is within the granularity (a minute), as Synapse reports it."""
    content: dict[str, Any] = {"presence": presence.state}
    if presence.last_active_ts:
        content["last_active_ago"] = max(0, now_ms - presence.last_active_ts)
    if presence.status_msg:
        content["status_msg"] = presence.status_msg
    if presence.state == ONLINE:
        content["currently_active"] = now_ms - presence.last_active_ts <= timers.last_active_granularity_ms
    return content
