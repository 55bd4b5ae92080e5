"""Inbound EDUs (Server-Server API, "EDUs"), as the ``/send`` view hands them over after the transaction's PDUs.

Each EDU is checked and given to its stream's writer through ``tasks/api.py``; one that fails its checks is
dropped and logged, never failing the transaction (the spec answers a transaction for its PDUs only). An EDU about a
user must come from that user's server: ``origin`` is the authenticated sender of the transaction. Unknown EDU
types are ignored, as the spec asks. :data:`HANDLERS` is the dispatch table: supporting another type is one entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from protocol.errors import MatrixError, ServerUnavailable
from protocol.identifiers import UserId
from protocol.presence import STATES
from protocol.receipts import UNTHREADED
from tasks import api as tasks_api
from web.deps import Deps
from web.federation.device_list_edus import (
    DEVICE_LIST_UPDATE,
    SIGNING_KEY_UPDATE,
    receive_device_list_update,
    receive_signing_key_update,
)

logger = logging.getLogger(__name__)

TO_DEVICE_STREAM = "to_device"
FEDERATED_RECEIPT_TYPES = frozenset({"m.read"})


class InvalidEdu(Exception):
    """An EDU that breaks the spec's rules: dropped, with the reason logged."""


def _server_of(user_id: object) -> str:
    if not isinstance(user_id, str):
        raise InvalidEdu(f"{user_id!r} is not a user id")
    try:
        return UserId.parse(user_id).server_name
    except ValueError:
        raise InvalidEdu(f"{user_id!r} is not a user id") from None


def _from_origin(user_id: object, origin: str) -> str:
    """``user_id`` when it belongs to ``origin`` (a server speaks only for its own users)."""
    if _server_of(user_id) != origin:
        raise InvalidEdu(f"{user_id!r} does not belong to {origin}")
    assert isinstance(user_id, str)
    return user_id


def _joined(deps: Deps, room_id: object, user_id: str) -> str:
    if not isinstance(room_id, str):
        raise InvalidEdu("room_id must be a string")
    with deps.database.read() as conn:
        membership = deps.stores.state.get_membership(conn, room_id, user_id)
    if membership is None or membership[0] != "join":
        raise InvalidEdu(f"{user_id} is not joined to {room_id}")
    return room_id


def receive_typing(deps: Deps, origin: str, content: dict[str, Any]) -> None:
    user_id = _from_origin(content.get("user_id"), origin)
    room_id = _joined(deps, content.get("room_id"), user_id)
    typing = content.get("typing")
    if not isinstance(typing, bool):
        raise InvalidEdu("typing must be a boolean")
    tasks_api.set_remote_typing(deps.dispatcher, room_id=room_id, user_id=user_id, typing=typing)


def receive_receipt(deps: Deps, origin: str, content: dict[str, Any]) -> None:
    """``{room_id: {receipt_type: {user_id: {event_ids, data}}}}``: the latest receipt of each user, per room."""
    for room_id, by_type in content.items():
        for receipt_type, by_user in (by_type.items() if isinstance(by_type, dict) else ()):
            if receipt_type not in FEDERATED_RECEIPT_TYPES or not isinstance(by_user, dict):
                continue
            for user_id, receipt in by_user.items():
                try:
                    _receive_one_receipt(deps, origin, room_id, receipt_type, user_id, receipt)
                except InvalidEdu as error:
                    logger.info("dropped a receipt from %s: %s", origin, error)


def _receive_one_receipt(deps: Deps, origin: str, room_id: str, receipt_type: str, user_id: str,
                         receipt: Any) -> None:
    user_id = _from_origin(user_id, origin)
    _joined(deps, room_id, user_id)
    event_ids = receipt.get("event_ids") if isinstance(receipt, dict) else None
    if not isinstance(event_ids, list) or not event_ids or not all(isinstance(e, str) for e in event_ids):
        raise InvalidEdu("event_ids must be a non-empty list of event ids")
    data = receipt.get("data")
    thread_id = data.get("thread_id") if isinstance(data, dict) else None
    if thread_id is not None and not isinstance(thread_id, str):
        raise InvalidEdu("thread_id must be a string")
    with deps.database.read() as conn:
        found = deps.stores.events.get_events(conn, event_ids)
    known = [event_id for event_id in event_ids if event_id in found and found[event_id].room_id == room_id]
    if not known:
        raise InvalidEdu(f"none of {event_ids} is known in {room_id}")
    # The spec allows several ids; a user's read receipt is one position, the latest of them.
    latest = max(known, key=lambda event_id: found[event_id].stream_ordering)
    tasks_api.put_remote_receipt(deps.dispatcher, room_id=room_id, user_id=user_id, receipt_type=receipt_type,
                                 event_id=latest, thread_id=thread_id if thread_id != UNTHREADED else None)


