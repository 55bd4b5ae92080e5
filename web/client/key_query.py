"""``POST /keys/query`` and ``GET /keys/changes`` (Client-Server API, "End-to-End Encryption", "Key management
API"): whose keys a client must (re)fetch, and the keys themselves.

Signatures uploaded after a key (``/keys/signatures/upload``) are merged into it here. The spec lets a requester
see the owner's signatures and their own ("Cross-signing": a user-signing key's signatures on another user's
master key are for the signer alone), so each key carries exactly those.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from persistence.stores.cross_signing import CrossSigningKey
from protocol.e2e_keys import MASTER, MAX_ID_LENGTH, SELF_SIGNING, USER_SIGNING
from protocol.errors import BadJson
from protocol.identifiers import UserId
from protocol.sync_filters import SyncFilter
from protocol.sync_tokens import MAX_TOKEN_LENGTH, parse_sync_token
from web.auth import authenticate
from web.client.remote_users import split_by_server
from web.deps import Deps, deps
from web.remote.keys import DEFAULT_TIMEOUT_MS, merge_remote_keys
from web.requests import Body, json_body, required_query_text
from web.routing import client_route
from web.sync.device_lists import device_list_changes
from web.sync.rooms import Range, SyncReader

EVENTS, DEVICE_LISTS = "events", "device_lists"
SIGNATURES = dict[str, dict[str, str]]


def parse_wanted(body: Body) -> dict[str, list[str]]:
    wanted = body.object("device_keys")
    assert wanted is not None
    found: dict[str, list[str]] = {}
    for user_id, device_ids in wanted.data.items():
        try:
            UserId.parse(user_id)
        except ValueError:
            raise BadJson(f"'device_keys' must be keyed by user ids; {user_id!r} is not one") from None
        if device_ids is None:
            device_ids = []
        if not isinstance(device_ids, list) or not all(
                isinstance(device_id, str) and len(device_id) <= MAX_ID_LENGTH and "\x00" not in device_id
                for device_id in device_ids):
            raise BadJson(f"'device_keys.{user_id}' must be a list of device ids")
        found[user_id] = device_ids
    return found


def _with_signatures(key: dict[str, Any], extra: SIGNATURES | None) -> dict[str, Any]:
    if not extra:
        return key
    signatures = {signer: dict(by_key) for signer, by_key in key.get("signatures", {}).items()}
    for signer, by_key in extra.items():
        signatures.setdefault(signer, {}).update(by_key)
    return {**key, "signatures": signatures}


def local_keys(current: Deps, wanted: dict[str, list[str]], viewer: str | None) -> dict[str, Any]:
    """The keys of local users: for a local ``viewer``, with their own signatures and their user-signing key;
    for another server (``viewer`` None), with the owners' signatures only and no user-signing keys."""
    stores = current.stores
    with current.database.read() as conn:
        devices = stores.e2e_keys.list_device_keys(conn, wanted)
        cross = stores.cross_signing.list_keys(conn, wanted)
        targets = [(user_id, item.device_id) for user_id, items in devices.items() for item in items]
        targets += [(user_id, keys[MASTER].public_key) for user_id, keys in cross.items() if MASTER in keys]
        signers = {*wanted, *([viewer] if viewer else [])}
        signatures = stores.cross_signing.list_signatures(conn, targets, signers)

    def signed(user_id: str, target: str, key: dict[str, Any]) -> dict[str, Any]:
        visible = {signer: by_key for signer, by_key in signatures.get((user_id, target), {}).items()
                   if signer in (user_id, viewer)}
        return _with_signatures(key, visible)

    device_keys: dict[str, dict[str, Any]] = {user_id: {} for user_id in wanted}
    for user_id, items in devices.items():
        for item in items:
            served = signed(user_id, item.device_id, item.keys)
            # ``unsigned`` is always there, as Synapse serves it (SyTest reads it before any display name is set).
            uploaded = served.get("unsigned")
            unsigned = dict(uploaded) if isinstance(uploaded, dict) else {}
            # Device names are not shown to other servers (Synapse's allow_device_name_lookup_over_federation off).
            if item.display_name is not None and viewer is not None:
                unsigned["device_display_name"] = item.display_name
            device_keys[user_id][item.device_id] = {**served, "unsigned": unsigned}
    master_keys, self_signing_keys, user_signing_keys = {}, {}, {}
    for user_id, keys in cross.items():
        master: CrossSigningKey | None = keys.get(MASTER)
        if master is not None:
            master_keys[user_id] = signed(user_id, master.public_key, master.key)
        if SELF_SIGNING in keys:
            self_signing_keys[user_id] = keys[SELF_SIGNING].key
        # A user-signing key is the owner's business alone ("Cross-signing").
        if USER_SIGNING in keys and user_id == viewer:
            user_signing_keys[user_id] = keys[USER_SIGNING].key
    answer: dict[str, Any] = {"device_keys": device_keys, "master_keys": master_keys,
                              "self_signing_keys": self_signing_keys}
    if viewer is not None:
        answer["user_signing_keys"] = user_signing_keys
    return answer


def query_keys() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    body = json_body()
    timeout_ms = body.integer("timeout", DEFAULT_TIMEOUT_MS)
    local, remote = split_by_server(parse_wanted(body), current.config.server_name)
    response = local_keys(current, local, requester.user_id)
    response["failures"] = {}
    merge_remote_keys(current, remote, response, timeout_ms)
    return response


def get_key_changes() -> dict[str, Any]:
    """Users whose device lists changed between two sync tokens (``from`` exclusive, ``to`` inclusive), and who
    stopped sharing a room with the requester: the same answer the ``device_lists`` of syncs over that range
    would have given."""
    current = deps()
    requester = authenticate(current, allow_guest=True)
    since = parse_sync_token(required_query_text("from", max_length=MAX_TOKEN_LENGTH), name="from")
    until = parse_sync_token(required_query_text("to", max_length=MAX_TOKEN_LENGTH), name="to")
    stores = current.stores
    with current.database.read() as conn:
        reader = SyncReader(current, conn, requester.user_id, requester.device_id, SyncFilter(),
                            current.clock.now_ms())
        events = Range(since.stream(EVENTS), until.stream(EVENTS))
        devices = Range(since.stream(DEVICE_LISTS), until.stream(DEVICE_LISTS))
        joined = set(stores.state.list_rooms_with_membership(conn, requester.user_id, "join"))
        own_changes = [] if events.unchanged else stores.events.list_membership_changes(
            conn, requester.user_id, events.since, events.until)
        came = {stored.room_id for stored in own_changes if stored.event.content.get("membership") == "join"}
        went = {stored.room_id for stored in own_changes
                if stored.event.content.get("membership") in ("leave", "ban")}
        changes = device_list_changes(reader, events, devices, joined=joined, fresh_joins=came & joined,
                                      left_rooms=went - joined)
    return changes


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/keys/query", methods=["POST"])(query_keys)
    client_route(blueprint, "/keys/changes", methods=["GET"])(get_key_changes)
