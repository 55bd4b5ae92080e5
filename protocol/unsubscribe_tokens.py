"""Signed unsubscribe links for notification emails (Synapse's ``/_synapse/client/unsubscribe``).

A link must remove exactly one pusher and only for whoever the email went to, without the reader logging in. The
token is an HMAC-SHA256 over the user id, app id and pushkey, keyed by a secret derived from the server's signing key
(every process of the server reads the same key file, and the derivation keeps the signing key's own use apart);
anything else in the link is not trusted. Tokens do not expire: an old email's link still unsubscribes, as
Synapse's do.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from unpaddedbase64 import encode_base64

from protocol.signing import SigningKey, encode_signing_key

UNSUBSCRIBE_PATH = "_synapse/client/unsubscribe"


def secret_of(signing_key: SigningKey) -> bytes:
    """The HMAC key of unsubscribe tokens, derived from the server's signing key."""
    return hashlib.sha256(b"ganglion unsubscribe\0" + encode_signing_key(signing_key).encode("ascii")).digest()


def sign(secret: bytes, user_id: str, app_id: str, pushkey: str) -> str:
    message = "\0".join((user_id, app_id, pushkey)).encode("utf-8")
    return encode_base64(hmac.new(secret, message, hashlib.sha256).digest(), urlsafe=True)


def verify(secret: bytes, token: str, user_id: str, app_id: str, pushkey: str) -> bool:
    return hmac.compare_digest(sign(secret, user_id, app_id, pushkey), token)


def unsubscribe_url(public_baseurl: str, secret: bytes, user_id: str, app_id: str, pushkey: str) -> str:
    """The link in an email (``public_baseurl`` ends with ``/``)."""
    query = urlencode({"user_id": user_id, "app_id": app_id, "pushkey": pushkey,
                       "token": sign(secret, user_id, app_id, pushkey)})
    return f"{public_baseurl}{UNSUBSCRIBE_PATH}?{query}"
