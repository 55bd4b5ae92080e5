"""End-to-end keys of remote users for ``/keys/query`` and ``/keys/claim`` (Client-Server API, "Key management
API"): one request per server, all at once, within the client's ``timeout``; a server that fails is named under
``failures`` and the rest of the answer stands.

Users whose device lists we track (``tasks/remote_device_lists.py``) are answered from the cache, kept fresh by
``m.device_list_update``; the others are asked for with ``POST /user/keys/query``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from federation_client.errors import FederationError
from tasks import api as tasks_api
from web.deps import Deps
from web.remote.calls import ask_servers

DEFAULT_TIMEOUT_MS = 10_000
MAX_TIMEOUT_MS = 60_000
KEY_FIELDS = ("device_keys", "master_keys", "self_signing_keys")


def _bounded(timeout_ms: int) -> int:
    return max(0, min(timeout_ms, MAX_TIMEOUT_MS))


def _cached_keys(current: Deps, wanted: dict[str, list[str]]) -> dict[str, Any]:
    stores = current.stores.remote_devices
    with current.database.read() as conn:
        devices = stores.list_devices(conn, wanted)
        cross = stores.list_cross_signing_keys(conn, wanted)
    answer: dict[str, Any] = {field: {} for field in KEY_FIELDS}
    for user_id, device_ids in wanted.items():
        chosen = answer["device_keys"][user_id] = {}
        for device in devices.get(user_id, []):
            if device.keys is not None and (not device_ids or device.device_id in device_ids):
                unsigned = dict(device.keys.get("unsigned") or {})
                if device.display_name is not None:
                    unsigned["device_display_name"] = device.display_name
                chosen[device.device_id] = {**device.keys, "unsigned": unsigned}
        for key_type, field in (("master", "master_keys"), ("self_signing", "self_signing_keys")):
            if key_type in cross.get(user_id, {}):
                answer[field][user_id] = cross[user_id][key_type]
    return answer


def track(current: Deps, user_ids: list[str]) -> set[str]:
    """Of ``user_ids`` (one remote server's), those whose device lists we hold now, having the untracked ones
    who share a room with a local user resynced (``tasks/remote_device_lists.py``)."""
    stores = current.stores.remote_devices
    with current.database.read() as conn:
        tracked = stores.list_tracked(conn, user_ids)
        wanted = [user_id for user_id in user_ids if user_id not in tracked
                  and stores.shares_room_with_server(conn, user_id, current.config.server_name)]
    tracked.update(user_id for user_id in wanted if tasks_api.resync_remote_device_list(current.dispatcher, user_id))
    return tracked


def _query_server(current: Deps, server: str, wanted: dict[str, list[str]]) -> dict[str, Any]:
    tracked = track(current, list(wanted))
    answer = _cached_keys(current, {user_id: wanted[user_id] for user_id in tracked})
    untracked = {user_id: devices for user_id, devices in wanted.items() if user_id not in tracked}
    if untracked:
        remote = current.federation.client.post_json(server, "/_matrix/federation/v1/user/keys/query",
                                                     {"device_keys": untracked})
        if not isinstance(remote, dict):
            raise FederationError(f"{server} answered /user/keys/query without an object")
        for field in KEY_FIELDS:
            found = remote.get(field)
            if isinstance(found, dict):
                # Only what the server may speak for: its own users, the ones we asked about.
                answer[field].update({user_id: value for user_id, value in found.items()
                                      if user_id in untracked and isinstance(value, dict)})
    return answer


def merge_remote_keys(current: Deps, remote: dict[str, dict[str, list[str]]], response: dict[str, Any],
                      timeout_ms: int) -> None:
    """Add the keys of remote users to a ``/keys/query`` response, and its ``failures``."""
    calls: dict[str, Callable[[], dict[str, Any]]] = {
        server: (lambda server=server, wanted=wanted: _query_server(current, server, wanted))  # type: ignore[misc]
        for server, wanted in remote.items()}
    answers, failures = ask_servers(calls, _bounded(timeout_ms))
    for answer in answers.values():
        for field in KEY_FIELDS:
            response.setdefault(field, {}).update(answer[field])
    response["failures"].update(failures)


def _claim_from(current: Deps, server: str, wanted: dict[str, dict[str, str]]) -> dict[str, Any]:
    remote = current.federation.client.post_json(server, "/_matrix/federation/v1/user/keys/claim",
                                                 {"one_time_keys": wanted})
    claimed = remote.get("one_time_keys") if isinstance(remote, dict) else None
    if not isinstance(claimed, dict):
        raise FederationError(f"{server} answered /user/keys/claim without one_time_keys")
    return {user_id: keys for user_id, keys in claimed.items() if user_id in wanted and isinstance(keys, dict)}


def merge_remote_claims(current: Deps, remote: dict[str, dict[str, dict[str, str]]], response: dict[str, Any],
                        timeout_ms: int) -> None:
    """Claim keys of remote users for a ``/keys/claim`` response, and fill its ``failures``."""
    calls: dict[str, Callable[[], dict[str, Any]]] = {
        server: (lambda server=server, wanted=wanted: _claim_from(current, server, wanted))  # type: ignore[misc]
        for server, wanted in remote.items()}
    answers, failures = ask_servers(calls, _bounded(timeout_ms))
    for claimed in answers.values():
        response["one_time_keys"].update(claimed)
    response["failures"].update(failures)