def receive_presence(deps: Deps, origin: str, content: dict[str, Any]) -> None:
    if not deps.config.presence.enabled:
        return
    pushes = content.get("push")
    if not isinstance(pushes, list):
        raise InvalidEdu("push must be a list")
    for push in pushes:
        try:
            if not isinstance(push, dict):
                raise InvalidEdu("each push must be an object")
            user_id = _from_origin(push.get("user_id"), origin)
            presence = push.get("presence")
            status_msg = push.get("status_msg")
            last_active_ago = push.get("last_active_ago", 0)
            if presence not in STATES:
                raise InvalidEdu(f"unknown presence {presence!r}")
            if status_msg is not None and not isinstance(status_msg, str):
                raise InvalidEdu("status_msg must be a string")
            if not isinstance(last_active_ago, int) or isinstance(last_active_ago, bool) or last_active_ago < 0:
                raise InvalidEdu("last_active_ago must be a non-negative integer")
            tasks_api.set_remote_presence(deps.dispatcher, user_id=user_id, presence=str(presence),
                                          status_msg=status_msg, last_active_ago=last_active_ago,
                                          currently_active=push.get("currently_active") is True)
        except InvalidEdu as error:
            logger.info("dropped a presence update from %s: %s", origin, error)


def receive_direct_to_device(deps: Deps, origin: str, content: dict[str, Any]) -> None:
    """``m.direct_to_device``: messages for our users' devices, delivered before the transaction is answered so
    the sending server may forget them (they are deduplicated by ``message_id``)."""
    sender = _from_origin(content.get("sender"), origin)
    event_type, message_id, messages = content.get("type"), content.get("message_id"), content.get("messages")
    if not isinstance(event_type, str) or not isinstance(message_id, str) or not isinstance(messages, dict):
        raise InvalidEdu("type, message_id and messages are required")
    ours = deps.config.server_name
    by_writer: dict[str, dict[str, dict[str, Any]]] = {}
    for user_id, devices in messages.items():
        if _server_of(user_id) != ours:
            raise InvalidEdu(f"{user_id} is not a user of this server")
        if not isinstance(devices, dict) or not all(isinstance(body, dict) for body in devices.values()):
            raise InvalidEdu(f"messages for {user_id} must map device ids to objects")
        if devices:
            by_writer.setdefault(deps.dispatcher.shard_of(TO_DEVICE_STREAM, user_id), {})[user_id] = devices
    for group in by_writer.values():
        tasks_api.send_to_device(deps.dispatcher, shard_key=next(iter(group)), sender=sender, sender_device="",
                                 txn_id=message_id, event_type=event_type, messages=group)


EduHandler = Callable[[Deps, str, dict[str, Any]], None]
HANDLERS: dict[str, EduHandler] = {
    "m.typing": receive_typing,
    "m.receipt": receive_receipt,
    "m.presence": receive_presence,
    "m.direct_to_device": receive_direct_to_device,
    DEVICE_LIST_UPDATE: receive_device_list_update,
    SIGNING_KEY_UPDATE: receive_signing_key_update,
}


def receive_edus(deps: Deps, origin: str, edus: list[dict[str, Any]]) -> None:
    """Hand each EDU of a transaction from ``origin`` to its handler; invalid or unknown ones are dropped."""
    for edu in edus:
        if not isinstance(edu, dict):
            continue
        handler = HANDLERS.get(str(edu.get("edu_type")))
        content = edu.get("content")
        if handler is None or not isinstance(content, dict):
            continue
        try:
            handler(deps, origin, content)
        except InvalidEdu as error:
            logger.info("dropped %s from %s: %s", edu.get("edu_type"), origin, error)
        except ServerUnavailable:
            raise  # a writer could not be reached: fail the transaction, so the origin sends it again
        except MatrixError as error:  # the writer refused it (an unknown event, a room it does not hold)
            logger.info("could not apply %s from %s: %s", edu.get("edu_type"), origin, error)
