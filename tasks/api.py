"""The only task module the web tier imports: the dispatcher interface and one function per kind of poke.

A poke names work by key after the change that needs it is committed (with an outbox row); it is cheap, may be
lost or repeated, and the task it starts is idempotent.
"""

from __future__ import annotations

from typing import Any, Protocol

DRAIN_DEVICE_LISTS = "device_lists.drain"
REFRESH_USER_DIRECTORY = "user_directory.refresh_user"
CREATE_EVENT = "events.create"
CREATE_ROOM = "events.create_room"
RECEIVE_PDUS = "events.receive_pdus"
BACKFILL_PDUS = "events.backfill_pdus"
REFRESH_MEMBER_PROFILES = "events.refresh_member_profiles"
PUT_ACCOUNT_DATA = "account_data.put"
UPDATE_TAG = "account_data.update_tag"
SEND_TO_DEVICE = "to_device.send"
ACKNOWLEDGE_TO_DEVICE = "to_device.acknowledge"
SET_TYPING = "typing.set"
STOP_TYPING = "typing.stop"
PUT_RECEIPT = "receipts.put"
SET_FULLY_READ = "account_data.set_fully_read"
SET_PRESENCE = "presence.set"
SET_REMOTE_PRESENCE = "presence.set_remote"
RECORD_SYNC = "presence.record_sync"
PRESENCE_TIMEOUT_SECONDS = 5.0
PUT_PUSH_RULE = "push_rules.put"
DELETE_PUSH_RULE = "push_rules.delete"
SET_PUSH_RULE_ENABLED = "push_rules.set_enabled"
SET_PUSH_RULE_ACTIONS = "push_rules.set_actions"
EVENT_TIMEOUT_SECONDS = 30.0
GENERATE_THUMBNAILS = "media.generate_thumbnails"
PREVIEW_URL = "media.preview_url"
FETCH_REMOTE_MEDIA = "media.fetch_remote"
FETCH_REMOTE_THUMBNAIL = "media.fetch_remote_thumbnail"
RESYNC_REMOTE_DEVICE_LIST = "background.resync_remote_device_list"
APPLY_DEVICE_LIST_UPDATE = "background.apply_device_list_update"
APPLY_SIGNING_KEY_UPDATE = "background.apply_signing_key_update"
RESYNC_TIMEOUT_SECONDS = 30.0
PREVIEW_TIMEOUT_SECONDS = 30.0
ACCEPT_REMOTE_MEMBERSHIP = "events.accept_remote_membership"
STORE_OUTSIDE_MEMBERSHIP = "events.store_outside_membership"
JOIN_REMOTE_ROOM = "events.join_remote_room"
REJECT_INVITE_LOCALLY = "events.reject_invite_locally"


class Dispatcher(Protocol):
    def send(self, name: str, **kwargs: Any) -> None:
        """Queue a task and return at once. Failures to enqueue are logged; outbox sweeps recover them."""

    def call(self, name: str, *, timeout: float, **kwargs: Any) -> Any:
        """Run a task on its queue and wait for its result; a MatrixError it returned is raised here."""

    def shard_of(self, family: str, key: str) -> str:
        """Which instance owns ``key`` in ``family`` under the shard map in force (one name for all keys in a
        process that runs every task itself), so a caller can batch work by owner."""


DEVICE_LIST_WAIT_SECONDS = 10.0


def device_list_changed(dispatcher: Dispatcher, user_id: str) -> None:
    """A device of ``user_id`` was added, renamed or removed (the outbox row is already committed)."""
    dispatcher.send(DRAIN_DEVICE_LISTS, user_id=user_id)


def write_device_list_change(dispatcher: Dispatcher, user_id: str) -> None:
    """As ``device_list_changed``, but wait (bounded) until the device-lists writer has put the change on the
    stream, so the ``/sync`` or ``/keys/changes`` a client makes after its request already names it. Raises
    ServerUnavailable when the writer did not answer in time; the outbox row stands, and beat's sweep has it
    written later."""
    dispatcher.call(DRAIN_DEVICE_LISTS, timeout=DEVICE_LIST_WAIT_SECONDS, user_id=user_id)


