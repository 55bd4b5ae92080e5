"""A small web server on 127.0.0.1 for URL preview tests: pages with Open Graph data, images, redirects."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from tests.web.media import image_bytes

OG_PAGE = """<html prefix="og: http://ogp.me/ns#"><head><title>The Rock (1996)</title>
<meta property="og:title" content="The Rock" /><meta property="og:type" content="video.movie" />
<meta property="og:url" content="http://www.imdb.com/title/tt0117500/" /><meta property="og:image" content="rock.png" />
</head><body></body></html>"""
TITLE_PAGE = """<html><head><title>  Just a
  title </title><meta name="description" content="A page without Open Graph"></head></html>"""
ROCK_PNG = image_bytes(279, 129)


class PageServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.paths: list[str] = []

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@contextmanager
def page_server() -> Iterator[PageServer]:
    routes: dict[str, tuple[int, str, bytes]] = {
        "/page.html": (200, "text/html; charset=utf-8", OG_PAGE.encode()),
        "/rock.png": (200, "image/png", ROCK_PNG),
        "/title.html": (200, "text/html", TITLE_PAGE.encode()),
        "/notes.txt": (200, "text/plain", b"plain text"),
        "/missing": (404, "text/plain", b"no"),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.paths.append(self.path)
            if self.path.startswith("/redirect-to/"):
                self.send_response(302)
                self.send_header("Location", unquote(self.path.removeprefix("/redirect-to/")))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, content_type, body = routes.get(self.path, (404, "text/plain", b"no"))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server = PageServer(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
