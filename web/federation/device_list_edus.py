"""Inbound ``m.device_list_update`` and ``m.signing_key_update`` EDUs (Server-Server API, "Device Management",
"End-to-End Encryption"): checked here (a server speaks for its own users only) and applied by the ``background``
queue (``tasks/remote_device_lists.py``), since applying one may mean asking the origin for the whole list and
the transaction that carried it must not wait for that. Handlers for ``web/federation/edus.py``'s table."""

from __future__ import annotations

import logging
from typing import Any

from protocol.federation.device_lists import BadDeviceList, parse_device_list_update, parse_signing_key_update
from tasks import api as tasks_api
from web.deps import Deps

logger = logging.getLogger(__name__)

DEVICE_LIST_UPDATE = "m.device_list_update"
SIGNING_KEY_UPDATE = "m.signing_key_update"


def receive_device_list_update(deps: Deps, origin: str, content: dict[str, Any]) -> None:
    try:
        parse_device_list_update(origin, content)
    except BadDeviceList as error:
        logger.info("dropped an %s from %s: %s", DEVICE_LIST_UPDATE, origin, error)
        return
    tasks_api.device_list_update_received(deps.dispatcher, origin=origin, content=content)


def receive_signing_key_update(deps: Deps, origin: str, content: dict[str, Any]) -> None:
    try:
        parse_signing_key_update(origin, content)
    except BadDeviceList as error:
        logger.info("dropped an %s from %s: %s", SIGNING_KEY_UPDATE, origin, error)
        return
    tasks_api.signing_key_update_received(deps.dispatcher, origin=origin, content=content)
