"""Keyed hashing of member identities, so suppressions survive erasure."""

from __future__ import annotations

import hashlib
import hmac


def normalize_card_number(card_number: str) -> str:
    return "".join(ch for ch in card_number if ch.isdigit())


def subject_hash(secret_key: str, card_number: str) -> str:
    """HMAC-SHA256 of the normalized card number under the deployment's secret key.

    A plain hash of a 16-digit card number could be reversed by enumeration; the key
    makes that impossible without the secret.
    """
    digest = hmac.new(
        secret_key.encode(), normalize_card_number(card_number).encode(), hashlib.sha256
    )
    return digest.hexdigest()
