"""Matrix identifiers: server names, user ids and room aliases (spec: Appendices, "Identifier Grammar")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocol.errors import InvalidUsername

# Appendices, "Server Name": an IPv4 literal, a bracketed IPv6 literal or a DNS name, then an optional port.
_HOST = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9\-.]{1,255})$")
# Appendices, "User Identifiers": the grammar new localparts must follow.
_STRICT_LOCALPART = re.compile(r"^[a-z0-9._=\-/+]+$")
# Historical user ids may hold any printable ASCII but ':' ; servers must still accept them.
_HISTORICAL_LOCALPART = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
MAX_USER_ID_LENGTH = 255


def is_valid_server_name(name: str) -> bool:
    """Whether ``name`` is a syntactically valid server name, with its optional port in range."""
    if name.startswith("["):
        close = name.find("]")
        if close < 0:
            return False
        host, rest = name[: close + 1], name[close + 1 :]
    else:
        host, colon, port = name.partition(":")
        rest = colon + port
    if rest:
        port_text = rest[1:]
        if not rest.startswith(":") or not port_text.isdigit() or len(port_text) > 5:
            return False
        if not 0 < int(port_text) < 65536:
            return False
    return bool(_HOST.fullmatch(host))


@dataclass(frozen=True)
class UserId:
    """A parsed ``@localpart:server_name``."""

    localpart: str
    server_name: str

    def __str__(self) -> str:
        return f"@{self.localpart}:{self.server_name}"

    @staticmethod
    def parse(text: str) -> UserId:
        """Parse a user id, accepting historical localparts; raises ValueError when it is not one."""
        if not text.startswith("@") or ":" not in text or len(text) > MAX_USER_ID_LENGTH:
            raise ValueError(f"not a user id: {text!r}")
        localpart, _, server_name = text[1:].partition(":")
        if not localpart or not _HISTORICAL_LOCALPART.fullmatch(localpart) or not is_valid_server_name(server_name):
            raise ValueError(f"not a user id: {text!r}")
        return UserId(localpart, server_name)


def is_valid_user_id(text: object) -> bool:
    """Whether ``text`` is a user id string that :meth:`UserId.parse` accepts (historical localparts included)."""
    if not isinstance(text, str):
        return False
    try:
        UserId.parse(text)
    except ValueError:
        return False
    return True


def check_new_localpart(localpart: str, server_name: str) -> None:
    """Reject a localpart a new account may not take, with the errcode /register uses.

    New user ids must follow the strict grammar and fit in 255 bytes with the server name; localparts made only
    of digits are refused because Synapse reserves them for guest accounts.
    """
    if not localpart:
        raise InvalidUsername("User ID cannot be empty")
    if not _STRICT_LOCALPART.fullmatch(localpart):
        raise InvalidUsername("User ID can only contain characters a-z, 0-9, or '=_-./+'")
    if localpart.isdigit():
        raise InvalidUsername("Numeric user IDs are reserved for guest users")
    if len(f"@{localpart}:{server_name}".encode()) > MAX_USER_ID_LENGTH:
        raise InvalidUsername(f"User ID may not be longer than {MAX_USER_ID_LENGTH} characters")


def localpart_of(user_id_or_localpart: str, server_name: str) -> str | None:
    """The localpart a login identifier names on this server, or None when it names another server.

    Clients send either a bare localpart or a full user id; matching is case-insensitive as Synapse does
    for logins, so the result is lower-cased.
    """
    if user_id_or_localpart.startswith("@"):
        try:
            user_id = UserId.parse(user_id_or_localpart)
        except ValueError:
            return None
        if user_id.server_name != server_name:
            return None
        return user_id.localpart.lower()
    return user_id_or_localpart.lower()


MAX_ROOM_ALIAS_LENGTH = 255


@dataclass(frozen=True)
class RoomAlias:
    """A parsed ``#localpart:server_name`` (Appendices, "Room Aliases")."""

    localpart: str
    server_name: str

    def __str__(self) -> str:
        return f"#{self.localpart}:{self.server_name}"

    @staticmethod
    def parse(text: str) -> RoomAlias:
        """Parse a room alias: any non-surrogate code points but ':' and NUL in the localpart, a valid server name,
        at most 255 bytes in all. Raises ValueError when ``text`` is not one."""
        if not text.startswith("#") or ":" not in text or "\x00" in text:
            raise ValueError(f"not a room alias: {text!r}")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate
            raise ValueError(f"not a room alias: {text!r}") from None
        localpart, _, server_name = text[1:].partition(":")
        if size > MAX_ROOM_ALIAS_LENGTH or not localpart or not is_valid_server_name(server_name):
            raise ValueError(f"not a room alias: {text!r}")
        return RoomAlias(localpart, server_name)


def is_valid_room_alias(text: object) -> bool:
    """Whether ``text`` is a room alias string :meth:`RoomAlias.parse` accepts."""
    if not isinstance(text, str):
        return False
    try:
        RoomAlias.parse(text)
    except ValueError:
        return False
    return True


def server_of(user_id: str) -> str:
    """The server name of a user id already known to be valid (``@localpart:server``, the server possibly holding a
    port's colon), without parsing it again: the ids of stored events and state were checked when they came in."""
    return user_id.partition(":")[2]
