"""Secrets at rest: Fernet encryption keyed from the app secret, scrypt password hashes, token digests.

Lowest layer of the package: imports nothing of ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class SecretBox:
    """Encrypts and decrypts small secrets (API tokens, calendar credentials) with the app key."""

    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(("calsync-fernet:" + secret_key).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._mac_key = hashlib.sha256(("calsync-mac:" + secret_key).encode()).digest()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:  # pragma: no cover - only with a changed secret key
            raise ValueError("stored secret cannot be decrypted: was CALSYNC_SECRET_KEY changed?") from exc


    def sign(self, message: str) -> str:
        """A MAC of `message` under the app key (for links that must not be forged, such as a
        set-password link); compare with `hmac.compare_digest`."""
        return hmac.new(self._mac_key, message.encode(), hashlib.sha256).hexdigest()


def unusable_password_hash(reason: str) -> str:
    """A stored hash no password matches (`reason$random`): the user sets one through a link.
    Random, so the set-password link made for it names this state and no other."""
    return f"{reason}${secrets.token_hex(16)}"


def hash_password(password: str) -> str:
    """scrypt with a random salt, stored as `scrypt$salt$hash` (hex)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


def new_api_token() -> str:
    return secrets.token_hex(20)


def token_digest(token: str) -> str:
    """Lookup key for an API token; the token itself is only kept encrypted."""
    return hashlib.sha256(token.encode()).hexdigest()
