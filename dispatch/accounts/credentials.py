"""Credentials at rest: Argon2id password hashes, TOTP, hashed tokens, encrypted secrets.

The well-kept libraries do the cryptography: argon2-cffi (Argon2id with its
recommended parameters), pyotp (RFC 6238 TOTP) and cryptography's Fernet for the
TOTP secret, which must be read back and so is encrypted rather than hashed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken

#: Argon2id with RFC 9106's low-memory profile (argon2-cffi's default): 64 MiB, three
#: passes, four lanes.
PROFILE = profiles.RFC_9106_LOW_MEMORY
MIN_PASSWORD = 12
ISSUER = "dispatch"


class _Hashing:
    """The hasher and a hash of a random password made with it: verifying against that
    costs what a real check costs, so an unknown user name takes as long to refuse as a
    wrong password."""

    def __init__(self, parameters: Parameters) -> None:
        self.hasher = PasswordHasher.from_parameters(parameters)
        self.dummy = self.hasher.hash(secrets.token_urlsafe(16))


_hashing = _Hashing(PROFILE)


def use_profile(parameters: Parameters) -> None:
    """Hash new passwords with ``parameters`` from now on.

    For the test suite only, which makes hundreds of accounts: it uses argon2-cffi's
    ``profiles.CHEAPEST`` (the same Argon2id, a fraction of a millisecond a hash instead
    of a tenth of a second or more). A stored hash carries its own parameters, so
    verifying is unaffected.
    """
    global _hashing
    _hashing = _Hashing(parameters)


def hash_password(password: str) -> str:
    return _hashing.hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; constant work when nothing is stored."""
    try:
        return _hashing.hasher.verify(stored or _hashing.dummy, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token(prefix: str) -> str:
    """A random bearer value (256 bits), prefixed so a leaked one is recognisable."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(value: str) -> str:
    """What is stored for a session, API token or invitation: its SHA-256."""
    return hashlib.sha256(value.encode()).hexdigest()


def _fernet(secret_key: str) -> Fernet:
    key = hmac.new(secret_key.encode(), b"dispatch totp secret", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def new_totp_secret() -> str:
    return pyotp.random_base32()


def seal(secret_key: str, value: str) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode()


def unseal(secret_key: str, sealed: str) -> str | None:
    try:
        return _fernet(secret_key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def totp_step(secret: str, code: str, *, after: int | None, at: float | None = None) -> int | None:
    """The time step ``code`` is valid for (one step of clock drift either way), or None.

    A step at or before ``after`` (the last one accepted) is refused: a code works once.
    """
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    current = int(now // totp.interval)
    for step in (current, current - 1, current + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
