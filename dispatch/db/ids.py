"""Public ids: random, prefixed strings that reveal neither order nor volume.

Rows keep their integer primary keys inside the database; every URL and API document
uses the public id instead, so that a partner cannot count another partner's work
from the ids it is given (``cv_3kq...`` says nothing about how many came before).
"""

from __future__ import annotations

import base64
import secrets

#: 80 random bits: unguessable, and short enough for a URL.
_BYTES = 10


def new_public_id(prefix: str) -> str:
    """``prefix_`` followed by 16 lowercase base32 characters."""
    raw = base64.b32encode(secrets.token_bytes(_BYTES)).decode().lower()
    return f"{prefix}_{raw}"
