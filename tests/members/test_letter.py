"""The postal export letter: every part of the export in words, from system files only.

The whole flow (the member asks, customer service download and post) is in
``tests/web/test_member_postal_exports.py``; here the letter itself: a member with
something in every part of the export gets no code where a word belongs, in either
language; the letter loads nothing from outside; the deadline is a calendar month.
"""

from __future__ import annotations

import datetime as dt

import pytest
from jinja2 import DictLoader, Environment
from sqlalchemy.orm import Session

from dispatch.db.types import Channel, Decision, Purpose, SuppressionReason
from dispatch.members import letter, letter_texts, texts
from dispatch.members.requests import due_date
from dispatch.members.texts import CATALOGUE
from dispatch.privacy import export
from dispatch.register import consent
from dispatch.register.models import Member, RestaurantVisit, WebInterest
from dispatch.rendering.identity import DEMO_LINKS
from tests import factories
from tests.rendering.helpers import pdf_text

REQUEST = ("pe_testtesttesttest", dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC))


def _busy_member(session: Session) -> Member:
    """A member with something in every part of the export."""
    member = factories.member(session, address_extra="c/o Virtanen")
    consent.record(
        session,
        member.id,
        Purpose.OWN_MARKETING,
        Channel.POST,
        Decision.REFUSED,
        source="centre:letter",
        actor=None,
    )
    consent.record(
        session,
        member.id,
        Purpose.DIRECT_MARKETING,
        Channel.ANY,
        Decision.OBJECTED,
        source="one-click",
        actor=None,
    )
    factories.suppress(session, member, SuppressionReason.RETURNED_MAIL)
    restaurant = factories.store(session, name="Rosso Kamppi", municipality="Helsinki")
    session.add(
        RestaurantVisit(
            member_id=member.id, store_id=restaurant.id, month=dt.date(2026, 5, 1), visits=4
        )
    )
    session.add(
        WebInterest(member_id=member.id, category="bicycles", last_seen=dt.date(2026, 6, 2))
    )
    session.flush()
    return member


def _letter(session: Session, member: Member, language: str) -> tuple[str, list[str]]:
    document = export.export_member(
        session, member.id, actor="maija.cs", reason="ticket 1", destination="post"
    )
    pdf = letter.render(
        session, document, language, DEMO_LINKS.sender(), REQUEST, today=dt.date(2026, 12, 7)
    )
    text = pdf_text(pdf)
    rows = [" ".join(line.split()) for line in pdf_text(pdf, layout=True).splitlines()]
    return " ".join(text.split()), rows


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "fi",
            [
                "Päiväys 7.12.2026",
                "Viite pe_testtesttesttest",
                "Pyysit 30.11.2026 markkinointivalinnoissasi",
                "Osuuskaupan omat tarjoukset Posti kielletty",
                "kaikki suoramarkkinointi kaikki kanavat kielletty kokonaan",
                "markkinointivalinnoissa (kirjeen koodi)",
                "sähköpostin peruutuslinkistä",
                "posti palautui",
                "5/2026 Rosso Kamppi, Helsinki 4",
                "polkupyörät 2.6.2026",
                "tietosi koottiin sinulle ticket 1",
                "Asiointikieli suomi",
                "Talous yhden hengen talous",
            ],
        ),
        (
            "sv",
            [
                "Datum 7.12.2026",
                "Referens pe_testtesttesttest",
                "Du bad den 30.11.2026",
                "Andelshandelns egna erbjudanden Post förbjudet",
                "all direktmarknadsföring alla kanaler helt förbjudet",
                "i marknadsföringsvalen (kod i brev)",
                "med avregistreringslänken i ett e-postmeddelande",
                "posten returnerades",
                "5/2026 Rosso Kamppi, Helsinki 4",
                "cyklar 2.6.2026",
                "dina uppgifter sammanställdes för dig ticket 1",
                "Språk finska",
                "Hushåll enpersonshushåll",
            ],
        ),
    ],
)
def test_every_part_of_the_export_is_said_in_words(
    session: Session, language: str, expected: list[str]
) -> None:
    member = _busy_member(session)

    text, rows = _letter(session, member, language)

    missing = [e for e in expected if e not in text and not any(e in row for row in rows)]
    assert missing == []
    assert "c/o Virtanen" in text and member.card_number in text
    codes = ["own_marketing", "direct_marketing", "granted", "refused", "objected"]
    codes += ["centre:letter", "one-click", "returned_mail", "bicycles", "member.export"]
    assert [c for c in codes if c in text] == []


def test_the_letter_loads_nothing_but_the_system_files(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = factories.member(session)
    document = export.export_member(
        session, member.id, actor="maija.cs", reason=None, destination="post"
    )
    template = (
        '<img src="https://tracker.example/p.png"><link rel="stylesheet" href="file:///etc/passwd">'
    )
    broken = Environment(loader=DictLoader({letter.TEMPLATE: template}), autoescape=True)
    monkeypatch.setattr(letter, "system_env", lambda: broken)

    with pytest.raises(letter.LetterBroken, match=r"tracker\.example"):
        letter.render(session, document, "fi", DEMO_LINKS.sender(), REQUEST)


def test_both_languages_have_every_word() -> None:
    assert set(CATALOGUE["fi"]) == set(CATALOGUE["sv"])
    assert set(letter_texts.FI) == set(letter_texts.SV)
    # The letter's words add to the catalogue; none replaces a page's or an e-mail's.
    assert set(texts._FI).isdisjoint(letter_texts.FI)
    assert set(texts._SV).isdisjoint(letter_texts.SV)


@pytest.mark.parametrize(
    ("asked", "due"),
    [
        (dt.datetime(2026, 3, 10, 23, 59, tzinfo=dt.UTC), dt.date(2026, 4, 10)),
        (dt.datetime(2026, 1, 31, tzinfo=dt.UTC), dt.date(2026, 2, 28)),
        (dt.datetime(2028, 1, 31, tzinfo=dt.UTC), dt.date(2028, 2, 29)),
        (dt.datetime(2026, 12, 15, tzinfo=dt.UTC), dt.date(2027, 1, 15)),
    ],
)
def test_customer_service_answer_within_a_calendar_month(asked: dt.datetime, due: dt.date) -> None:
    assert due_date(asked) == due
