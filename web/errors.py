"""The single place errors become responses: ``{"errcode", "error"}`` with the spec's status, never a traceback.

MatrixError subclasses render as themselves; Werkzeug's HTTP errors map to their Matrix equivalents (an
unknown endpoint or method is ``M_UNRECOGNIZED``); database, broker and Redis outages are 503s with
``Retry-After`` a client may retry, counted in ``ganglion_http_unavailable_total``; anything else is a bug, logged
with its traceback and answered with a bare 500 ``M_UNKNOWN``.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolExhausted
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from protocol.errors import LimitExceeded, MatrixError, ServerUnavailable
from web.metrics import UNAVAILABLE

logger = logging.getLogger(__name__)


def error_response(errcode: str, message: str, status: int) -> Response:
    response = jsonify({"errcode": errcode, "error": message})
    response.status_code = status
    return response


RETRY_AFTER_SECONDS = 1
"""What a 503 asks a client to wait: outages this short-lived are the ones worth retrying into."""


def _retry_after(response: Response, retry_after_ms: object) -> None:
    milliseconds = int(retry_after_ms) if isinstance(retry_after_ms, int) else RETRY_AFTER_SECONDS * 1000
    response.headers["Retry-After"] = str(max(1, (milliseconds + 999) // 1000))


def _render_matrix_error(error: MatrixError) -> Response:
    response = jsonify(error.to_dict())
    response.status_code = error.http_status
    if isinstance(error, LimitExceeded) and "retry_after_ms" in error.extra:
        _retry_after(response, error.extra["retry_after_ms"])
    if isinstance(error, ServerUnavailable):
        UNAVAILABLE.labels("tasks").inc()
        _retry_after(response, error.extra.get("retry_after_ms"))
    return response


def _render_http_error(error: HTTPException) -> Response:
    if isinstance(error, RequestRedirect):  # a path the spec gives with a trailing slash, asked without: say where
        return error.get_response()
    status = error.code or 500
    if status in (404, 405):
        return error_response("M_UNRECOGNIZED", "Unrecognized request", status)
    if status == 413:
        return error_response("M_TOO_LARGE", "Request body too large", 413)
    if status == 400:
        return error_response("M_UNKNOWN", error.description or "Bad request", 400)
    return error_response("M_UNKNOWN", error.description or "Request failed", status)


def _render_unexpected(error: Exception) -> Response:
    # A database that cannot be reached (restarting, failing over) is an OperationalError before any connection
    # exists to invalidate: the client should retry, not report a bug. So is a pool whose connections stayed busy
    # past its timeout (thousands of long-polls arriving at once on a process with a few connections).
    unreachable = isinstance(error, OperationalError | PoolExhausted) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)
    backend = ("database" if unreachable else "redis" if isinstance(error, (BrokerUnavailable, RedisConnectionError,
                                                                             RedisTimeout)) else None)
    if backend is not None:
        logger.warning("%s unavailable: %s", backend, error)
        UNAVAILABLE.labels(backend).inc()
        response = error_response("M_UNKNOWN", "The server is temporarily unavailable; try again", 503)
        _retry_after(response, None)
        return response
    logger.exception("unhandled error")
    return error_response("M_UNKNOWN", "Internal server error", 500)


def install_error_handlers(app: Flask) -> None:
    app.register_error_handler(MatrixError, _render_matrix_error)
    app.register_error_handler(HTTPException, _render_http_error)
    app.register_error_handler(Exception, _render_unexpected)
