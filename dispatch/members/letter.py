"""The postal export: a member's data (GDPR Art. 15) as a letter customer service post.

One A4 document for a window envelope (the address field of the campaign letters,
DIN 5008 form B: 45 mm from the top, 20 mm from the left), laid out by WeasyPrint
from the system template ``templates/letter/export.html.j2`` and its stylesheet
``export.css`` with the shipped Noto Sans faces. It says what the e-mail export says
(why the member was chosen for each campaign, their purchases by product group and
month) and, since paper carries no JSON attachment, the rest of the export document
in words (:mod:`.readable`).

Nothing in the document comes from a partner and nothing is loaded from anywhere
but the in-memory system files (:class:`~dispatch.rendering.fetcher.AssetFetcher`):
a refused fetch is an error, not a letter with a hole. The PDF is made in memory for
one download and never written to disk.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from dispatch.members import mail, readable
from dispatch.members.texts import format_date, language_or_default, text
from dispatch.rendering.fetcher import SYSTEM_BASE, AssetFetcher
from dispatch.rendering.fonts import isolated_font_config
from dispatch.rendering.layout import SenderInfo, system_assets, system_env
from dispatch.rendering.weasy import HTML

TEMPLATE = "letter/export.html.j2"
#: The member's request: its public id and when it was made.
Request = tuple[str, dt.datetime]


class LetterBroken(RuntimeError):
    """The system template asked for something outside the system files."""


def render(
    session: Session,
    document: dict[str, Any],
    language: str,
    sender: SenderInfo,
    request: Request,
    today: dt.date | None = None,
) -> bytes:
    """The letter for export ``document`` in ``language``, as PDF bytes.

    ``request`` is the member's (reference, date): its public id is printed so that
    the member can refer to it; it names no one.
    """
    lang = language_or_default(language)
    values = context(session, document, lang, sender, request, today)
    html = system_env().get_template(TEMPLATE).render(values)
    fetcher = AssetFetcher(system=system_assets())
    pdf: bytes = HTML(string=html, base_url=SYSTEM_BASE, url_fetcher=fetcher).write_pdf(
        font_config=isolated_font_config()
    )
    if fetcher.refused:
        raise LetterBroken(f"the export letter refers to {fetcher.refused}")
    return pdf


def context(
    session: Session,
    document: dict[str, Any],
    language: str,
    sender: SenderInfo,
    request: Request,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """What the template reads: the address, the explanation, purchases, the rest."""
    reference, requested = request
    day = today or dt.datetime.now(dt.UTC).date()
    return {
        "language": language,
        "t": lambda key, **values: text(language, key, **values),
        "sender": sender,
        "reference": reference,
        "date": format_date(day.isoformat()),
        "requested": format_date(requested.isoformat()),
        "address": readable.address_lines(document["member"]),
        "campaigns": mail.why(session, document, language),
        "purchases": mail.purchase_table(session, document, language),
        "empty": mail.euros(Decimal(0)),
        "identity": readable.identity(document, language),
        "sections": readable.sections(document, language),
    }
