"""Reading a request: the JSON body and query parameters, each checked with the spec's errors.

Views ask for exactly the fields they use with the type they need; anything else in the body is ignored, as
the spec expects of unknown fields. Wrong types are ``M_BAD_JSON``, absent required fields ``M_MISSING_PARAM``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

from protocol.errors import BadJson, InvalidParam, MissingParam, NotJson

_MISSING: Any = object()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_body(*, optional: bool = False) -> Body:
    """The request body as a JSON object; ``optional`` accepts an empty body as ``{}``."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return Body({})
        raise NotJson("Content not JSON.")
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise NotJson("Content not JSON.") from None
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

    def text(self, key: str, default: Any = _MISSING, *, max_length: int | None = None) -> Any:
        value = self._get(key, (str,), "a string", default)
        if isinstance(value, str) and max_length is not None and len(value) > max_length:
            raise BadJson(f"'{self._name(key)}' is too long (at most {max_length} characters)")
        return value

    def flag(self, key: str, default: Any = _MISSING) -> Any:
        return self._get(key, (bool,), "a boolean", default)

    def integer(self, key: str, default: Any = _MISSING) -> Any:
        return self._get(key, (int,), "an integer", default)

    def texts(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, (list,), "a list of strings", default)
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            raise BadJson(f"'{self._name(key)}' must be a list of strings")
        return value

    def object(self, key: str, *, required: bool = True) -> Body | None:
        value = self._get(key, (dict,), "an object", _MISSING if required else None)
        return None if value is None else Body(value, self._name(key))

    def has(self, key: str) -> bool:
        return key in self.data


def query_text(name: str, *, max_length: int = 1024) -> str | None:
    value = request.args.get(name)
    if value is not None and len(value) > max_length:
        raise InvalidParam(f"Query parameter '{name}' is too long")
    return value


def required_query_text(name: str, *, max_length: int = 1024) -> str:
    value = query_text(name, max_length=max_length)
    if value is None:
        raise MissingParam(f"Missing parameter: {name}")
    return value


def client_ip() -> str:
    return request.remote_addr or "unknown"
