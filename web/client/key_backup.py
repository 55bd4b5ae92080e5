"""Server-side key backups (Client-Server API, "Server-side key backups"): ``/room_keys/version[/{version}]`` and
``/room_keys/keys[/{roomId}[/{sessionId}]]``, a user's encrypted copies of their megolm session keys.

The web tier writes these rows itself, with no stream writer: nothing here is a sync stream (no other process
waits on a position, nothing rings the doorbell), and no follow-up work leaves the server. What a queue would
buy, one writer at a time per user, the user's ``room_keys`` lock gives inside the write transaction: every
request that changes a user's backups takes it first, so version numbers, the "current version" check, the
replacement decision per session, ``etag`` and ``count`` are each read and written by one request at a time and
always see the previous one's commit. Two devices uploading at once both land, and the counters stay exact.
The answer comes after the commit (DESIGN.md guarantee 2).

``etag`` is the number of changes made to the version's keys, so it changes exactly when they do: an upload the
replacement rules keep nothing of, or a delete that finds nothing, leaves it alone. Versions are numbered per
user and a deleted one keeps its number, so it never comes back. Any backup algorithm is accepted (clients try
newer ones from MSCs); the spec's ``m.megolm_backup.v1.curve25519-aes-sha2`` must carry its ``public_key``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from persistence.stores.key_backups import BackupVersion, SessionKey, lock_room_keys
from protocol.errors import BadJson, InvalidParam, MissingParam, NotFound, WrongRoomKeysVersion
from protocol.key_backup import RoomKeyData, parse_room_key, replaces
from web.auth import authenticate
from web.deps import deps
from web.requests import Body, json_body, required_query_text
from web.routing import client_route

MEGOLM_BACKUP_V1 = "m.megolm_backup.v1.curve25519-aes-sha2"
MAX_NAME_LENGTH = 255
"""Bounds algorithm names, room ids (as the spec bounds them) and session ids (43 characters in practice)."""
_VERSION = re.compile(r"[1-9][0-9]{0,17}")


def _version_number(version: str) -> int | None:
    """The number a version string names; anything we never handed out names no version."""
    return int(version) if _VERSION.fullmatch(version) else None


def _room_id(room_id: str) -> str:
    if not room_id.startswith("!") or len(room_id.encode("utf-8")) > MAX_NAME_LENGTH:
        raise InvalidParam(f"{room_id!r} is not a room id")
    return room_id


def _session_id(session_id: str) -> str:
    if not session_id or len(session_id) > MAX_NAME_LENGTH:
        raise InvalidParam("Session ids are 1 to 255 characters")
    return session_id


def _unknown(version: str) -> NotFound:
    return NotFound(f"Unknown backup version {version[:40]!r}")


def _readable(conn: Connection, user_id: str, version: str) -> BackupVersion:
    """The named version, which must exist and not be deleted (any version, not only the current one)."""
    number = _version_number(version)
    backup = None if number is None else deps().stores.key_backups.get_version(conn, user_id, number)
    if backup is None or backup.deleted:
        raise _unknown(version)
    return backup


def _writable(conn: Connection, user_id: str, version: str) -> BackupVersion:
    """The named version if it is the current one. A version the user had but replaced or deleted is
    ``M_WRONG_ROOM_KEYS_VERSION`` naming the current one, so the client can follow; with no current backup, or
    for a version that never existed, ``M_NOT_FOUND``."""
    store = deps().stores.key_backups
    current = store.get_current_version(conn, user_id)
    number = _version_number(version)
    if current is not None and number == current.version:
        return current
    if current is None or number is None or store.get_version(conn, user_id, number) is None:
        raise _unknown(version)
    raise WrongRoomKeysVersion("Wrong backup version.", current_version=str(current.version))


def _counters(backup: BackupVersion) -> dict[str, Any]:
    return {"etag": str(backup.etag), "count": backup.count}


def _described(backup: BackupVersion) -> dict[str, Any]:
    return {"algorithm": backup.algorithm, "auth_data": backup.auth_data, "version": str(backup.version),
            **_counters(backup)}


def _algorithm_and_auth_data(body: Body) -> tuple[str, Any]:
    """The backup's algorithm and ``auth_data``. An object is checked as the spec shapes it (``public_key``
    required for ``m.megolm_backup.v1``); any other JSON value is opaque data the server stores and serves back as
    sent, as Synapse does (SyTest's backups carry a string). Null or absent is a missing parameter."""
    algorithm = body.text("algorithm", max_length=MAX_NAME_LENGTH)
    if not algorithm:
        raise InvalidParam("'algorithm' must not be empty")
    if body.data.get("auth_data") is None:
        raise MissingParam("Missing parameter: auth_data")
    if not isinstance(body.data["auth_data"], dict):
        return algorithm, body.data["auth_data"]
    auth_data = body.object("auth_data")
    assert auth_data is not None
    if algorithm == MEGOLM_BACKUP_V1:
        auth_data.text("public_key")
    return algorithm, auth_data.data


# --- versions -------------------------------------------------------------------------------------------------------
def post_room_keys_version() -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    algorithm, auth_data = _algorithm_and_auth_data(json_body())
    with current.database.write() as conn:
        lock_room_keys(conn, user_id)
        number = current.stores.key_backups.insert_version(conn, user_id, algorithm, auth_data)
    return {"version": str(number)}


def get_room_keys_version_current() -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    with current.database.read() as conn:
        backup = current.stores.key_backups.get_current_version(conn, user_id)
    if backup is None:
        raise NotFound("No current backup version")
    return _described(backup)


def get_room_keys_version(version: str) -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    with current.database.read() as conn:
        return _described(_readable(conn, user_id, version))


def put_room_keys_version(version: str) -> dict[str, Any]:
    """Only ``auth_data`` changes; the algorithm, and a ``version`` in the body, must match what is there."""
    current = deps()
    user_id = authenticate(current).user_id
    body = json_body()
    algorithm, auth_data = _algorithm_and_auth_data(body)
    if body.text("version", None, max_length=MAX_NAME_LENGTH) not in (None, version):
        raise InvalidParam("Version in body does not match")
    with current.database.write() as conn:
        lock_room_keys(conn, user_id)
        backup = _readable(conn, user_id, version)
        if algorithm != backup.algorithm:
            raise InvalidParam("Algorithm does not match")
        current.stores.key_backups.update_auth_data(conn, user_id, backup.version, auth_data)
    return {}


def delete_room_keys_version(version: str) -> dict[str, Any]:
    """Deletes the version and its keys; deleting it again succeeds, as the spec asks."""
    current = deps()
    user_id = authenticate(current).user_id
    number = _version_number(version)
    with current.database.write() as conn:
        lock_room_keys(conn, user_id)
        backup = None if number is None else current.stores.key_backups.get_version(conn, user_id, number)
        if backup is None:
            raise _unknown(version)
        if not backup.deleted:
            current.stores.key_backups.delete_version(conn, user_id, backup.version)
    return {}


# --- keys -----------------------------------------------------------------------------------------------------------
def _sessions(body: Body, room_id: str, path: str) -> dict[SessionKey, RoomKeyData]:
    """A ``RoomKeyBackup`` object's ``sessions``, keyed by (room, session)."""
    sessions = body.object("sessions")
    assert sessions is not None
    keys = {}
    for session_id, data in sessions.data.items():
        if not session_id or len(session_id) > MAX_NAME_LENGTH or "\x00" in session_id:
            raise BadJson(f"'{path}sessions' keys must be session ids of 1 to 255 characters")
        keys[(room_id, session_id)] = parse_room_key(data, f"{path}sessions.{session_id}")
    return keys


def _store_keys(user_id: str, uploaded: dict[SessionKey, RoomKeyData]) -> dict[str, Any]:
    """Write ``uploaded`` into the current backup the request names, each key kept or replaced by the spec's
    rules, and answer the new ``etag`` and ``count``."""
    current = deps()
    version = required_query_text("version")
    store = current.stores.key_backups
    with current.database.write() as conn:
        lock_room_keys(conn, user_id)
        backup = _writable(conn, user_id, version)
        stored = store.get_keys(conn, user_id, backup.version, uploaded)
        new = {session: data for session, data in uploaded.items() if session not in stored}
        replaced = {session: data for session, data in uploaded.items()
                    if session in stored and replaces(data, stored[session])}
        if not new and not replaced:
            return _counters(backup)
        store.insert_keys(conn, user_id, backup.version, new)
        store.update_keys(conn, user_id, backup.version, replaced)
        etag, count = backup.etag + 1, backup.count + len(new)
        store.update_counters(conn, user_id, backup.version, etag, count)
    return {"etag": str(etag), "count": count}


def _delete_keys(room_id: str | None = None, session_id: str | None = None) -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    version = required_query_text("version")
    store = current.stores.key_backups
    with current.database.write() as conn:
        lock_room_keys(conn, user_id)
        backup = _readable(conn, user_id, version)
        removed = store.delete_keys(conn, user_id, backup.version, room_id, session_id)
        if not removed:
            return _counters(backup)
        etag, count = backup.etag + 1, backup.count - removed
        store.update_counters(conn, user_id, backup.version, etag, count)
    return {"etag": str(etag), "count": count}


def _read_keys(room_id: str | None = None, session_id: str | None = None) -> dict[SessionKey, RoomKeyData]:
    current = deps()
    user_id = authenticate(current).user_id
    version = required_query_text("version")
    with current.database.read() as conn:
        backup = _readable(conn, user_id, version)
        return current.stores.key_backups.list_keys(conn, user_id, backup.version, room_id, session_id)


def _by_room(keys: dict[SessionKey, RoomKeyData]) -> dict[str, dict[str, Any]]:
    rooms: dict[str, dict[str, Any]] = {}
    for (room_id, session_id), data in keys.items():
        rooms.setdefault(room_id, {"sessions": {}})["sessions"][session_id] = data.to_client()
    return rooms


def _requester() -> str:
    return authenticate(deps()).user_id


def put_room_keys() -> dict[str, Any]:
    user_id = _requester()
    rooms = json_body().object("rooms")
    assert rooms is not None
    uploaded: dict[SessionKey, RoomKeyData] = {}
    for room_id in rooms.data:
        if not room_id.startswith("!") or len(room_id.encode("utf-8")) > MAX_NAME_LENGTH or "\x00" in room_id:
            raise BadJson("'rooms' keys must be room ids")
        room = rooms.object(room_id)
        assert room is not None
        uploaded.update(_sessions(room, room_id, f"rooms.{room_id}."))
    return _store_keys(user_id, uploaded)


def get_room_keys() -> dict[str, Any]:
    return {"rooms": _by_room(_read_keys())}


def delete_room_keys() -> dict[str, Any]:
    return _delete_keys()


def put_room_keys_by_room_id(room_id: str) -> dict[str, Any]:
    user_id = _requester()
    room_id = _room_id(room_id)
    return _store_keys(user_id, _sessions(json_body(), room_id, ""))


def get_room_keys_by_room_id(room_id: str) -> dict[str, Any]:
    room_id = _room_id(room_id)
    return _by_room(_read_keys(room_id)).get(room_id, {"sessions": {}})


def delete_room_keys_by_room_id(room_id: str) -> dict[str, Any]:
    return _delete_keys(_room_id(room_id))


def put_room_key_by_session_id(room_id: str, session_id: str) -> dict[str, Any]:
    user_id = _requester()
    key = (_room_id(room_id), _session_id(session_id))
    return _store_keys(user_id, {key: parse_room_key(json_body().data, "")})


def get_room_key_by_session_id(room_id: str, session_id: str) -> dict[str, Any]:
    key = (_room_id(room_id), _session_id(session_id))
    data = _read_keys(*key).get(key)
    if data is None:
        raise NotFound("Key not found")
    return data.to_client()


def delete_room_key_by_session_id(room_id: str, session_id: str) -> dict[str, Any]:
    return _delete_keys(_room_id(room_id), _session_id(session_id))


def register_routes(blueprint: Blueprint) -> None:
    for path, views in (
        ("/room_keys/version", {"POST": post_room_keys_version, "GET": get_room_keys_version_current}),
        ("/room_keys/version/<version>", {"GET": get_room_keys_version, "PUT": put_room_keys_version,
                                          "DELETE": delete_room_keys_version}),
        ("/room_keys/keys", {"PUT": put_room_keys, "GET": get_room_keys, "DELETE": delete_room_keys}),
        ("/room_keys/keys/<room_id>", {"PUT": put_room_keys_by_room_id, "GET": get_room_keys_by_room_id,
                                       "DELETE": delete_room_keys_by_room_id}),
        ("/room_keys/keys/<room_id>/<session_id>", {"PUT": put_room_key_by_session_id,
                                                    "GET": get_room_key_by_session_id,
                                                    "DELETE": delete_room_key_by_session_id}),
    ):
        for method, view in views.items():
            client_route(blueprint, path, methods=[method])(view)
