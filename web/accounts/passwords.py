"""Password hashing with bcrypt at the admin's cost (``bcrypt_rounds``), plus the optional pepper and policy.

bcrypt reads at most 72 bytes; longer passwords are cut there explicitly, which is what earlier bcrypt releases
(and so Synapse's stored hashes) did implicitly, keeping hashes portable between the two servers.
"""

from __future__ import annotations

import bcrypt

from config.accounts import PasswordConfig
from protocol.errors import WeakPassword

MAX_PASSWORD_LENGTH = 512
_BCRYPT_MAX_BYTES = 72


class PasswordHasher:
    def __init__(self, config: PasswordConfig) -> None:
        self._config = config

    def _material(self, password: str) -> bytes:
        return (password + self._config.pepper).encode("utf-8")[:_BCRYPT_MAX_BYTES]

    def hash(self, password: str) -> str:
        return bcrypt.hashpw(self._material(password), bcrypt.gensalt(self._config.bcrypt_rounds)).decode("ascii")

    def verify(self, password: str, password_hash: str | None) -> bool:
        if not password_hash:
            return False
        try:
            return bcrypt.checkpw(self._material(password), password_hash.encode("ascii"))
        except ValueError:
            return False

    def check_policy(self, password: str) -> None:
        """Refuse a new password the configured policy forbids (``M_WEAK_PASSWORD``)."""
        config = self._config
        if len(password) < config.minimum_length:
            raise WeakPassword(f"The password must be at least {config.minimum_length} characters long")
        if config.require_digit and not any(ch.isdigit() for ch in password):
            raise WeakPassword("The password must include at least one digit")
        if config.require_symbol and all(ch.isalnum() for ch in password):
            raise WeakPassword("The password must include at least one symbol")
        if config.require_lowercase and not any(ch.islower() for ch in password):
            raise WeakPassword("The password must include at least one lowercase letter")
        if config.require_uppercase and not any(ch.isupper() for ch in password):
            raise WeakPassword("The password must include at least one uppercase letter")
