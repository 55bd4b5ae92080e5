"""Received PDUs grouped by room, and the key lookup their signature checks use (shared by the web tier's
reception steps: ``pdu_reception`` checks them, ``gap_filling`` fetches what they lack)."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.federation.pdus import CheckedPdu, KeyLookup
from protocol.room_versions import RoomVersion
from protocol.signing import VerifyKey
from web.deps import Deps


@dataclass
class RoomBatch:
    """The PDUs of one room in one transaction that passed checks 1-3."""

    room_id: str
    room_version: RoomVersion
    checked: list[CheckedPdu]


def key_lookup(current: Deps) -> KeyLookup:
    """The keyring as :data:`protocol.federation.pdus.KeyLookup`; ``at_ts`` None asks for any key the server
    ever had (room versions before 5), which the keyring reads as valid at time 0."""

    def lookup(server_name: str, key_id: str, at_ts: int | None) -> VerifyKey | None:
        return current.federation.keyring.verify_key(server_name, key_id, 0 if at_ts is None else at_ts)

    return lookup
