"""The shapes the bad-input walk's endpoint descriptions are written in (``bad_input_endpoints.py``,
``bad_input_federation.py``): what an endpoint needs, one body it accepts, and values it must refuse."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.web.test_bad_input import Walker

BAD_JSON = frozenset({"M_BAD_JSON"})
MISSING = frozenset({"M_MISSING_PARAM"})
INVALID_PARAM = frozenset({"M_INVALID_PARAM"})
NOT_FOUND = frozenset({"M_NOT_FOUND"})


# --- what the spec says about each endpoint ------------------------------------------------------------------------
@dataclass(frozen=True)
class Invalid:
    """A value of the right type that the spec (or a documented limit) still refuses."""

    path: str
    value: Any
    status: int
    errcodes: frozenset[str] | None = None  # None: any M_ errcode

    def __str__(self) -> str:
        shown = repr(self.value)
        return f"{self.path}={shown[:40]}{'...' if len(shown) > 40 else ''}"


@dataclass(frozen=True)
class BodySchema:
    """One well-formed body, and what the spec says of its fields (dotted paths into nested objects)."""

    base: Callable[[Walker], dict[str, Any]]  # a body the endpoint would accept (fresh each call)
    fields: Mapping[str, str]  # path -> "string" | "boolean" | "object" | "strings"
    required: tuple[str, ...] = ()  # leaving one out is M_MISSING_PARAM
    invalid: tuple[Invalid, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    auth: bool  # needs an access token
    bodies: tuple[BodySchema, ...] = ()  # empty: the endpoint reads no body
    body_optional: bool = False  # an empty body is allowed (it starts user-interactive auth)
    server_signed: bool = False  # a federation view: the walk signs its requests with X-Matrix as remote.test
