"""X-Matrix request authentication (Server-Server API, "Request Authentication").

A request is signed as the JSON object ``{method, uri, origin, destination[, content]}``; the signature travels in
``Authorization: X-Matrix origin="...",destination="...",key="ed25519:...",sig="..."``. Building and parsing that
header and checking the signature are pure; looking up the origin's key is the caller's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol.canonical_json import JsonDict
from protocol.signing import InvalidSignature, SigningKey, VerifyKey, key_id_of, sign_json, verify_json

SCHEME = "X-Matrix"


class MalformedAuthorization(ValueError):
    """The ``Authorization`` header is not a well-formed X-Matrix header."""


@dataclass(frozen=True)
class XMatrixAuthorization:
    origin: str
    destination: str | None
    """Older servers leave it out; the spec says receivers then accept any destination that is theirs."""
    key_id: str
    signature: str

    def to_header(self) -> str:
        params = [("origin", self.origin)]
        if self.destination is not None:
            params.append(("destination", self.destination))
        params += [("key", self.key_id), ("sig", self.signature)]
        return f"{SCHEME} " + ",".join(f'{name}="{_escape(value)}"' for name, value in params)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def request_json(method: str, uri: str, origin: str, destination: str, content: Any = None) -> JsonDict:
    """The object a request's signature covers; ``uri`` is the path with its query string, as sent."""
    signed: JsonDict = {"method": method.upper(), "uri": uri, "origin": origin, "destination": destination}
    if content is not None:
        signed["content"] = content
    return signed


def sign_request(signing_key: SigningKey, method: str, uri: str, origin: str, destination: str,
                 content: Any = None) -> XMatrixAuthorization:
    signed = sign_json(request_json(method, uri, origin, destination, content), origin, signing_key)
    key_id = key_id_of(signing_key)
    return XMatrixAuthorization(origin, destination, key_id, signed["signatures"][origin][key_id])


def verify_request(authorization: XMatrixAuthorization, verify_key: VerifyKey, method: str, uri: str,
                   destination: str, content: Any = None) -> None:
    """Raise :class:`InvalidSignature` unless ``authorization`` signs this request with ``verify_key``."""
    signed = request_json(method, uri, authorization.origin, destination, content)
    signed["signatures"] = {authorization.origin: {authorization.key_id: authorization.signature}}
    verify_json(signed, authorization.origin, verify_key)


def parse_authorization(header: str) -> XMatrixAuthorization:
    """Parse one ``Authorization`` header value; the scheme is case-insensitive, values quoted or bare tokens."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != SCHEME.lower():
        raise MalformedAuthorization("not an X-Matrix authorization")
    params = _parse_params(rest)
    missing = [name for name in ("origin", "key", "sig") if not params.get(name)]
    if missing:
        raise MalformedAuthorization(f"X-Matrix authorization lacks {', '.join(missing)}")
    return XMatrixAuthorization(params["origin"], params.get("destination"), params["key"], params["sig"])


def _parse_params(text: str) -> Mapping[str, str]:
    """``name=value`` pairs separated by commas; a value is a quoted string (``\\`` escapes) or a bare token."""
    params: dict[str, str] = {}
    index, length = 0, len(text)
    while index < length:
        while index < length and text[index] in " \t,":
            index += 1
        if index >= length:
            break
        equals = text.find("=", index)
        if equals < 0:
            raise MalformedAuthorization("X-Matrix parameter without a value")
        name = text[index:equals].strip().lower()
        index = equals + 1
        if index < length and text[index] == '"':
            index += 1
            value_chars: list[str] = []
            while True:
                if index >= length:
                    raise MalformedAuthorization("unterminated quoted X-Matrix value")
                char = text[index]
                if char == "\\" and index + 1 < length:
                    value_chars.append(text[index + 1])
                    index += 2
                    continue
                index += 1
                if char == '"':
                    break
                value_chars.append(char)
            value = "".join(value_chars)
        else:
            comma = text.find(",", index)
            end = length if comma < 0 else comma
            value = text[index:end].strip()
            index = end
        if not name or name in params:
            raise MalformedAuthorization(f"empty or repeated X-Matrix parameter {name!r}")
        params[name] = value
    return params


__all__ = [
    "InvalidSignature",
    "MalformedAuthorization",
    "XMatrixAuthorization",
    "parse_authorization",
    "request_json",
    "sign_request",
    "verify_request",
]
