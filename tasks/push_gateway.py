"""The Push Gateway API's client side: ``POST {data.url}`` (``/_matrix/push/v1/notify``) with one notification.

Outbound HTTP to a URL a client chose, so redirects are never followed (a gateway that answers 3xx has failed,
and cannot bounce us to an address of its choosing), every request is bounded by a timeout, and the gateway's
name is resolved here and checked against ``ip_range_blacklist``/``ip_range_whitelist`` (as Synapse checks its
outbound requests): the connection goes to a checked address, never to the name again, so DNS cannot answer
differently in between (the ``Host`` header and TLS server name stay the gateway's name).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from config.federation import FederationConfig
from federation_client.addresses import allowed_addresses
from federation_client.errors import DestinationNotAllowed, Unreachable

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class GatewayAnswer:
    delivered: bool
    """The gateway took the notification (a 2xx answer); otherwise it is retried later."""
    rejected: tuple[str, ...] = ()
    """Pushkeys the gateway says are no longer valid (spec: ``rejected``): their pushers are removed."""


def _pinned(url: str, ranges: FederationConfig) -> tuple[str, str, str]:
    """``url`` aimed at an allowed address of its host, with the ``Host`` header and TLS name to send."""
    parts = httpx.URL(url)
    if parts.scheme not in ("http", "https") or not parts.host:
        raise DestinationNotAllowed(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = allowed_addresses(parts.host, port, ranges)[0]
    host_header = parts.host if parts.port is None else f"{parts.host}:{parts.port}"
    return str(parts.copy_with(host=address)), host_header, parts.host


def notify(url: str, notification: dict[str, Any], *, verify_tls: bool = True,
           ranges: FederationConfig | None = None) -> GatewayAnswer:
    try:
        target, host_header, server_name = _pinned(url, ranges or FederationConfig())
    except (DestinationNotAllowed, Unreachable) as error:
        logger.warning("push gateway %s refused: %s", url, error)
        return GatewayAnswer(False)
    try:
        with httpx.Client(follow_redirects=False, timeout=TIMEOUT_SECONDS, trust_env=False,
                          verify=verify_tls) as client:
            response = client.post(target, json={"notification": notification}, headers={"Host": host_header},
                                   extensions={"sni_hostname": server_name})
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
