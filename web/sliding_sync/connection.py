"""Loading and saving a sliding sync connection's position (``persistence/stores/sliding_sync.py``).

``pos`` is the id of a stored position row. A position that does not exist, belongs to another user, device or
``conn_id``, was superseded (the client went on from a later one, or restarted the connection), or is older than
:data:`CONNECTION_EXPIRY_MS`, is ``M_UNKNOWN_POS``: the client then starts the connection again without ``pos``,
as MSC4186 says it must.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.errors import MatrixError
from protocol.sliding_sync.connection_state import SentRoom, decode_connection, encode_connection
from protocol.sliding_sync.request import RoomConfig
from protocol.sync_tokens import SyncToken, parse_sync_token
from web.deps import Deps

CONNECTION_EXPIRY_MS = 7 * 24 * 3600 * 1000
"""How long a position stays usable (Synapse forgets connections unused for a week too)."""
MAX_POS_LENGTH = 20


class UnknownPos(MatrixError):
    """MSC4186: the ``pos`` is unknown or expired; the client must start over without it."""

    errcode = "M_UNKNOWN_POS"
    status = 400


@dataclass(frozen=True)
class StartingPoint:
    """Where a request continues from: nothing (a new connection), or a stored position."""

    connection_id: int | None = None
    position_id: int | None = None
    since: SyncToken | None = None
    rooms: dict[str, SentRoom] = field(default_factory=dict)
    subscriptions: dict[str, RoomConfig] = field(default_factory=dict)


def load_position(deps: Deps, user_id: str, device_id: str, conn_id: str, pos: str | None) -> StartingPoint:
    if pos is None:
        return StartingPoint()
    if not pos.isdigit() or len(pos) > MAX_POS_LENGTH:
        raise UnknownPos("Unknown position")
    with deps.database.read() as conn:
        stored = deps.stores.sliding_sync.get_position(conn, user_id, device_id, conn_id, int(pos))
    if stored is None or stored.created_ts < deps.clock.now_ms() - CONNECTION_EXPIRY_MS:
        raise UnknownPos("Unknown position")
    try:
        rooms, subscriptions = decode_connection(stored.rooms)
        return StartingPoint(stored.connection_id, int(pos), parse_sync_token(stored.token), rooms, subscriptions)
    except (ValueError, MatrixError):
        raise UnknownPos("Unknown position") from None


def save_position(deps: Deps, user_id: str, device_id: str, conn_id: str, start: StartingPoint, until: SyncToken,
                  rooms: dict[str, SentRoom], subscriptions: dict[str, RoomConfig]) -> str:
    """Store the position of a response built up to ``until``; answers its ``pos``."""
    now = deps.clock.now_ms()
    store = deps.stores.sliding_sync
    with deps.database.write() as conn:
        if start.connection_id is None or start.position_id is None:
            store.delete_idle_connections(conn, user_id, now - CONNECTION_EXPIRY_MS)
            connection_id = store.start_connection(conn, user_id, device_id, conn_id, now)
        else:
            connection_id = start.connection_id
            store.delete_positions_before(conn, connection_id, start.position_id)
        state = encode_connection(rooms, subscriptions)
        return str(store.insert_position(conn, connection_id, until.format(), state, now))
