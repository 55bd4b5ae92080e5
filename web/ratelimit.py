"""Applying the ``rc_*`` limits: one call per check, answering 429 ``M_LIMIT_EXCEEDED`` with ``retry_after_ms``."""

from __future__ import annotations

from flask import g

from protocol.errors import LimitExceeded
from web.deps import Deps


def check_rate_limit(deps: Deps, limit_name: str, key: str) -> None:
    """Spend one action from ``limit_name``'s bucket for ``key`` (an IP address or a user id)."""
    if _exempt_appservice(deps):
        return
    limit = deps.config.ratelimits[limit_name]
    retry_after = deps.buckets.take(f"{limit_name}:{key}", limit.per_second, limit.burst_count,
                                    deps.clock.now_ms())
    if retry_after is not None:
        raise LimitExceeded("Too Many Requests", retry_after_ms=retry_after)


def _exempt_appservice(deps: Deps) -> bool:
    """Requests of an application service registered with ``rate_limited: false`` are never limited."""
    requester = g.get("requester")
    appservice_id = getattr(requester, "appservice_id", None)
    if appservice_id is None:
        return False
    service = deps.config.appservices.by_id(appservice_id)
    return service is not None and not service.rate_limited
