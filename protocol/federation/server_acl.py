"""Server access control lists: whether a room's ``m.room.server_acl`` lets a server take part.

Layer: ``protocol`` (pure). Spec: Client-Server API, "Server Access Control Lists (ACLs) for rooms", and
Server-Server API, "Server Access Control Lists (ACLs)": an IP literal is denied unless ``allow_ip_literals``
(default true); a server matching any ``deny`` glob is denied; otherwise it must match an ``allow`` glob (none
given: nobody). Globs match the whole server name without its port; ``*`` is any run of characters, ``?`` one.
A room without an ACL event allows everyone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from protocol.federation.server_names import parse_server_name

SERVER_ACL_TYPE = "m.room.server_acl"


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    parts = (".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _globs(content: Mapping[str, Any], key: str) -> list[str]:
    value = content.get(key)
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def server_allowed(acl_content: Mapping[str, Any] | None, server_name: str) -> bool:
    """Whether ``server_name`` may take part in a room whose ACL content is ``acl_content`` (None: no ACL)."""
    if acl_content is None:
        return True
    try:
        host = parse_server_name(server_name)
    except ValueError:
        return False
    allow_ip_literals = acl_content.get("allow_ip_literals", True)
    if host.is_ip_literal and allow_ip_literals is not True:
        return False
    name = host.host
    if any(_glob(pattern).fullmatch(name) for pattern in _globs(acl_content, "deny")):
        return False
    return any(_glob(pattern).fullmatch(name) for pattern in _globs(acl_content, "allow"))