def user_directory_changed(dispatcher: Dispatcher, user_id: str) -> None:
    """The profile or account state of ``user_id`` changed; its directory entry must follow."""
    dispatcher.send(REFRESH_USER_DIRECTORY, user_id=user_id)


def media_uploaded(dispatcher: Dispatcher, media_id: str) -> None:
    """Local media got its content (committed): the media queue makes its configured thumbnails. A lost poke
    costs nothing but time: a thumbnail request makes what it needs itself."""
    dispatcher.send(GENERATE_THUMBNAILS, media_id=media_id)


def preview_url(dispatcher: Dispatcher, *, url: str, user_id: str) -> dict[str, Any]:
    """Have the media queue fetch ``url`` safely and describe it (Open Graph, its image kept as local media)."""
    result: dict[str, Any] = dispatcher.call(PREVIEW_URL, timeout=PREVIEW_TIMEOUT_SECONDS, url=url, user_id=user_id)
    return result


def fetch_remote_media(dispatcher: Dispatcher, *, origin: str, media_id: str, timeout: float) -> dict[str, Any]:
    """Have the media queue fetch ``mxc://origin/media_id`` into the remote media cache (once, however many ask);
    returns its ``media_type``, ``media_length`` and ``upload_name``."""
    result: dict[str, Any] = dispatcher.call(FETCH_REMOTE_MEDIA, timeout=timeout, origin=origin, media_id=media_id)
    return result


def fetch_remote_thumbnail(dispatcher: Dispatcher, *, origin: str, media_id: str, width: int, height: int,
                           method: str, timeout: float) -> dict[str, Any]:
    """Have the media queue fetch the origin's thumbnail of ``mxc://origin/media_id`` (once, however many ask)."""
    result: dict[str, Any] = dispatcher.call(FETCH_REMOTE_THUMBNAIL, timeout=timeout, origin=origin,
                                             media_id=media_id, width=width, height=height, method=method)
    return result


def resync_remote_device_list(dispatcher: Dispatcher, user_id: str) -> bool:
    """Fetch a remote user's device list into our cache unless we hold it; whether we hold it now."""
    return bool(dispatcher.call(RESYNC_REMOTE_DEVICE_LIST, timeout=RESYNC_TIMEOUT_SECONDS, user_id=user_id))


def device_list_update_received(dispatcher: Dispatcher, *, origin: str, content: dict[str, Any]) -> None:
    """An ``m.device_list_update`` arrived from ``origin``: applied (or a resync started) off the request."""
    dispatcher.send(APPLY_DEVICE_LIST_UPDATE, origin=origin, content=content)


def signing_key_update_received(dispatcher: Dispatcher, *, origin: str, content: dict[str, Any]) -> None:
    """An ``m.signing_key_update`` arrived from ``origin``."""
    dispatcher.send(APPLY_SIGNING_KEY_UPDATE, origin=origin, content=content)


def member_profiles_changed(dispatcher: Dispatcher, room_id: str) -> None:
    """A member of ``room_id`` changed their profile (the outbox row is committed): their join event follows."""
    dispatcher.send(REFRESH_MEMBER_PROFILES, room_id=room_id)


def create_event(dispatcher: Dispatcher, *, room_id: str, sender: str, event_type: str, content: dict[str, Any],
                 state_key: str | None = None, redacts: str | None = None, device_id: str | None = None,
                 txn_id: str | None = None, target_memberships: list[str] | None = None) -> dict[str, Any]:
    """Have the room's events writer append an event; returns ``{"event_id", "stream_ordering"}``. With
    ``target_memberships``, the writer refuses (403) unless the state key's current membership is one of them."""
    result: dict[str, Any] = dispatcher.call(
        CREATE_EVENT, timeout=EVENT_TIMEOUT_SECONDS, room_id=room_id, sender=sender, event_type=event_type,
        content=content, state_key=state_key, redacts=redacts, device_id=device_id, txn_id=txn_id,
        target_memberships=target_memberships,
    )
    return result


