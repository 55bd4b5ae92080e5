"""Canonical JSON: the one byte encoding every signature and hash in Matrix is computed over.

Spec: Appendices, "Canonical JSON". Encoding is delegated to the ecosystem's ``canonicaljson`` package so that our
bytes match other servers' bytes exactly, including for the non-compliant values (floats, huge integers) that old
room versions must tolerate. On top of it this module adds what the package leaves out: checking that a value is
*strictly* canonical (enforced from room version 6) and parsing JSON text without Python's non-JSON extensions.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import canonicaljson

from protocol.errors import BadJson, NotJson

JsonDict = dict[str, Any]

# Spec: Appendices, "Canonical JSON": integers must lie in [-(2**53)+1, (2**53)-1].
MAX_SAFE_INTEGER = 2**53 - 1
MIN_SAFE_INTEGER = -MAX_SAFE_INTEGER


def encode_canonical_json(value: object) -> bytes:
    """The shortest UTF-8 encoding with keys sorted by codepoint: the bytes that get hashed and signed."""
    return canonicaljson.encode_canonical_json(value)


def check_canonical_json(value: object, path: str = "") -> None:
    """Raise :class:`BadJson` unless ``value`` can be encoded as strict Canonical JSON.

    Room versions 6 and later answer a violation with 400 ``M_BAD_JSON`` on the Client-Server API and drop the
    event over federation (spec: rooms/v6 "Canonical JSON"). Floats are refused outright, as they are by other
    servers: a float in an already-parsed value cannot be told apart from a genuine fraction.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not MIN_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise BadJson(f"Integer out of range at {_where(path)}")
        return
    if isinstance(value, float):
        raise BadJson(f"Float values are not permitted at {_where(path)}")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise BadJson(f"Object keys must be strings at {_where(path)}")
            check_canonical_json(item, f"{path}.{key}" if path else key)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_canonical_json(item, f"{path}[{index}]")
        return
    raise BadJson(f"Not a JSON value at {_where(path)}: {type(value).__name__}")


def parse_json(data: bytes | str, *, strict: bool = False) -> Any:
    """Parse JSON text, refusing Python's extensions (``NaN``, ``Infinity``) which are not JSON.

    With ``strict`` the result is checked as Canonical JSON. A number written with a fraction or exponent is
    accepted when it denotes an integer in range (``1e10``, ``-0.0``) and becomes that integer, as the spec's own
    Canonical JSON examples show (``{"a": -0, "b": 1e10}`` encodes as ``{"a":0,"b":10000000000}``); a true
    fraction is refused. Without ``strict`` such numbers stay floats, so events in old rooms re-encode to the
    bytes their origin hashed.
    """
    try:
        value = json.loads(
            data,
            parse_constant=_refuse_constant,
            parse_float=_integral_number if strict else float,
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise NotJson("Content not JSON.") from exc
    if strict:
        check_canonical_json(value)
    return value


def _refuse_constant(name: str) -> Any:
    raise BadJson(f"Invalid JSON value: {name}")


def _integral_number(literal: str) -> int:
    try:
        number = Decimal(literal)
    except InvalidOperation as exc:  # pragma: no cover - json only hands us valid number literals
        raise BadJson(f"Invalid number: {literal}") from exc
    if number != number.to_integral_value():
        raise BadJson(f"Float values are not permitted: {literal}")
    # Bounds-check before converting: int(Decimal("1e999999")) would build an enormous integer.
    if not MIN_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        raise BadJson(f"Integer out of range: {literal}")
    return int(number)


def _where(path: str) -> str:
    return path or "top level"
