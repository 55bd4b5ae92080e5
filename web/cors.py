"""CORS as the spec requires (Client-Server API, "Web Browser Clients"): every response, and every OPTIONS
pre-flight answered without authentication, whatever the path."""

from __future__ import annotations

from flask import Flask, Response, request

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization",
}


def install_cors(app: Flask) -> None:
    @app.before_request
    def _answer_preflight() -> Response | None:
        if request.method == "OPTIONS":
            return Response(status=204)
        return None

    @app.after_request
    def _add_headers(response: Response) -> Response:
        response.headers.update(CORS_HEADERS)
        return response
