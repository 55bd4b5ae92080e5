"""Requests to an identity server for third-party invites (Identity Service API v2, "Association lookup" and
"Invitation storage"), over the federation transport.

The identity server is named by the inviting client, so requests go through the same address checks as
federation (``ip_range_blacklist``/``whitelist``, no redirects) and the same TLS trust; the client's
``id_access_token`` is passed as the spec's ``Authorization: Bearer``. Answers are checked before use: a mapping
must be a user id, an invitation must come with a token and its public keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from federation_client.errors import RemoteError, Unreachable
from federation_client.transport import Transport
from protocol.identifiers import is_valid_user_id

MAX_ANSWER_BYTES = 64 * 1024
"""Identity server answers are small; more is refused."""


class BadIdentityAnswer(Unreachable):
    """The identity server answered with something that is not what the spec describes."""


@dataclass(frozen=True)
class StoredInvite:
    """What ``/store-invite`` gave back: the token (the ``m.room.third_party_invite`` state key) and the public
    keys that will sign the invitee's proof."""

    token: str
    display_name: str
    public_keys: tuple[dict[str, str], ...]


def _call(transport: Transport, id_server: str, access_token: str, method: str, path: str,
          body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {access_token}"}
    content = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        content = json.dumps(body).encode()
    response = transport.request(method, f"https://{id_server}{path}", headers=headers, content=content,
                                 max_bytes=MAX_ANSWER_BYTES)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status >= 300:
        raise RemoteError(response.status, answer)
    if not isinstance(answer, dict):
        raise BadIdentityAnswer(f"{id_server} answered {path} with no JSON object")
    return answer


def _hashed(medium: str, address: str, pepper: str) -> str:
    """Identity Service API, "Client behaviour" of hashed lookups: ``sha256`` of ``"<address> <medium>
    <pepper>"``, unpadded URL-safe base64."""
    digest = hashlib.sha256(f"{address} {medium} {pepper}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def lookup(transport: Transport, id_server: str, access_token: str, medium: str, address: str) -> str | None:
    """The user id bound to ``medium``/``address`` at ``id_server``, or None when none is."""
    details = _call(transport, id_server, access_token, "GET", "/_matrix/identity/v2/hash_details")
    pepper = details.get("lookup_pepper")
    algorithms = details.get("algorithms")
    if not isinstance(pepper, str) or not isinstance(algorithms, list):
        raise BadIdentityAnswer(f"{id_server} gave no lookup_pepper and algorithms")
    if "sha256" in algorithms:
        algorithm, hashed = "sha256", _hashed(medium, address, pepper)
    elif "none" in algorithms:
        algorithm, hashed = "none", f"{address} {medium}"
    else:
        raise BadIdentityAnswer(f"{id_server} offers no lookup algorithm this server knows")
    answer = _call(transport, id_server, access_token, "POST", "/_matrix/identity/v2/lookup",
                   {"addresses": [hashed], "algorithm": algorithm, "pepper": pepper})
    mappings = answer.get("mappings")
    user_id = mappings.get(hashed) if isinstance(mappings, dict) else None
    if user_id is None:
        return None
    if not isinstance(user_id, str) or not is_valid_user_id(user_id):
        raise BadIdentityAnswer(f"{id_server} mapped the address to {user_id!r}, not a user id")
    return user_id


def store_invite(transport: Transport, id_server: str, access_token: str, request: dict[str, str]) -> StoredInvite:
    """``POST /_matrix/identity/v2/store-invite`` with ``request`` (medium, address, room_id, sender and what
    else the inviter's server tells of the room)."""
    answer = _call(transport, id_server, access_token, "POST", "/_matrix/identity/v2/store-invite", request)
    token, display_name, keys = answer.get("token"), answer.get("display_name"), answer.get("public_keys")
    if not isinstance(token, str) or not token or not isinstance(keys, list) or not keys:
        raise BadIdentityAnswer(f"{id_server} stored the invite without a token or public keys")
    public_keys = tuple(key for key in keys if isinstance(key, dict) and isinstance(key.get("public_key"), str)
                        and isinstance(key.get("key_validity_url"), str))
    if len(public_keys) != len(keys):
        raise BadIdentityAnswer(f"{id_server} gave a public key without public_key and key_validity_url")
    return StoredInvite(token, display_name if isinstance(display_name, str) else "", public_keys)
