"""Registering one view under every path prefix the spec gave it (``r0`` and ``v3``, or ``v1``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint
from werkzeug.routing import BaseConverter

CLIENT_VERSIONS = ("r0", "v3")


class SegmentConverter(BaseConverter):
    """The default ``<name>`` converter, one path segment, minus NUL and U+FFFD: no identifier may hold a NUL
    (PostgreSQL refuses it), and U+FFFD is what bytes that are not UTF-8 decode to, so such a segment names
    nothing a client could have meant. Such a path matches no route (404)."""

    regex = r"[^/\x00\ufffd]+"
    part_isolating = True  # still exactly one segment, though the regex mentions '/'


class EventIdConverter(BaseConverter):
    """``<event_id:name>``, wherever an event id sits in a path: room version 3's ids are ``$`` and 43 characters
    of standard base64, which may hold ``/`` (sent as ``%2F``, which reaches the router unescaped). Such an id
    is matched whole by its exact shape, and never split, so the segments after it (a transaction id, a relation
    type) stay theirs; any other id is one segment, minus NUL and U+FFFD as :class:`SegmentConverter`."""

    regex = r"\$[A-Za-z0-9+/]{43}(?=/|$)|(?!\$[A-Za-z0-9+/]{43}(?:/|$))[^/\x00\ufffd]+"
    part_isolating = False


def client_route(
    blueprint: Blueprint, path: str, *, methods: Iterable[str], versions: Iterable[str] = CLIENT_VERSIONS
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Route ``/_matrix/client/<version><path>`` for each version to the decorated view."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        for version in versions:
            blueprint.add_url_rule(
                f"/_matrix/client/{version}{path}",
                endpoint=f"{view.__name__}_{version}",
                view_func=view,
                methods=list(methods),
            )
        return view

    return decorate
