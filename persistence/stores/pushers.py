"""Pushers (Client-Server API, "Push Notifications", ``/pushers``): set by clients through the web tier's
``/pushers/set`` task, read by ``GET /pushers`` and by the pusher task that sends notifications to them.

A pusher is identified by (app_id, pushkey, user). ``positions`` (how far the pusher has been sent the user's
push actions) is a :class:`~protocol.sync_tokens.WriterPositions` of the events stream, stored as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from persistence.tables import pushers
from protocol.sync_tokens import WriterPositions


@dataclass(frozen=True)
class Pusher:
    id: int
    user_id: str
    device_id: str | None
    kind: str
    app_id: str
    pushkey: str
    app_display_name: str
    device_display_name: str
    profile_tag: str | None
    lang: str
    data: dict[str, Any]
    pushkey_ts: int
    positions: WriterPositions
    retry_at_ts: int | None
    failures: int
    claimed_until_ts: int | None
    last_badge: int | None

    def to_client(self) -> dict[str, Any]:
        """The spec's ``Pusher`` object of ``GET /pushers``."""
        shown: dict[str, Any] = {"kind": self.kind, "app_id": self.app_id, "pushkey": self.pushkey,
                                 "app_display_name": self.app_display_name,
                                 "device_display_name": self.device_display_name, "lang": self.lang,
                                 "data": self.data}
        if self.profile_tag is not None:
            shown["profile_tag"] = self.profile_tag
        return shown


def encode_positions(positions: WriterPositions) -> str:
    return json.dumps({"floor": positions.floor, "ahead": dict(positions.ahead)}, separators=(",", ":"))


def decode_positions(text: str) -> WriterPositions:
    value = json.loads(text)
    return WriterPositions(int(value["floor"]), tuple(sorted((w, int(p)) for w, p in value["ahead"].items())))


def _pusher(row: Any) -> Pusher:
    return Pusher(row.id, row.user_id, row.device_id, row.kind, row.app_id, row.pushkey, row.app_display_name,
                  row.device_display_name, row.profile_tag, row.lang, json.loads(row.data), int(row.pushkey_ts),
                  decode_positions(row.positions), row.retry_at_ts, int(row.failures), row.claimed_until_ts,
                  row.last_badge)


@dataclass(frozen=True)
class PusherFields:
    """What a client sets on a pusher (the body of ``/pushers/set`` with a kind)."""

    kind: str
    app_id: str
    pushkey: str
    app_display_name: str
    device_display_name: str
    profile_tag: str | None
    lang: str
    data: dict[str, Any]


