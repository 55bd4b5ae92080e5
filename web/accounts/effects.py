"""What must happen once a transaction has committed: token revocations announced, follow-up tasks poked,
``/sync`` long-polls woken.

Views collect these while they write (together with the outbox rows that make them durable) and call
:meth:`AfterCommit.apply` after the commit, never before: a poke for uncommitted data would find nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from persistence.doorbell import Ring
from persistence.stores.device_lists import CROSS_SIGNING_KEY_TYPE
from protocol.errors import ServerUnavailable
from tasks import api as tasks_api
from web.token_cache import TOKENS_STREAM

if TYPE_CHECKING:
    from web.deps import Deps

log = logging.getLogger(__name__)

DEVICE_LISTS = "device_lists"
USER_DIRECTORY = "user_directory"
MEMBER_PROFILES = "member_profiles"
KEY_COUNTS = "e2e_key_counts"
"""Rung (with user ids) when a device's one-time or fallback keys changed; nothing is appended to a stream, the
counts are re-read by the ``/sync`` it wakes."""


@dataclass
class AfterCommit:
    revoked_tokens: list[str] = field(default_factory=list)
    device_list_users: set[str] = field(default_factory=set)
    directory_users: set[str] = field(default_factory=set)
    profile_rooms: set[str] = field(default_factory=set)
    key_count_users: set[str] = field(default_factory=set)

    def device_changed(self, deps: Deps, conn: Connection, user_id: str, device_id: str) -> None:
        """Record (durably, in ``conn``'s transaction) that a device of ``user_id`` appeared, changed or went."""
        self._device_list_item(deps, conn, user_id, {"device_id": device_id})

    def cross_signing_key_changed(self, deps: Deps, conn: Connection, user_id: str, key_type: str,
                                  public_key: str) -> None:
        """Record that a cross-signing key of ``user_id`` (``master``, ``self_signing`` or ``user_signing``) was
        set or gained signatures. Its stream row carries the key type, so it is never taken for a device."""
        self._device_list_item(deps, conn, user_id, {"device_id": public_key, CROSS_SIGNING_KEY_TYPE: key_type})

    def _device_list_item(self, deps: Deps, conn: Connection, user_id: str, payload: dict[str, str]) -> None:
        deps.stores.outbox.insert_item(conn, DEVICE_LISTS, user_id, payload, deps.clock.now_ms())
        self.device_list_users.add(user_id)

    def key_counts_changed(self, user_id: str) -> None:
        """A device of ``user_id`` gained or lost one-time or fallback keys: its ``/sync`` reports them (spec:
        "Extensions to /sync"), so one waiting now must look again."""
        self.key_count_users.add(user_id)

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
            deps.revocations.revoke(self.revoked_tokens)  # every process, before the request answers
            deps.doorbell.ring(Ring(TOKENS_STREAM, deps.config.workers.name, 0, tuple(self.revoked_tokens)))
        for user_id in sorted(self.device_list_users):
            try:
                tasks_api.write_device_list_change(deps.dispatcher, user_id)
            except ServerUnavailable:  # what this request changed is committed; the outbox sweep writes it
                log.warning("device list change of %s not yet on the stream: its writer did not answer", user_id)
        for user_id in sorted(self.directory_users):
            tasks_api.user_directory_changed(deps.dispatcher, user_id)
        for room_id in sorted(self.profile_rooms):
            tasks_api.member_profiles_changed(deps.dispatcher, room_id)
        if self.key_count_users:
            deps.doorbell.ring(Ring(KEY_COUNTS, deps.config.workers.name, 0, tuple(sorted(self.key_count_users))))
