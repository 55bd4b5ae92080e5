"""The registration file of the mautrix bridge the end-to-end tests run (tests/e2e/test_appservice_mautrix.py):
written before a server starts, since ``app_service_config_files`` is read at start. The Procfile deployment,
shared by the whole session, carries one from its start (tests/e2e/procfile.py) so the bridge test can use it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.e2e.servers import HOST, SERVER_NAME, free_port

APPSERVICE_ID = "mautrix"
BOT_LOCALPART = "mautrixbot"


@dataclass(frozen=True)
class BridgeRegistration:
    path: Path
    port: int
    """Where the homeserver expects the bridge to listen (on HOST)."""
    as_token: str
    hs_token: str


def write_bridge_registration(directory: Path) -> BridgeRegistration:
    """A registration for a bridge on a free loopback port, owning the ``mautrix_`` users and aliases."""
    port = free_port()
    as_token, hs_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    data = {"id": APPSERVICE_ID, "url": f"http://{HOST}:{port}", "as_token": as_token, "hs_token": hs_token,
            "sender_localpart": BOT_LOCALPART, "rate_limited": False, "receive_ephemeral": True,
            "namespaces": {"users": [{"regex": f"@mautrix_.*:{SERVER_NAME}", "exclusive": True}],
                           "aliases": [{"regex": f"#mautrix_.*:{SERVER_NAME}", "exclusive": True}],
                           "rooms": []}}
    path = directory / f"{APPSERVICE_ID}.yaml"
    path.write_text(yaml.safe_dump(data))
    return BridgeRegistration(path, port, as_token, hs_token)
