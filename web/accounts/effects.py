"""What must happen once a transaction has committed: token revocations announced, follow-up tasks poked.

Views collect these while they write (together with the outbox rows that make them durable) and call
:meth:`AfterCommit.apply` after the commit, never before: a poke for uncommitted data would find nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from persistence.doorbell import Ring
from tasks import api as tasks_api
from web.token_cache import TOKENS_STREAM

if TYPE_CHECKING:
    from web.deps import Deps

DEVICE_LISTS = "device_lists"
USER_DIRECTORY = "user_directory"
MEMBER_PROFILES = "member_profiles"


@dataclass
class AfterCommit:
    revoked_tokens: list[str] = field(default_factory=list)
    device_list_users: set[str] = field(default_factory=set)
    directory_users: set[str] = field(default_factory=set)
    profile_rooms: set[str] = field(default_factory=set)

    def device_changed(self, deps: Deps, conn: Connection, user_id: str, device_id: str) -> None:
        """Record (durably, in ``conn``'s transaction) that a device of ``user_id`` appeared, changed or went."""
        deps.stores.outbox.insert_item(conn, DEVICE_LISTS, user_id, {"device_id": device_id}, deps.clock.now_ms())
        self.device_list_users.add(user_id)

    def directory_changed(self, deps: Deps, conn: Connection, user_id: str) -> None:
        deps.stores.outbox.insert_item(conn, USER_DIRECTORY, user_id, {}, deps.clock.now_ms())
        self.directory_users.add(user_id)

    def member_profile_changed(self, deps: Deps, conn: Connection, user_id: str) -> None:
        """The user's membership events in every joined room must carry their new profile."""
        for room_id in deps.stores.state.list_rooms_with_membership(conn, user_id, "join"):
            deps.stores.outbox.insert_item(conn, MEMBER_PROFILES, room_id, {"user_id": user_id}, deps.clock.now_ms())
            self.profile_rooms.add(room_id)

    def apply(self, deps: Deps) -> None:
        if self.revoked_tokens:
            deps.token_cache.evict(self.revoked_tokens)
            deps.doorbell.ring(Ring(TOKENS_STREAM, deps.config.workers.name, 0, tuple(self.revoked_tokens)))
        for user_id in sorted(self.device_list_users):
            tasks_api.device_list_changed(deps.dispatcher, user_id)
        for user_id in sorted(self.directory_users):
            tasks_api.user_directory_changed(deps.dispatcher, user_id)
        for room_id in sorted(self.profile_rooms):
            tasks_api.member_profiles_changed(deps.dispatcher, room_id)
