"""Requests to one application service at its registered ``url``.

The url is the server admin's, not a user's, so it may be a private address (bridges usually are); redirects are
still never followed and every request has a timeout. Certificates are verified unless the server runs with
``use_insecure_ssl_client_just_for_testing_do_not_use`` (``verify_tls=False``: SyTest's appservice has a
certificate of its own making). Authentication is the spec's ``Authorization: Bearer
<hs_token>``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from protocol.appservices import AppService

logger = logging.getLogger(__name__)

TRANSACTION_TIMEOUT_SECONDS = 30.0
QUERY_TIMEOUT_SECONDS = 10.0


class AppServiceUnreachable(Exception):
    """The appservice could not be reached (``timed_out`` when it did not answer in time), or answered with an
    error status (``status``, with the body as ``text`` and, when JSON, ``body``)."""

    def __init__(self, message: str, status: int | None = None, body: Any = None, text: str = "",
                 timed_out: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.text = text
        self.timed_out = timed_out


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


def _request(service: AppService, method: str, path: str, *, timeout: float, verify_tls: bool,
             json_body: Any = None, params: dict[str, str] | None = None) -> Answer:
    if service.url is None:
        raise AppServiceUnreachable(f"application service {service.id} has no url")
    url = service.url + path
    try:
        with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False, verify=verify_tls) as client:
            response = client.request(method, url, json=json_body, params=params,
                                      headers={"Authorization": f"Bearer {service.hs_token}"})
    except httpx.TimeoutException as error:
        raise AppServiceUnreachable(f"{service.id} timed out at {url}: {error}", timed_out=True) from None
    except httpx.HTTPError as error:
        raise AppServiceUnreachable(f"{service.id} unreachable at {url}: {error}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not response.is_success:
        raise AppServiceUnreachable(f"{service.id} answered {response.status_code} to {method} {path}",
                                    response.status_code, body, response.text)
    return Answer(response.status_code, body)


def segment(value: str) -> str:
    """A value placed in a request path, every reserved character escaped."""
    return quote(value, safe="")


def put_transaction(service: AppService, txn_id: int, body: dict[str, Any], *, verify_tls: bool = True) -> bool:
    """``PUT /_matrix/app/v1/transactions/{txnId}``; True when the appservice took it (a 2xx answer)."""
    try:
        _request(service, "PUT", f"/_matrix/app/v1/transactions/{txn_id}", timeout=TRANSACTION_TIMEOUT_SECONDS,
                 verify_tls=verify_tls, json_body=body)
    except AppServiceUnreachable as error:
        logger.info("transaction %s to %s failed: %s", txn_id, service.id, error)
        return False
    return True


def query_user(service: AppService, user_id: str, *, verify_tls: bool = True) -> bool:
    """``GET /_matrix/app/v1/users/{userId}``: whether the appservice says the user exists (it should have
    registered them before answering 200)."""
    try:
        _request(service, "GET", f"/_matrix/app/v1/users/{segment(user_id)}", timeout=QUERY_TIMEOUT_SECONDS,
                 verify_tls=verify_tls)
    except AppServiceUnreachable as error:
        logger.info("user query to %s: %s", service.id, error)
        return False
    return True


def query_alias(service: AppService, alias: str, *, verify_tls: bool = True) -> bool:
    """``GET /_matrix/app/v1/rooms/{roomAlias}``: whether the appservice made the alias (200) or not."""
    try:
        _request(service, "GET", f"/_matrix/app/v1/rooms/{segment(alias)}", timeout=QUERY_TIMEOUT_SECONDS,
                 verify_tls=verify_tls)
    except AppServiceUnreachable as error:
        logger.info("alias query to %s: %s", service.id, error)
        return False
    return True


def ping(service: AppService, transaction_id: str | None, *, verify_tls: bool = True) -> int:
    """``POST /_matrix/app/v1/ping``; answers the round trip in milliseconds, raises AppServiceUnreachable."""
    body = {"transaction_id": transaction_id} if transaction_id is not None else {}
    started = time.monotonic()
    _request(service, "POST", "/_matrix/app/v1/ping", timeout=QUERY_TIMEOUT_SECONDS, verify_tls=verify_tls,
             json_body=body)
    return int((time.monotonic() - started) * 1000)


def thirdparty(service: AppService, path: str, params: dict[str, str] | None = None, *,
               verify_tls: bool = True) -> Any:
    """``GET /_matrix/app/v1/thirdparty/{path}``: the appservice's JSON answer; raises AppServiceUnreachable."""
    return _request(service, "GET", f"/_matrix/app/v1/thirdparty/{path}", timeout=QUERY_TIMEOUT_SECONDS,
                    verify_tls=verify_tls, params=params).body
