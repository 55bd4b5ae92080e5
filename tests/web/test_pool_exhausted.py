"""A request that waited past the database pool's timeout for a connection (thousands of long-polls arriving at once
on a web process with a few connections) is told to retry (503 with Retry-After), never a 500."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.exc import TimeoutError as PoolExhausted

from web.errors import install_error_handlers


def test_an_exhausted_pool_answers_503_with_retry_after() -> None:
    app = Flask(__name__)
    install_error_handlers(app)

    @app.get("/busy")
    def busy() -> str:
        raise PoolExhausted("QueuePool limit of size 5 overflow 0 reached, connection timed out, timeout 30.00")

    response = app.test_client().get("/busy")
    assert (response.status_code, response.json["errcode"]) == (503, "M_UNKNOWN")  # type: ignore[index]
    assert response.headers.get("Retry-After")