def create_room(dispatcher: Dispatcher, *, room_id: str, room_version: str, creator: str,
                create_content: dict[str, Any], origin_server_ts: int,
                initial_events: list[dict[str, Any]]) -> dict[str, Any]:
    """Have the new room's events writer create it with its initial events; returns ``{"room_id"}``."""
    result: dict[str, Any] = dispatcher.call(
        CREATE_ROOM, timeout=EVENT_TIMEOUT_SECONDS, room_id=room_id, room_version=room_version, creator=creator,
        create_content=create_content, origin_server_ts=origin_server_ts, initial_events=initial_events,
    )
    return result


def receive_pdus(dispatcher: Dispatcher, *, room_id: str, origin: str, pdus: list[dict[str, Any]],
                 rejected: dict[str, str], outliers: list[dict[str, Any]] | None = None,
                 prev_states: dict[str, list[list[str]]] | None = None) -> dict[str, Any]:
    """Have the room's events writer judge and store PDUs another server sent (checks 1-3 passed); returns
    ``{"outcomes": {event_id: None | reason}, "not_stored": {event_id: why}}`` (``tasks/federation/receive.py``).
    ``outliers`` and ``prev_states`` (prev event id -> the state before it, ``[[type, state_key, event_id], ...]``)
    carry what was fetched to judge events whose prev events are missing."""
    result: dict[str, Any] = dispatcher.call(RECEIVE_PDUS, timeout=EVENT_TIMEOUT_SECONDS, room_id=room_id,
                                             origin=origin, pdus=pdus, rejected=rejected, outliers=outliers or [],
                                             prev_states=prev_states or {})
    return result


def backfill_pdus(dispatcher: Dispatcher, *, room_id: str, pdus: list[dict[str, Any]],
                  rejected: dict[str, str], outliers: list[dict[str, Any]],
                  prev_states: dict[str, list[list[str]]]) -> dict[str, Any]:
    """Have the room's events writer judge and store history a ``/backfill`` brought (checks 1-3 passed), as
    :func:`receive_pdus` does but under negative stream orderings (``tasks/federation/backfill.py``)."""
    result: dict[str, Any] = dispatcher.call(BACKFILL_PDUS, timeout=EVENT_TIMEOUT_SECONDS, room_id=room_id,
                                             pdus=pdus, rejected=rejected, outliers=outliers,
                                             prev_states=prev_states)
    return result


def put_account_data(dispatcher: Dispatcher, *, user_id: str, room_id: str, event_type: str,
                     content: dict[str, Any]) -> None:
    """Have the user's account_data writer store an entry (``room_id`` ``""`` for global); returns once committed."""
    dispatcher.call(PUT_ACCOUNT_DATA, timeout=EVENT_TIMEOUT_SECONDS, user_id=user_id, room_id=room_id,
                    event_type=event_type, content=content)


def update_tag(dispatcher: Dispatcher, *, user_id: str, room_id: str, tag: str,
               content: dict[str, Any] | None) -> None:
    """Set (``content``) or remove (None) one room tag; returns once committed."""
    dispatcher.call(UPDATE_TAG, timeout=EVENT_TIMEOUT_SECONDS, user_id=user_id, room_id=room_id, tag=tag,
                    content=content)


def send_to_device(dispatcher: Dispatcher, *, shard_key: str, sender: str, sender_device: str, txn_id: str,
                   event_type: str, messages: dict[str, dict[str, Any]]) -> None:
    """Have one to_device writer deliver ``messages`` to the recipients it owns (``shard_key`` is any one of
    them); returns once they are committed."""
    dispatcher.call(SEND_TO_DEVICE, timeout=EVENT_TIMEOUT_SECONDS, shard_key=shard_key, sender=sender,
                    sender_device=sender_device, txn_id=txn_id, event_type=event_type, messages=messages)


def acknowledge_to_device(dispatcher: Dispatcher, *, user_id: str, device_id: str, floor: int,
                          ahead: dict[str, int]) -> None:
    """The device synced past these to_device positions: what it holds up to there may go."""
    dispatcher.send(ACKNOWLEDGE_TO_DEVICE, user_id=user_id, device_id=device_id, floor=floor, ahead=ahead)


