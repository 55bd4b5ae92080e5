"""Building the outbound federation services of a process from its config (one transport, one cache each)."""

from __future__ import annotations

from dataclasses import dataclass

from config import HomeserverConfig
from federation_client.client import FederationClient
from federation_client.discovery import ServerDiscovery
from federation_client.keyring import Keyring
from federation_client.transport import Transport
from persistence.database import Database
from persistence.stores import Stores
from protocol.clock import Clock
from protocol.signing import SigningKey


@dataclass(frozen=True)
class Federation:
    client: FederationClient
    keyring: Keyring

    def close(self) -> None:
        self.client.close()


def build_federation(config: HomeserverConfig, signing_key: SigningKey, database: Database, stores: Stores,
                     clock: Clock, transport: Transport | None = None) -> Federation:
    """``transport``: how HTTP goes out (by default straight from this process)."""
    transport = transport or Transport(config.federation, timeout=config.federation.client_timeout_ms / 1000)
    discovery = ServerDiscovery(config.federation, transport, clock)
    client = FederationClient(config.server_name, signing_key, config.federation, transport, discovery)
    keyring = Keyring(config.server_name, signing_key, config.federation, database, stores, clock, client)
    return Federation(client, keyring)
