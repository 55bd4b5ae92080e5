"""The Push Gateway API's client side: ``POST {data.url}`` (``/_matrix/push/v1/notify``) with one notification.

Outbound HTTP to a URL a client chose, so redirects are never followed (a gateway that answers 3xx has failed,
and cannot bounce us to an address of its choosing) and every request is bounded by a timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class GatewayAnswer:
    delivered: bool
    """The gateway took the notification (a 2xx answer); otherwise it is retried later."""
    rejected: tuple[str, ...] = ()
    """Pushkeys the gateway says are no longer valid (spec: ``rejected``): their pushers are removed."""


def notify(url: str, notification: dict[str, Any], *, verify_tls: bool = True) -> GatewayAnswer:
    try:
        with httpx.Client(follow_redirects=False, timeout=TIMEOUT_SECONDS, trust_env=False,
                          verify=verify_tls) as client:
            response = client.post(url, json={"notification": notification})
    except httpx.HTTPError as error:
        logger.info("push gateway %s unreachable: %s", url, error)
        return GatewayAnswer(False)
    if not response.is_success:
        logger.info("push gateway %s answered %s", url, response.status_code)
        return GatewayAnswer(False)
    try:
        body = response.json()
    except ValueError:
        body = {}
    rejected = body.get("rejected") if isinstance(body, dict) else None
    keys = tuple(key for key in rejected if isinstance(key, str)) if isinstance(rejected, list) else ()
    return GatewayAnswer(True, keys)
