"""Token and device id formats.

Access tokens look like Synapse's (``syt_<base64 localpart>_<random>_<crc>``) so reverse proxies can route
``/sync`` by user from the token alone (workers.md, "Load balancing"). Only their SHA-256 digest is stored.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import zlib

_ALPHABET = string.ascii_letters + string.digits


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(_ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def generate_token(prefix: str, localpart: str) -> str:
    """A new secret token with a checksum, e.g. ``syt_YWxpY2U_HQpMBrTnVfYqzLjKnWxa_1AbCdE``."""
    encoded = base64.urlsafe_b64encode(localpart.encode()).decode().rstrip("=")
    body = f"{prefix}_{encoded}_{_random_text(20)}"
    return f"{body}_{_base62(zlib.crc32(body.encode()), 6)}"


def generate_access_token(localpart: str) -> str:
    return generate_token("syt", localpart)


def generate_refresh_token(localpart: str) -> str:
    return generate_token("syr", localpart)


def generate_device_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(10))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