def set_typing(dispatcher: Dispatcher, *, room_id: str, user_id: str, typing: bool, timeout_ms: int) -> None:
    """Have the room's typing writer record that the user is typing for ``timeout_ms`` (or stopped); returns once
    committed."""
    dispatcher.call(SET_TYPING, timeout=EVENT_TIMEOUT_SECONDS, room_id=room_id, user_id=user_id, typing=typing,
                    timeout_ms=timeout_ms)


def put_receipt(dispatcher: Dispatcher, *, room_id: str, user_id: str, receipt_type: str, event_id: str,
                thread_id: str | None) -> None:
    """Have the room's receipts writer store a read receipt (ignored if it is not ahead of the one held); returns
    once committed."""
    dispatcher.call(PUT_RECEIPT, timeout=EVENT_TIMEOUT_SECONDS, room_id=room_id, user_id=user_id,
                    receipt_type=receipt_type, event_id=event_id, thread_id=thread_id)


def set_fully_read(dispatcher: Dispatcher, *, user_id: str, room_id: str, event_id: str) -> None:
    """Have the user's account_data writer move their ``m.fully_read`` marker forward to ``event_id``; returns once
    committed."""
    dispatcher.call(SET_FULLY_READ, timeout=EVENT_TIMEOUT_SECONDS, user_id=user_id, room_id=room_id,
                    event_id=event_id)


def set_presence(dispatcher: Dispatcher, *, user_id: str, presence: str, status_msg: str | None) -> None:
    """Have the user's presence writer set their state and status message; returns once committed."""
    dispatcher.call(SET_PRESENCE, timeout=EVENT_TIMEOUT_SECONDS, user_id=user_id, presence=presence,
                    status_msg=status_msg)


def record_sync(dispatcher: Dispatcher, *, user_id: str, presence: str, wait_ms: int) -> None:
    """Have the user's presence writer record a sync that may be held open ``wait_ms``; returns once committed,
    so the sync's own response already shows the change. Bounded briefly: a sync does not wait long for it."""
    dispatcher.call(RECORD_SYNC, timeout=PRESENCE_TIMEOUT_SECONDS, user_id=user_id, presence=presence,
                    wait_ms=wait_ms)


def put_push_rule(dispatcher: Dispatcher, *, user_id: str, kind: str, rule_id: str, actions: list[Any],
                  conditions: list[dict[str, Any]] | None, pattern: str | None, before: str | None,
                  after: str | None) -> None:
    """Have the user's push_rules writer create or replace a rule; returns once committed."""
    dispatcher.call(PUT_PUSH_RULE, timeout=EVENT_TIMEOUT_SECONDS, user_id=user_id, kind=kind, rule_id=rule_id,
                    actions=actions, conditions=conditions, pattern=pattern, before=before, after=after)


def delete_push_rule(dispatcher: Dispatcher, *, user_id: str, kind: str, rule_id: str) -> None:
    dispatcher.call(DELETE_PUSH_RULE, timeout=EVENT_TIMEOUT_SECONDS, user_id=user_id, kind=kind, rule_id=rule_id)


def set_push_rule_enabled(dispatcher: Dispatcher, *, user_id: str, kind: str, rule_id: str, enabled: bool) -> None:
    dispatcher.call(SET_PUSH_RULE_ENABLED, timeout=EVENT_TIMEOUT_SECONDS, user_id=user_id, kind=kind,
                    rule_id=rule_id, enabled=enabled)


def set_push_rule_actions(dispatcher: Dispatcher, *, user_id: str, kind: str, rule_id: str,
                          actions: list[Any]) -> None:
    dispatcher.call(SET_PUSH_RULE_ACTIONS, timeout=EVENT_TIMEOUT_SECONDS, user_id=user_id, kind=kind,
                    rule_id=rule_id, actions=actions)


def accept_remote_membership(dispatcher: Dispatcher, *, room_id: str, pdu: dict[str, Any]) -> dict[str, Any]:
    """Have the room's events writer check a membership event another server built (signatures already checked)
    against the room and append it; returns ``{"event_id", "stream_ordering"}``, 403 if the room forbids it."""
    result: dict[str, Any] = dispatcher.call(ACCEPT_REMOTE_MEMBERSHIP, timeout=EVENT_TIMEOUT_SECONDS,
                                             room_id=room_id, pdu=pdu)
    return result


