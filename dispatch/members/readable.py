"""The export document (GDPR Art. 15) in words, for a member who reads it on paper.

The e-mail carries the whole document as JSON beside the explanation; a letter cannot,
so :func:`sections` says each part of it in the member's language: who they are in the
register, their marketing choices now and in the past, suppressions, restaurant visits,
web-shop interests, and every access to their data. "Why you got our campaigns" and
the purchases are :func:`dispatch.members.mail.why` and ``purchase_table``, shared with
the e-mail. Codes without a word are printed as they are (:func:`.texts.word`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dispatch.members.explain import category_name
from dispatch.members.mail import month_name
from dispatch.members.texts import format_date, text, word


@dataclass(frozen=True)
class Facts:
    """A list of labelled values (the member's identity in the register)."""

    title: str
    items: list[tuple[str, str]]


@dataclass(frozen=True)
class Table:
    """Rows under column headings; ``empty`` is said instead when there are none."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    empty: str
    note: str = ""
    #: Columns holding numbers (aligned right).
    numeric: set[int] = field(default_factory=set)


def address_lines(member: dict[str, Any]) -> list[str]:
    """The postal address block: name, extra line, street, postcode and town."""
    name = " ".join(p for p in (member.get("first_name"), member.get("last_name")) if p)
    town = " ".join(p for p in (member.get("postcode"), member.get("post_town")) if p)
    lines = [name, member.get("address_extra") or "", member.get("street") or "", town]
    return [line for line in lines if line]


def identity(document: dict[str, Any], language: str) -> Facts:
    """Who the member is in the register, every field in words."""
    member = document["member"]

    def t(key: str) -> str:
        return text(language, key)

    store = document.get("home_store")
    household = document.get("household")
    items = [
        (t("field.name"), " ".join(address_lines(member)[:1])),
        (t("field.address"), ", ".join(address_lines(member)[1:])),
        (t("field.card_number"), member.get("card_number") or ""),
        (t("field.language"), word(language, "language", member.get("language"))),
        (t("field.birth_year"), str(member.get("birth_year") or "")),
        (t("field.email"), member.get("email") or ""),
        (t("field.phone"), member.get("phone") or ""),
        (t("field.member_since"), format_date(member.get("member_since"))),
        (t("field.municipality"), member.get("municipality") or ""),
        (t("field.region"), member.get("region") or ""),
        (t("field.status"), word(language, "status", member.get("status"))),
        (t("field.address_status"), word(language, "address_status", member.get("address_status"))),
        (t("field.household"), word(language, "household", household and household["kind"])),
        (t("field.home_store"), _store(store)),
    ]
    return Facts(t("data.title"), [(k, v or "\N{EN DASH}") for k, v in items])


def _store(store: dict[str, Any] | None) -> str:
    if not store:
        return ""
    return ", ".join(p for p in (store.get("name"), store.get("municipality")) if p)


def _choice(language: str, row: dict[str, Any]) -> list[str]:
    return [
        word(language, "purpose", row["purpose"]),
        word(language, "channel", row["channel"]),
        word(language, "decision", row["decision"]),
    ]


def _state(document: dict[str, Any], language: str) -> Table:
    rows = [
        [*_choice(language, row), format_date(row["updated_at"])]
        for row in document["consent_state"]
    ]
    return _table(language, "state", ["purpose", "channel", "decision", "since"], rows)


def _ledger(document: dict[str, Any], language: str) -> Table:
    rows = [
        [
            format_date(row["recorded_at"]),
            *_choice(language, row),
            word(language, "source", row["source"]),
        ]
        for row in document["consent_ledger"]
    ]
    return _table(language, "ledger", ["date", "purpose", "channel", "decision", "source"], rows)


def _suppressions(document: dict[str, Any], language: str) -> Table:
    rows = [
        [word(language, "suppression", row["reason"]), format_date(row["since"])]
        for row in document["suppressions"]
    ]
    return _table(language, "suppressions", ["reason", "since"], rows)


def _visits(document: dict[str, Any], language: str) -> Table:
    rows = [
        [month_name(row["month"]), _store(row["store"]), str(row["visits"])]
        for row in document["restaurant_visits"]
    ]
    return _table(language, "visits", ["month", "restaurant", "visits"], rows, numeric={2})


def _interests(document: dict[str, Any], language: str) -> Table:
    rows = [
        [category_name(language, row["category"]), format_date(row["last_seen"])]
        for row in document["web_interests"]
    ]
    return _table(language, "interests", ["topic", "last_seen"], rows)


def _audit(document: dict[str, Any], language: str) -> Table:
    # The reason is what staff wrote when they opened the data; the detail (ids and
    # counts) is for the data protection officer and stays in the JSON export.
    rows = [
        [format_date(row["at"]), word(language, "action", row["action"]), row["reason"] or ""]
        for row in document["audit"]
    ]
    table = _table(language, "audit", ["date", "what", "reason"], rows)
    return Table(table.title, table.columns, table.rows, table.empty, text(language, "audit.note"))


def _table(
    language: str,
    name: str,
    columns: list[str],
    rows: list[list[str]],
    numeric: set[int] | None = None,
) -> Table:
    return Table(
        text(language, f"{name}.title"),
        [text(language, f"column.{c}") for c in columns],
        rows,
        text(language, f"{name}.none"),
        numeric=numeric or set(),
    )


#: The parts of the document after the identity, in the letter's order.
SECTIONS: tuple[Callable[[dict[str, Any], str], Table], ...] = (
    _state,
    _ledger,
    _suppressions,
    _visits,
    _interests,
    _audit,
)


def sections(document: dict[str, Any], language: str) -> list[Table]:
    """Every part of the document but the identity, campaigns and purchases, in words."""
    return [section(document, language) for section in SECTIONS]
