"""Who a letter goes to, and how its address is written and sorted for the post.

Finnish postal order (Posti's addressing guide; DIN 5008 puts the field in the
window)::

    Maria Virtanen             name
    c/o Anna Virtanen          an extra line, only if there is one
    Mannerheimintie 12 B 7     street address or PL (P.O. box)
    00100 HELSINKI             postcode and post town, the town in capitals

Letters in a batch are printed in presort order (postcode, then street, then name),
so that the print house can hand the post trays already in delivery order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dispatch.db.types import Language
from dispatch.errors import InputError
from dispatch.rendering.fonts import clean_text

_POSTCODE = re.compile(r"^[0-9]{5}$")


class AddressError(InputError):
    """A recipient's address cannot be printed (missing or malformed field).

    The message names the field, never its value: errors end up in logs.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    """The name and postal address of one letter: all the print path ever needs.

    No member id: the engine knows a letter by its sequence number in its batch.
    """

    first_name: str
    last_name: str
    address_extra: str | None = None
    street: str
    postcode: str
    post_town: str
    language: str

    @property
    def full_name(self) -> str:
        return clean_text(f"{self.first_name} {self.last_name}")


def address_lines(recipient: Recipient) -> tuple[str, ...]:
    """The address block, line by line, in Finnish postal order."""
    name = recipient.full_name
    street = clean_text(recipient.street)
    postcode = clean_text(recipient.postcode)
    town = clean_text(recipient.post_town).upper()
    for field, value in (("name", name), ("street", street), ("post_town", town)):
        if not value:
            raise AddressError(f"the recipient has no {field}", where=field)
    if not _POSTCODE.match(postcode):
        raise AddressError("a Finnish postcode is five digits", where="postcode")
    extra = clean_text(recipient.address_extra or "")
    lines = (
        (name, extra, street, f"{postcode} {town}")
        if extra
        else (name, street, f"{postcode} {town}")
    )
    return lines


def presort_key(recipient: Recipient) -> tuple[str, str, str, str]:
    """Sort key for postal presort: postcode, street, last name, first name."""
    return (
        clean_text(recipient.postcode),
        clean_text(recipient.street).casefold(),
        clean_text(recipient.last_name).casefold(),
        clean_text(recipient.first_name).casefold(),
    )


def check_language(recipient: Recipient) -> str:
    try:
        return Language(recipient.language).value
    except ValueError:
        raise AddressError("language must be fi or sv", where="language") from None