class PusherStore:
    def list_pushers(self, conn: Connection, user_id: str) -> list[Pusher]:
        rows = conn.execute(select(pushers).where(pushers.c.user_id == user_id).order_by(pushers.c.id))
        return [_pusher(row) for row in rows]

    def list_users_with_http_pushers(self, conn: Connection, user_ids: Collection[str]) -> list[str]:
        """Which of ``user_ids`` have an http pusher (who the pusher task should be poked for)."""
        if not user_ids:
            return []
        rows = conn.execute(select(pushers.c.user_id).distinct()
                            .where(pushers.c.kind == "http", pushers.c.user_id.in_(sorted(user_ids))))
        return sorted(row.user_id for row in rows)

    def list_users_due(self, conn: Connection, now_ms: int, limit: int) -> list[str]:
        """Users with an http pusher whose retry time has come, or whose claim ran out unreleased (the task
        sending to it died mid-delivery)."""
        due = or_(pushers.c.retry_at_ts <= now_ms, pushers.c.claimed_until_ts <= now_ms)
        rows = conn.execute(select(pushers.c.user_id).distinct()
                            .where(pushers.c.kind == "http", due).order_by(pushers.c.user_id).limit(limit))
        return [row.user_id for row in rows]

    def list_idle_http_pushers(self, conn: Connection, now_ms: int, after_id: int, limit: int) -> list[Pusher]:
        """Http pushers neither claimed nor backing off, by id after ``after_id`` (a page of the lost-poke
        sweep)."""
        idle = (or_(pushers.c.claimed_until_ts.is_(None), pushers.c.claimed_until_ts <= now_ms),
                or_(pushers.c.retry_at_ts.is_(None), pushers.c.retry_at_ts <= now_ms))
        rows = conn.execute(select(pushers).where(pushers.c.kind == "http", pushers.c.id > after_id, *idle)
                            .order_by(pushers.c.id).limit(limit))
        return [_pusher(row) for row in rows]

    def list_idle_pushers(self, conn: Connection, kind: str, now_ms: int, after_id: int,
                          limit: int) -> list[Pusher]:
        """Pushers of ``kind`` neither claimed nor waiting (backoff, or an email pusher's throttle), by id after
        ``after_id`` (a page of a sweep)."""
        idle = (or_(pushers.c.claimed_until_ts.is_(None), pushers.c.claimed_until_ts <= now_ms),
                or_(pushers.c.retry_at_ts.is_(None), pushers.c.retry_at_ts <= now_ms))
        rows = conn.execute(select(pushers).where(pushers.c.kind == kind, pushers.c.id > after_id, *idle)
                            .order_by(pushers.c.id).limit(limit))
        return [_pusher(row) for row in rows]

    def upsert_pusher(self, conn: Connection, user_id: str, device_id: str | None, fields: PusherFields,
                      now_ms: int, positions: WriterPositions, *, append: bool) -> None:
        """Set a pusher; unless ``append``, other users' pushers with the same app_id and pushkey go (spec:
        ``append``: "If false, other pushers with the same App ID and pushkey for different users are deleted")."""
        values = {"kind": fields.kind, "app_display_name": fields.app_display_name,
                  "device_display_name": fields.device_display_name, "profile_tag": fields.profile_tag,
                  "lang": fields.lang, "data": json.dumps(fields.data), "device_id": device_id}
        if not append:
            conn.execute(delete(pushers).where(pushers.c.app_id == fields.app_id,
                                               pushers.c.pushkey == fields.pushkey, pushers.c.user_id != user_id))
        key = (pushers.c.app_id == fields.app_id, pushers.c.pushkey == fields.pushkey, pushers.c.user_id == user_id)
        if conn.execute(update(pushers).where(*key).values(values)).rowcount:
            return
        conn.execute(insert(pushers).values(
            user_id=user_id, app_id=fields.app_id, pushkey=fields.pushkey, pushkey_ts=now_ms,
            positions=encode_positions(positions), failures=0, **values))

    def delete_pusher(self, conn: Connection, user_id: str, app_id: str, pushkey: str) -> int:
        return int(conn.execute(delete(pushers).where(pushers.c.user_id == user_id, pushers.c.app_id == app_id,
                                                      pushers.c.pushkey == pushkey)).rowcount)

    def delete_pushers_of_devices(self, conn: Connection, user_id: str, device_ids: Collection[str]) -> int:
        """The pushers set through these devices' access tokens (the devices are being deleted)."""
        if not device_ids:
            return 0
        return int(conn.execute(delete(pushers).where(pushers.c.user_id == user_id,
                                                      pushers.c.device_id.in_(sorted(device_ids)))).rowcount)

    def delete_pushers_of_user(self, conn: Connection, user_id: str) -> int:
        return int(conn.execute(delete(pushers).where(pushers.c.user_id == user_id)).rowcount)

    def delete_pusher_by_id(self, conn: Connection, pusher_id: int) -> None:
        conn.execute(delete(pushers).where(pushers.c.id == pusher_id))

    def claim_pusher(self, conn: Connection, pusher_id: int, now_ms: int, claim_until_ts: int) -> Pusher | None:
        """Claim the pusher for one delivery unless it is gone, claimed by another delivery, or backing off.

        The row is locked (PostgreSQL; SQLite has one writer anyway) until the transaction ends, so a delivery
        releasing its claim and one checking for it are ordered: a poke arriving while the holder finishes waits
        for it and then sees whatever it left unsent."""
        row = conn.execute(select(pushers).where(pushers.c.id == pusher_id).with_for_update()).first()
        if row is None:
            return None
        pusher = _pusher(row)
        if pusher.claimed_until_ts is not None and pusher.claimed_until_ts > now_ms:
            return None
        if pusher.retry_at_ts is not None and pusher.retry_at_ts > now_ms:
            return None
        conn.execute(update(pushers).where(pushers.c.id == pusher_id).values(claimed_until_ts=claim_until_ts))
        return pusher

    def update_progress(self, conn: Connection, pusher_id: int, positions: WriterPositions,
                        badge: int | None = None) -> None:
        """Record how far the pusher has been sent (and the badge it was sent, if any) and release its claim; a
        delivery clears any backoff."""
        values: dict[str, Any] = {"positions": encode_positions(positions), "retry_at_ts": None, "failures": 0,
                                  "claimed_until_ts": None}
        if badge is not None:
            values["last_badge"] = badge
        conn.execute(update(pushers).where(pushers.c.id == pusher_id).values(values))

    def update_positions(self, conn: Connection, pusher_id: int, positions: WriterPositions) -> None:
        """Move the pusher's position and keep its claim: an email pusher sends what it moved past only after
        this commits, and releases the claim once the SMTP server answered."""
        conn.execute(update(pushers).where(pushers.c.id == pusher_id).values(positions=encode_positions(positions)))

    def update_last_badge(self, conn: Connection, pusher_id: int, badge: int) -> None:
        conn.execute(update(pushers).where(pushers.c.id == pusher_id).values(last_badge=badge))

    def update_backoff(self, conn: Connection, pusher_id: int, retry_at_ts: int, failures: int) -> None:
        """The gateway failed: release the claim and wait until ``retry_at_ts``."""
        conn.execute(update(pushers).where(pushers.c.id == pusher_id)
                     .values(retry_at_ts=retry_at_ts, failures=failures, claimed_until_ts=None))
