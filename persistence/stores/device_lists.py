"""The device-lists stream: one row per change to a user's device or cross-signing key, ordered by stream id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, insert, or_, select

from persistence.stream_ranges import between
from persistence.tables import current_state_events, device_lists_stream
from protocol.sync_tokens import WriterPositions

CROSS_SIGNING_KEY_TYPE = "cross_signing_key_type"
"""The column (and device_lists outbox payload field) that tells a cross-signing key's row from a device's."""


@dataclass(frozen=True)
class DeviceListChange:
    """A device (``cross_signing_key_type`` None) or a cross-signing key of the user appeared, changed or went.

    For a cross-signing key, ``device_id`` holds its public key and ``cross_signing_key_type`` its type
    (``master``, ``self_signing``, ``user_signing``): a federation sender sends ``m.device_list_update`` for the
    devices and ``m.signing_key_update`` for the keys (Server-Server API, "End-to-End Encryption").
    """

    stream_id: int
    user_id: str
    device_id: str
    cross_signing_key_type: str | None = None


class DeviceListStore:
    def insert_changes(
        self, conn: Connection, changes: list[DeviceListChange], instance_name: str
    ) -> None:
        if changes:
            conn.execute(
                insert(device_lists_stream),
                [{**change.__dict__, "instance_name": instance_name} for change in changes],
            )

    def list_changes(self, conn: Connection, user_id: str, after: int = 0) -> list[DeviceListChange]:
        table = device_lists_stream
        rows = conn.execute(
            select(table.c.stream_id, table.c.user_id, table.c.device_id, table.c.cross_signing_key_type)
            .where(table.c.user_id == user_id, table.c.stream_id > after)
            .order_by(table.c.stream_id)
        )
        return [DeviceListChange(row.stream_id, row.user_id, row.device_id, row.cross_signing_key_type)
                for row in rows]

    def list_changes_between(self, conn: Connection, since: WriterPositions, until: WriterPositions,
                             limit: int) -> list[DeviceListChange]:
        """The stream's rows in the range, oldest first, at most ``limit`` (an appservice's MSC3202
        ``device_lists``)."""
        table = device_lists_stream
        rows = conn.execute(
            select(table.c.stream_id, table.c.user_id, table.c.device_id, table.c.cross_signing_key_type)
            .where(between(table.c.instance_name, table.c.stream_id, since, until))
            .order_by(table.c.stream_id).limit(limit))
        return [DeviceListChange(row.stream_id, row.user_id, row.device_id, row.cross_signing_key_type)
                for row in rows]

    def list_changed_users_sharing_rooms(self, conn: Connection, user_id: str, since: WriterPositions,
                                         until: WriterPositions) -> set[str]:
        """Users who changed a device in the range and are ``user_id`` or share a room with them now: the
        ``device_lists.changed`` of a sync, in one query that reads only the range's rows."""
        mine, members = current_state_events.alias("mine"), current_state_events.alias("members")
        sharing = (select(members.c.state_key).join(mine, mine.c.room_id == members.c.room_id)
                   .where(mine.c.type == "m.room.member", mine.c.state_key == user_id, mine.c.membership == "join",
                          members.c.type == "m.room.member", members.c.membership == "join"))
        # A user-signing key is seen by its owner alone ("Cross-signing"), so its change concerns no one else.
        seen_by_others = or_(device_lists_stream.c.cross_signing_key_type.is_(None),
                             device_lists_stream.c.cross_signing_key_type != "user_signing")
        rows = conn.execute(select(device_lists_stream.c.user_id).distinct().where(
            between(device_lists_stream.c.instance_name, device_lists_stream.c.stream_id, since, until),
            or_(device_lists_stream.c.user_id == user_id,
                and_(device_lists_stream.c.user_id.in_(sharing), seen_by_others))))
        return {row.user_id for row in rows}
