"""The values in member links: keyed hashes per (campaign, member), codes, digests.

Pure functions, no database: the e-mail builder and the letter engine compute the
same values as the web service that checks them.

They live in the register, beside :mod:`.hashing`'s keyed hashes of card numbers,
because a link value is the same kind of thing, a keyed name for one member, and
because every stage that needs them (rendering puts them in letters and e-mails,
campaigns issues them, the member pages check them) sits above the register.

- A **campaign token** is ``HMAC-SHA256(secret, "PURPOSE:campaign:member")``, URL-safe
  base64 (43 characters): deterministic, so a retried batch sends the same link, and
  not reversible, so nobody reading it can recover a member id by trying ids.
- A **letter code** is 60 bits of the same HMAC (purpose ``letter``) in Crockford's
  base32, 12 characters printed ``ABCD-EFGH-JKMN``: short enough to type from paper,
  and read back leniently (any case, ``O`` as 0, ``I``/``L`` as 1, dashes and spaces).
- What is stored is only the **digest** ``SHA-256("PURPOSE:value")``: a database
  reader cannot use a row as a link, and a value is only ever valid for the purpose it
  was made for (an unsubscribe token is no preference-centre link).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from enum import StrEnum


class LinkPurpose(StrEnum):
    """What a member link may be used for; each value is good for one purpose only."""

    #: RFC 8058 one-click unsubscribe (and its mailto: twin) of one e-mail.
    UNSUBSCRIBE = "unsubscribe"
    #: The preference-centre link at the foot of one e-mail.
    CENTRE = "centre"
    #: The short code (and QR code) in one letter's objection notice.
    LETTER = "letter"
    #: A browser's preference-centre visit, opened by one of the three above.
    SESSION = "session"
    #: A confirmation mailed to the member before anything is widened (double opt-in).
    CONFIRM = "confirm"


#: Crockford's base32: no I, L, O or U, so a code cannot be misread as another.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
_CODE_BITS = 5 * CODE_LENGTH
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def keyed_hash(secret: str | bytes, purpose: str, campaign_id: object, member_id: object) -> bytes:
    """``HMAC-SHA256(secret, "purpose:campaign:member")``: what every value here is made of."""
    message = f"{purpose}:{campaign_id}:{member_id}".encode()
    return hmac.digest(_key(secret), message, "sha256")


def campaign_token(
    secret: str | bytes, purpose: LinkPurpose | str, campaign_id: object, member_id: object
) -> str:
    """The member's token of one campaign for ``purpose``: HMAC, URL-safe, 43 characters."""
    mac = keyed_hash(secret, str(purpose), campaign_id, member_id)
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def letter_code(secret: str | bytes, campaign_id: object, member_id: object) -> str:
    """The 12-character code printed in the member's letter of one campaign."""
    mac = keyed_hash(secret, LinkPurpose.LETTER.value, campaign_id, member_id)
    value = int.from_bytes(mac[:8], "big") >> (64 - _CODE_BITS)
    return "".join(CODE_ALPHABET[(value >> shift) & 31] for shift in range(_CODE_BITS - 5, -1, -5))


def format_code(code: str) -> str:
    """``ABCDEFGHJKMN`` as printed: ``ABCD-EFGH-JKMN``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def read_code(text: str) -> str | None:
    """A code as typed (any case, dashes, spaces, O for 0), or None if it is none."""
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return cleaned


def random_token() -> str:
    """A fresh random link value (sessions, confirmations): 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(purpose: LinkPurpose | str, value: str) -> str:
    """What is stored of a link value: bound to its purpose, useless as a link."""
    return hashlib.sha256(f"{purpose}:{value}".encode()).hexdigest()


def same(expected: str, given: str) -> bool:
    """Constant-time comparison of two link values."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
