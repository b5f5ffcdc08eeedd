"""The only data a partner template can see: a small, frozen, documented schema.

A partner template (letter, e-mail HTML, e-mail text) is rendered with exactly two
names, and each has a fixed set of fields::

    recipient.first_name   the member's first name (in letters: a placeholder box)
    recipient.language     "fi" or "sv"
    recipient.home_store   the name of the member's home store ("" when unknown)
    campaign.language      "fi" or "sv" (the language of this variant)
    campaign.texts.<key>   the creative's own static texts for that language

Nothing else exists: no address, e-mail address, member id, card number, purchases or
segment (DESIGN.md "Creative bundle", invariant 1). The records are :class:`Record`
objects rather than dicts, so a template cannot reach ``items``/``keys``/``get`` or
any other method; a missing field is an error (StrictUndefined), never an empty string.

Letters are laid out once per variant and the personal fields are stamped in later
by the rendering engine, so :func:`letter_context` gives ``recipient.first_name`` as
a reserved, empty ``<span class="pf" data-field="first_name">`` box instead of a name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from markupsafe import Markup

from dispatch.db.types import Language

RECIPIENT_FIELDS: frozenset[str] = frozenset({"first_name", "language", "home_store"})
CAMPAIGN_FIELDS: frozenset[str] = frozenset({"language", "texts"})
#: Fields that hold the member's own data: never quoted in an error message.
PERSONAL_FIELDS: frozenset[str] = frozenset({"first_name", "home_store"})

#: Every name a template may read, with the fields of each (``texts`` keys come from
#: the creative's own creative.yaml).
SCHEMA: Mapping[str, frozenset[str]] = MappingProxyType(
    {"recipient": RECIPIENT_FIELDS, "campaign": CAMPAIGN_FIELDS}
)

#: A letter's personal fields render to reserved, empty elements; the layout styles
#: them and the rendering engine stamps the member's values into them, so one laid-out
#: variant serves every member. Constant markup, by field.
PLACEHOLDER_CLASS = "pf"
PLACEHOLDER_ATTRIBUTE = "data-field"
PLACEHOLDERS: Mapping[str, Markup] = MappingProxyType(
    {
        "first_name": Markup('<span class="pf" data-field="first_name"></span>'),
        "home_store": Markup('<span class="pf" data-field="home_store"></span>'),
    }
)


class Record:
    """A read-only bag of named values, with no public methods a template could reach.

    The sandbox resolves ``record.name`` by trying the attribute first and the item
    second; a Record has no public attributes, so every lookup lands in
    :meth:`__getitem__`, which knows only the schema's fields.
    """

    __slots__ = ("_kind", "_values")

    def __init__(self, kind: str, values: Mapping[str, object]) -> None:
        self._kind = kind
        self._values = dict(values)

    def __getitem__(self, key: str) -> object:
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        # Iterating a record in a template is meaningless; refuse rather than leak keys.
        raise TypeError(f"{self._kind} cannot be iterated; use its fields")

    def __str__(self) -> str:
        raise TypeError(f"{self._kind} cannot be printed; print one of its fields")

    def __repr__(self) -> str:
        return f"<{self._kind}>"

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


def _language(value: str) -> str:
    return Language(value).value


def _texts(texts: Mapping[str, str]) -> Record:
    return Record("campaign.texts", {str(k): str(v) for k, v in texts.items()})


def _context(
    first_name: str | Markup, language: str, texts: Mapping[str, str], home_store: str | None
) -> dict[str, object]:
    lang = _language(language)
    recipient = Record(
        "recipient",
        {"first_name": first_name, "language": lang, "home_store": home_store or ""},
    )
    campaign = Record("campaign", {"language": lang, "texts": _texts(texts)})
    return {"recipient": recipient, "campaign": campaign}


def letter_context(
    language: str, texts: Mapping[str, str], home_store: str | None
) -> dict[str, object]:
    """The context of one letter variant: personal fields are placeholder boxes.

    ``home_store`` only says whether the member has one (templates test it with
    ``{% if recipient.home_store %}``); its text is stamped like the first name's.
    """
    store = PLACEHOLDERS["home_store"] if home_store else None
    return _context(PLACEHOLDERS["first_name"], language, texts, store)


def email_context(
    first_name: str | None, language: str, texts: Mapping[str, str], home_store: str | None
) -> dict[str, object]:
    """The context of one e-mail: real values, escaped on output by autoescape."""
    return _context(first_name or "", language, texts, home_store)


#: Synthetic values used to trial-render templates during validation and preview.
SAMPLE_FIRST_NAME = "Testi"
SAMPLE_HOME_STORE = "Esimerkkikauppa"
