"""Room aliases and public room lists of other servers (Server-Server API, ``/query/directory`` and
``/publicRooms``), asked for a client."""

from __future__ import annotations

from typing import Any

from federation_client.errors import FederationError
from protocol.errors import NotFound
from protocol.identifiers import RoomAlias
from web.deps import Deps
from web.remote.calls import RemoteServerError, as_client_error


def remote_alias(current: Deps, alias: RoomAlias) -> tuple[str, list[str]]:
    """The room id and servers the alias's own server gives for it."""
    server = alias.server_name
    try:
        answer = current.federation.client.get_json(server, "/_matrix/federation/v1/query/directory",
                                                    {"room_alias": str(alias)})
    except FederationError as error:
        mapped = as_client_error(server, error)
        if isinstance(mapped, NotFound) or mapped.errcode == "M_NOT_FOUND":
            raise NotFound(f"Room alias {alias} not found") from None
        raise mapped from None
    room_id = answer.get("room_id") if isinstance(answer, dict) else None
    servers = answer.get("servers") if isinstance(answer, dict) else None
    if not isinstance(room_id, str) or not room_id.startswith("!"):
        raise RemoteServerError(f"{server} gave no room id for {alias}")
    listed = [item for item in servers if isinstance(item, str)] if isinstance(servers, list) else []
    return room_id, listed or [server]


def remote_public_rooms(current: Deps, server: str, *, limit: int | None, since: str | None,
                        search: dict[str, Any] | None, third_party_instance_id: str | None,
                        include_all_networks: bool) -> dict[str, Any]:
    """Another server's public room list, as it answered: GET when there is no filter, POST with one."""
    client = current.federation.client
    path = "/_matrix/federation/v1/publicRooms"
    given = {key: value for key, value in (("limit", limit), ("since", since),
                                           ("third_party_instance_id", third_party_instance_id)) if value is not None}
    try:
        if search:
            answer = client.post_json(server, path, {"filter": search, "include_all_networks": include_all_networks,
                                                     **given})
        else:
            flag = "true" if include_all_networks else "false"
            answer = client.get_json(server, path, {"include_all_networks": flag, **given})
    except FederationError as error:
        raise as_client_error(server, error) from None
    if not isinstance(answer, dict) or not isinstance(answer.get("chunk"), list):
        raise RemoteServerError(f"{server} answered /publicRooms without a chunk")
    return answer
