"""The e-mails the service sends a member: a double opt-in confirmation, their data.

Both go only to the e-mail address in the register, through the configured mailer,
never to an address given on a page: whoever holds a letter or an e-mail can ask,
but only the member reads the answer. They are one-offs, so they are built with
:class:`email.message.EmailMessage` rather than the campaign builder.

The data export (GDPR Art. 15) explains in words, per campaign, why the member was
chosen (:mod:`.explain`), shows purchases per top-level product group and month, and
carries the whole export document as a JSON attachment.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.campaigns.models import Campaign
from dispatch.members.explain import Explainer, Line
from dispatch.members.texts import format_date, text
from dispatch.privacy.export import dumps
from dispatch.register import services
from dispatch.register.models import ProductGroup
from dispatch.rendering.email import DEMO_EMAIL, EmailSettings
from dispatch.rendering.layout import system_env
from dispatch.transports.mailer import Mailer, SendResult


def _message(settings: EmailSettings, to: str, subject: str, language: str) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = f"{settings.from_name} <{settings.from_address}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain=settings.domain)
    message["Content-Language"] = language
    # Not marketing: no List-Unsubscribe, and nothing a mail client should fetch.
    message["Auto-Submitted"] = "auto-generated"
    return message


def confirmation(
    to: str, language: str, items: list[str], url: str, settings: EmailSettings = DEMO_EMAIL
) -> bytes:
    """The double opt-in mail: what would be switched on, and the one link that does it."""
    message = _message(settings, to, text(language, "confirm.mail.subject"), language)
    body = text(
        language,
        "confirm.mail.body",
        items="\n".join(f"- {item}" for item in items),
        url=url,
        site=settings.from_name,
    )
    message.set_content(body + "\n")
    return message.as_bytes()


@dataclass(frozen=True)
class CampaignWhy:
    """One campaign that chose the member, said in words."""

    date: str
    sender: str
    channel: str
    purpose: str
    outcome: str
    lines: list[Line]


@dataclass(frozen=True)
class PurchaseTable:
    """Purchases per top-level product group (rows) and month (columns), in euros."""

    months: list[str]
    rows: list[tuple[str, list[str], str]]


def month_name(value: str) -> str:
    """A month of the export document ("2026-09-01") as people write it here (9/2026)."""
    year, month = value.split("-")[:2]
    return f"{int(month)}/{year}"


def euros(value: Decimal) -> str:
    """An amount as people write it here (12,50); nothing as a dash."""
    return f"{value:.2f}".replace(".", ",") if value else "\N{EN DASH}"


def why(session: Session, document: dict[str, Any], language: str) -> list[CampaignWhy]:
    """Each campaign of the export document with its segment in words."""
    explainer = Explainer(session, language)
    ids = [entry["campaign_id"] for entry in document["campaigns"]]
    sources = {
        c.id: (c.segment_source, c.segment_name)
        for c in session.scalars(select(Campaign).where(Campaign.id.in_(ids)))
    }
    found = []
    for entry in document["campaigns"]:
        source, name = sources[entry["campaign_id"]]
        if entry["outcome"] == "delivered":
            outcome = text(language, "export.sent")
        elif entry["outcome"] == "pending":
            outcome = text(language, "export.pending")
        else:
            outcome = text(language, "export.not_sent", reason=entry["reason"])
        found.append(
            CampaignWhy(
                date=format_date(entry["at"]),
                sender=entry["partner"],
                channel=text(language, f"channel.{entry['channel']}"),
                purpose=text(language, f"purpose.{entry['purpose']}"),
                outcome=outcome,
                lines=explainer.segment(source, name),
            )
        )
    return found


def purchase_table(session: Session, document: dict[str, Any], language: str) -> PurchaseTable:
    """The export's purchases summed per top-level group and month ("my purchases")."""
    ids = dict(session.execute(select(ProductGroup.code, ProductGroup.id)).all())
    roots = services.reporting_groups(session)
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    months: set[str] = set()
    for row in document["purchases"]:
        root = roots.get(ids.get(row["group"], -1))
        name = (root.name_sv if language == "sv" else root.name_fi) if root else row["group"]
        sums[name][row["month"]] += Decimal(row["amount"])
        months.add(row["month"])
    ordered = sorted(months)
    rows = []
    for name in sorted(sums, key=lambda n: (-sum(sums[n].values()), n)):
        cells = [euros(sums[name].get(m, Decimal(0))) for m in ordered]
        rows.append((name, cells, euros(sum(sums[name].values(), Decimal(0)))))
    return PurchaseTable([month_name(m) for m in ordered], rows)


def export(
    session: Session,
    document: dict[str, Any],
    to: str,
    language: str,
    settings: EmailSettings = DEMO_EMAIL,
) -> bytes:
    """The member's data as an e-mail: the explanation, the purchases, the JSON."""
    context = {
        "language": language,
        "t": lambda key, **values: text(language, key, **values),
        "site_name": settings.from_name,
        "campaigns": why(session, document, language),
        "purchases": purchase_table(session, document, language),
        "zip": zip,
        "empty": euros(Decimal(0)),
    }
    env = system_env()
    message = _message(settings, to, text(language, "export.subject"), language)
    message.set_content(env.get_template("email/member_export.txt.j2").render(context))
    message.add_alternative(
        env.get_template("email/member_export.html.j2").render(context), subtype="html"
    )
    message.add_attachment(
        dumps(document).encode("utf-8"),
        maintype="application",
        subtype="json",
        filename=text(language, "export.attachment"),
    )
    return message.as_bytes()


def send(
    mailer: Mailer, to: str, message: bytes, settings: EmailSettings = DEMO_EMAIL
) -> SendResult:
    """Hand one member mail to the mailer (never raises for a delivery failure)."""
    return mailer.send(settings.envelope_sender, to, message)
