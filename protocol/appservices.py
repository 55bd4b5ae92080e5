"""Application services as the homeserver sees them (Application Service API, "Registration"): who an appservice
is, which users, room aliases and rooms it claims, and whether it is interested in an event.

Pure rules: the registration files are read by ``config/appservices.py``; this module only answers questions
about a parsed registration. Namespace regexes match from the start of the string, as Synapse matches them (a
registration written for Synapse means the same here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

USERS = "users"
ALIASES = "aliases"
ROOMS = "rooms"
NAMESPACE_KINDS = (USERS, ALIASES, ROOMS)


@dataclass(frozen=True)
class Namespace:
    regex: str
    exclusive: bool

    def matches(self, value: str) -> bool:
        return re.match(self.regex, value) is not None


@dataclass(frozen=True)
class AppService:
    """One registration file."""

    id: str
    url: str | None
    """Where transactions and queries go; None for an appservice that only acts (no pushes, no queries)."""
    as_token: str
    hs_token: str
    sender: str
    """The appservice's own user (``@sender_localpart:server``): its as_token acts as this user by default."""
    namespaces: Mapping[str, tuple[Namespace, ...]] = field(default_factory=dict)
    rate_limited: bool = True
    protocols: tuple[str, ...] = ()
    receive_ephemeral: bool = False
    """MSC2409 (``receive_ephemeral`` / ``de.sorunome.msc2409.push_ephemeral``): typing, receipts and presence
    of interesting users and rooms go in transactions as ``ephemeral``."""
    msc3202: bool = False
    """MSC3202 (``org.matrix.msc3202: true``): transactions also carry device-list changes of the users it is
    interested in, and the one-time key counts and unused fallback key types of its users, as Synapse sends
    them, so a bridge can run end-to-end encryption for its puppets."""
    source: str = ""
    """The registration file, for messages."""

    def _matching(self, kind: str, value: str) -> Namespace | None:
        for namespace in self.namespaces.get(kind, ()):
            if namespace.matches(value):
                return namespace
        return None

    def is_interested_in_user(self, user_id: str) -> bool:
        return user_id == self.sender or self._matching(USERS, user_id) is not None

    def is_interested_in_alias(self, alias: str) -> bool:
        return self._matching(ALIASES, alias) is not None

    def is_interested_in_room(self, room_id: str) -> bool:
        return self._matching(ROOMS, room_id) is not None

    def claims_exclusively(self, kind: str, value: str) -> bool:
        return any(namespace.exclusive and namespace.matches(value) for namespace in self.namespaces.get(kind, ()))

    def is_interested_in_event(self, event: Mapping[str, Any], room_id: str, aliases: Iterable[str],
                               members: Iterable[str]) -> bool:
        """Spec "Pushing events": the sender or a member state key in the user namespaces, the room in the
        rooms namespaces, one of the room's aliases in the alias namespaces; and, as Synapse does, a room with a
        joined member in the user namespaces (a bridge sees what its puppets see)."""
        sender = event.get("sender")
        if isinstance(sender, str) and self.is_interested_in_user(sender):
            return True
        state_key = event.get("state_key")
        if event.get("type") == "m.room.member" and isinstance(state_key, str) and \
                self.is_interested_in_user(state_key):
            return True
        if self.is_interested_in_room(room_id):
            return True
        if any(self.is_interested_in_alias(alias) for alias in aliases):
            return True
        return any(self.is_interested_in_user(member) for member in members)


@dataclass(frozen=True)
class AppServices:
    """Every registration, looked up by token and id."""

    services: tuple[AppService, ...] = ()

    def by_as_token(self, token: str) -> AppService | None:
        for service in self.services:
            if service.as_token == token:
                return service
        return None

    def by_id(self, appservice_id: str) -> AppService | None:
        for service in self.services:
            if service.id == appservice_id:
                return service
        return None

    def exclusive_owner(self, kind: str, value: str) -> AppService | None:
        """The appservice that claims ``value`` exclusively, if any (spec: others may not register/create it)."""
        for service in self.services:
            if service.claims_exclusively(kind, value):
                return service
        return None

    def interested_in_user(self, user_id: str) -> tuple[AppService, ...]:
        return tuple(service for service in self.services if service.is_interested_in_user(user_id))

    def interested_in_alias(self, alias: str) -> tuple[AppService, ...]:
        return tuple(service for service in self.services if service.is_interested_in_alias(alias))

    def with_protocol(self, protocol: str) -> tuple[AppService, ...]:
        return tuple(service for service in self.services if protocol in service.protocols)

    def __iter__(self) -> Iterator[AppService]:
        return iter(self.services)

    def __bool__(self) -> bool:
        return bool(self.services)
