"""Client-side key material for the key tests: a device that signs its identity, one-time and fallback keys, and
a user's cross-signing keys, signed as a real client would (ed25519 through signedjson)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from unpaddedbase64 import encode_base64

from protocol.signing import (
    SigningKey,
    encode_verify_key,
    generate_signing_key,
    sign_json,
    signing_key_from_seed,
    verify_key_of,
)


def _public(key: SigningKey) -> str:
    return encode_verify_key(verify_key_of(key))


def named_by_public_key(name: str | None = None) -> SigningKey:
    """A cross-signing key: its key id is ``ed25519:<its own public key>``; the same ``name``, the same key."""
    seed = hashlib.sha256(name.encode()).digest() if name else os.urandom(32)
    public = _public(signing_key_from_seed(seed, "ed25519:x"))
    return signing_key_from_seed(seed, f"ed25519:{public}")


@dataclass
class KeyedDevice:
    """A device's keys; with ``stable`` they are the same on every instance for that user and device."""

    user_id: str
    device_id: str
    stable: bool = False
    key: SigningKey = field(init=False)
    curve25519: str = field(init=False)
    next_key: int = 0

    def __post_init__(self) -> None:
        if self.stable:
            seed = hashlib.sha256(f"{self.user_id}/{self.device_id}".encode()).digest()
            self.key = signing_key_from_seed(seed, f"ed25519:{self.device_id}")
            self.curve25519 = encode_base64(hashlib.sha256(seed).digest())
        else:
            self.key = generate_signing_key(self.device_id)
            self.curve25519 = encode_base64(os.urandom(32))

    def device_keys(self) -> dict[str, Any]:
        keys = {
            "user_id": self.user_id,
            "device_id": self.device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {f"curve25519:{self.device_id}": self.curve25519,
                     f"ed25519:{self.device_id}": _public(self.key)},
        }
        return self.sign(keys)

    def sign(self, value: dict[str, Any]) -> dict[str, Any]:
        return sign_json(value, self.user_id, self.key)

    def _public_curve25519(self, name: str) -> str:
        if self.stable:
            return encode_base64(hashlib.sha256(f"{self.curve25519}/{name}".encode()).digest())
        return encode_base64(os.urandom(32))

    def one_time_keys(self, count: int) -> dict[str, Any]:
        found = {}
        for _ in range(count):
            self.next_key += 1
            name = f"signed_curve25519:AAAA{self.next_key:04d}"
            found[name] = self.sign({"key": self._public_curve25519(name)})
        return found

    def fallback_key(self, key_id: str = "FALLBACK1") -> dict[str, Any]:
        name = f"signed_curve25519:{key_id}"
        return {name: self.sign({"key": self._public_curve25519(name), "fallback": True})}


@dataclass
class CrossSigning:
    user_id: str
    master: SigningKey = field(default_factory=named_by_public_key)
    self_signing: SigningKey = field(default_factory=named_by_public_key)
    user_signing: SigningKey = field(default_factory=named_by_public_key)

    @staticmethod
    def stable(user_id: str) -> CrossSigning:
        """The same three keys for ``user_id`` every time."""
        return CrossSigning(user_id, *(named_by_public_key(f"{user_id}/{usage}")
                                       for usage in ("master", "self_signing", "user_signing")))

    def _key(self, key: SigningKey, usage: str) -> dict[str, Any]:
        return {"user_id": self.user_id, "usage": [usage], "keys": {f"ed25519:{_public(key)}": _public(key)}}

    def public(self, key: SigningKey) -> str:
        return _public(key)

    def master_key(self) -> dict[str, Any]:
        return self._key(self.master, "master")

    def self_signing_key(self) -> dict[str, Any]:
        return sign_json(self._key(self.self_signing, "self_signing"), self.user_id, self.master)

    def user_signing_key(self) -> dict[str, Any]:
        return sign_json(self._key(self.user_signing, "user_signing"), self.user_id, self.master)

    def upload_body(self) -> dict[str, Any]:
        return {"master_key": self.master_key(), "self_signing_key": self.self_signing_key(),
                "user_signing_key": self.user_signing_key()}
