"""Reading a request: the JSON body and query parameters, each checked with the spec's errors.

Views ask for exactly the fields they use with the type they need; anything else in the body is ignored, as
the spec expects of unknown fields. Wrong types are ``M_BAD_JSON``, absent required fields ``M_MISSING_PARAM``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request

from protocol.errors import BadJson, InvalidParam, MissingParam, NotJson
from protocol.identifiers import UserId

_MISSING: Any = object()
_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _holds_lone_surrogate(value: Any) -> bool:
    """Whether a ``\\uD800``-style escape left half a surrogate pair anywhere in ``value`` (keys included)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def json_body(*, optional: bool = False) -> Body:
    """The request body as a JSON object; ``optional`` accepts an empty body as ``{}``."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return Body({})
        raise NotJson("Content not JSON.")
    try:
        # JSON between systems is UTF-8 (RFC 8259 section 8.1): decode strictly rather than let json.loads guess
        # UTF-16 or UTF-32 from the first bytes.
        text = raw.decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise NotJson("Content not JSON.") from None
    # A lone surrogate escape parses but is not Unicode text: it cannot be encoded, hashed or stored.
    if "\\u" in text and _holds_lone_surrogate(value):
        raise NotJson("Content not JSON: lone surrogate in a string.")
    if not isinstance(value, dict):
        raise BadJson("Content must be a JSON object.")
    return Body(value)


class Body:
    """Typed access to a JSON object, with paths in error messages (``auth.identifier.user``)."""

    def __init__(self, data: dict[str, Any], path: str = "") -> None:
        self.data = data
        self._path = path

    def _name(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def _get(self, key: str, types: tuple[type, ...], label: str, default: Any) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING or (value is None and default is not _MISSING):
            if default is _MISSING:
                raise MissingParam(f"Missing parameter: {self._name(key)}")
            return default
        if isinstance(value, bool) and bool not in types:
            raise BadJson(f"'{self._name(key)}' must be {label}")
        if not isinstance(value, types):
            raise BadJson(f"'{self._name(key)}' must be {label}")
        return value

    def _check_nul(self, key: str, value: str) -> None:
        # PostgreSQL text cannot hold NUL; refusing it everywhere keeps both databases accepting the same input.
        if "\x00" in value:
            raise BadJson(f"'{self._name(key)}' must not contain NUL characters")

    def text(self, key: str, default: Any = _MISSING, *, max_length: int | None = None) -> Any:
        value = self._get(key, (str,), "a string", default)
        if isinstance(value, str):
            if max_length is not None and len(value) > max_length:
                raise BadJson(f"'{self._name(key)}' is too long (at most {max_length} characters)")
            self._check_nul(key, value)
        return value

    def flag(self, key: str, default: Any = _MISSING) -> Any:
        return self._get(key, (bool,), "a boolean", default)

    def integer(self, key: str, default: Any = _MISSING) -> Any:
        return self._get(key, (int,), "an integer", default)

    def texts(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, (list,), "a list of strings", default)
        if isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise BadJson(f"'{self._name(key)}' must be a list of strings")
            for item in value:
                self._check_nul(key, item)
        return value

    def user_ids(self, key: str) -> list[str]:
        """An optional list of user ids (duplicates dropped, order kept)."""
        users = self.texts(key, [])
        for user in users:
            try:
                UserId.parse(user)
            except ValueError:
                raise BadJson(f"'{self._name(key)}' must hold user ids; {user!r} is not one") from None
        return list(dict.fromkeys(users))

    def object(self, key: str, *, required: bool = True) -> Body | None:
        value = self._get(key, (dict,), "an object", _MISSING if required else None)
        return None if value is None else Body(value, self._name(key))

    def has(self, key: str) -> bool:
        return key in self.data


def query_text(name: str, *, max_length: int = 1024) -> str | None:
    value = request.args.get(name)
    if value is not None and len(value) > max_length:
        raise InvalidParam(f"Query parameter '{name}' is too long")
    if value is not None and "\x00" in value:
        raise InvalidParam(f"Query parameter '{name}' must not contain NUL characters")
    return value


def required_query_text(name: str, *, max_length: int = 1024) -> str:
    value = query_text(name, max_length=max_length)
    if value is None:
        raise MissingParam(f"Missing parameter: {name}")
    return value


def client_ip() -> str:
    return request.remote_addr or "unknown"
