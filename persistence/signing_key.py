"""The server's ed25519 signing key file, in Synapse's format (``ed25519 <version> <base64 seed>``)."""

from __future__ import annotations

import os
import secrets

from signedjson.key import generate_signing_key, read_signing_keys, write_signing_keys
from signedjson.types import SigningKey


def generate_key_file(path: str) -> None:
    """Write a new key with a random version; refuses to overwrite an existing key."""
    key = generate_signing_key("a_" + secrets.token_hex(2))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        write_signing_keys(handle, [key])


def load_signing_key(path: str) -> SigningKey:
    with open(path, encoding="utf-8") as handle:
        keys = read_signing_keys(handle)
    if not keys:
        raise ValueError(f"{path} holds no signing key")
    return keys[0]
