"""``PUT /sendToDevice/{eventType}/{txnId}`` (Client-Server API, "Send-to-Device messaging").

Recipients are grouped by the to_device writer that owns them, and each group goes to its writer in one task;
the request answers once every group is committed. Recipients on other servers get one ``m.direct_to_device`` EDU
per server, queued for the federation senders before the request answers.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint

from protocol.errors import BadJson, InvalidParam
from protocol.identifiers import UserId
from tasks import api as tasks_api
from web.auth import authenticate
from web.deps import deps
from web.requests import Body, json_body
from web.routing import client_route

MAX_TXN_ID_LENGTH = 255
MAX_ID_LENGTH = 255
STREAM = "to_device"


def _messages(body: Body, server_name: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The messages for our users, and those for other servers' users by server."""
    messages = body.object("messages")
    assert messages is not None
    local: dict[str, dict[str, Any]] = {}
    remote: dict[str, dict[str, Any]] = {}
    for user_id, devices in messages.data.items():
        try:
            parsed = UserId.parse(user_id)
        except ValueError:
            raise BadJson(f"'messages' must be keyed by user ids; {user_id!r} is not one") from None
        if not isinstance(devices, dict) or not all(isinstance(content, dict) for content in devices.values()):
            raise BadJson(f"'messages.{user_id}' must map device ids to objects")
        if any(len(device_id) > MAX_ID_LENGTH or "\x00" in device_id for device_id in devices):
            raise BadJson(f"'messages.{user_id}' holds an invalid device id")
        if parsed.server_name == server_name and devices:
            local[user_id] = devices
        elif devices:
            remote.setdefault(parsed.server_name, {})[user_id] = devices
    return local, remote


def _message_id(sender: str, device_id: str, txn_id: str, destination: str) -> str:
    """The same for a client's retry of a transaction, so the destination drops the repeat (it deduplicates
    ``m.direct_to_device`` by origin and message id)."""
    return hashlib.sha256("\x00".join((sender, device_id, txn_id, destination)).encode()).hexdigest()[:32]


def send_to_device(event_type: str, txn_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    if len(txn_id) > MAX_TXN_ID_LENGTH or len(event_type) > MAX_ID_LENGTH:
        raise InvalidParam("Transaction id or event type too long")
    local, remote = _messages(json_body(), current.config.server_name)
    by_queue: dict[str, dict[str, dict[str, Any]]] = {}
    for user_id, devices in local.items():
        by_queue.setdefault(current.dispatcher.shard_of(STREAM, user_id), {})[user_id] = devices
    for group in by_queue.values():
        tasks_api.send_to_device(current.dispatcher, shard_key=next(iter(group)), sender=requester.user_id,
                                 sender_device=requester.device_id, txn_id=txn_id, event_type=event_type,
                                 messages=group)
    for destination, messages in sorted(remote.items()):
        tasks_api.send_direct_to_device(
            current.dispatcher, destination=destination, sender=requester.user_id, event_type=event_type,
            message_id=_message_id(requester.user_id, requester.device_id or "", txn_id, destination),
            messages=messages)
    return {}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/sendToDevice/<event_type>/<txn_id>", methods=["PUT"])(send_to_device)