def store_outside_membership(dispatcher: Dispatcher, *, room_id: str, room_version: str, pdu: dict[str, Any],
                             stripped_state: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Have the room's events writer keep a membership of one of our users in a room this server is not in (an
    invite from another server, our knock or leave through a resident), with the stripped state it came with."""
    result: dict[str, Any] = dispatcher.call(STORE_OUTSIDE_MEMBERSHIP, timeout=EVENT_TIMEOUT_SECONDS,
                                             room_id=room_id, room_version=room_version, pdu=pdu,
                                             stripped_state=stripped_state)
    return result


def join_remote_room(dispatcher: Dispatcher, *, room_id: str, room_version: str, join: dict[str, Any],
                     state: list[dict[str, Any]], auth_chain: list[dict[str, Any]]) -> dict[str, Any]:
    """Have the room's events writer store a resident server's ``send_join`` answer (signatures checked) and our
    user's join; returns ``{"event_id", "stream_ordering"}``."""
    result: dict[str, Any] = dispatcher.call(JOIN_REMOTE_ROOM, timeout=EVENT_TIMEOUT_SECONDS, room_id=room_id,
                                             room_version=room_version, join=join, state=state,
                                             auth_chain=auth_chain)
    return result


def reject_invite_locally(dispatcher: Dispatcher, *, room_id: str, user_id: str) -> dict[str, Any]:
    """Have the room's events writer reject ``user_id``'s invite here alone (no server of the room answered)."""
    result: dict[str, Any] = dispatcher.call(REJECT_INVITE_LOCALLY, timeout=EVENT_TIMEOUT_SECONDS, room_id=room_id,
                                             user_id=user_id)
    return result


QUEUE_EDU = "federation.queue_edu"
DESTINATION_UP = "federation.destination_up"
FEDERATION_TIMEOUT_SECONDS = 30.0
REMOTE_TYPING_TIMEOUT_MS = 30_000
"""How long a remote user's typing lasts unless their server refreshes or stops it (Synapse's federation timeout)."""


def send_direct_to_device(dispatcher: Dispatcher, *, destination: str, sender: str, event_type: str,
                          message_id: str, messages: dict[str, dict[str, Any]]) -> None:
    """Queue ``m.direct_to_device`` for the server of the recipients in ``messages``; returns once it is stored, so
    it is sent even if this process stops. ``message_id`` is what the destination deduplicates retries by."""
    dispatcher.call(QUEUE_EDU, timeout=FEDERATION_TIMEOUT_SECONDS, shard_key=destination, edu_type="m.direct_to_device",
                    destinations=[destination], content={"sender": sender, "type": event_type,
                                                         "message_id": message_id, "messages": messages})


def remote_server_up(dispatcher: Dispatcher, origin: str) -> None:
    """``origin`` reached us: if we were backing off from it, stop, and send it what it missed."""
    dispatcher.send(DESTINATION_UP, destination=origin)


def set_remote_typing(dispatcher: Dispatcher, *, room_id: str, user_id: str, typing: bool) -> None:
    """A remote user's typing (``m.typing``), fire-and-forget: EDUs are best effort, and the next one corrects."""
    dispatcher.send(SET_TYPING, room_id=room_id, user_id=user_id, typing=typing, timeout_ms=REMOTE_TYPING_TIMEOUT_MS)


def put_remote_receipt(dispatcher: Dispatcher, *, room_id: str, user_id: str, receipt_type: str, event_id: str,
                       thread_id: str | None) -> None:
    """A remote user's receipt (``m.receipt``), fire-and-forget."""
    dispatcher.send(PUT_RECEIPT, room_id=room_id, user_id=user_id, receipt_type=receipt_type, event_id=event_id,
                    thread_id=thread_id)


def set_remote_presence(dispatcher: Dispatcher, *, user_id: str, presence: str, status_msg: str | None,
                        last_active_ago: int, currently_active: bool) -> None:
    """A remote user's presence (``m.presence``), fire-and-forget."""
    dispatcher.send(SET_REMOTE_PRESENCE, user_id=user_id, presence=presence, status_msg=status_msg,
                    last_active_ago=last_active_ago, currently_active=currently_active)
