""" "My data" by post: for a member the service cannot mail.

A member without an e-mail address (or whose address the receiving server refuses)
asks in the preference centre, opened with the code of a real campaign's letter. The
answer says customer service will post it by a date and shows none of the data; the
request waits in the staff queue, where only customer service download its letter:
a PDF for a window envelope with the member's address in the window and, in the
member's language, why they were chosen and their purchases. Each download, the
posting and a refusal are audited; nothing goes to the print house's outbox or to
the mailer, and no member data reaches a URL or a log line.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select, update

from dispatch.accounts.roles import Role
from dispatch.db.engine import session_scope
from dispatch.members.models import PostalExportRequest
from dispatch.members.requests import due_date
from dispatch.members.services import MEMBER_ACTOR
from dispatch.members.texts import format_date
from dispatch.register.models import AuditEntry, Member
from dispatch.web.app import create_app
from tests.campaigns.conftest import world
from tests.members.scenario import Members, centre_path, members
from tests.members.smtp_server import Inbox, smtp
from tests.rendering.helpers import font_names, pdf_text, window_lines
from tests.web.conftest import form_token

__all__ = ["members", "smtp", "world"]  # fixtures, imported for pytest


def _letter_member(members: Members, language: str = "fi") -> tuple[int, int]:
    """A member without e-mail who got a real campaign's letter and bought fruit."""
    ids = members.world.add_members(6, email=None, language=language)
    cid = members.world.dispatching("own_post")
    assert members.world.finish(cid) == "completed"
    members.add_purchases(ids[1])
    return cid, ids[1]


def _centre(members: Members, cid: int, member: int) -> tuple[TestClient, str]:
    """The centre, opened with the QR code of the member's letter."""
    client = members.client()
    page = client.get(f"/K/{members.letter_code(cid, member)}")
    assert page.status_code == 200 and page.url.path == "/centre"
    return client, page.text


def _ask(client: TestClient, page: str) -> Response:
    return client.post("/centre/export", data={"csrf": form_token(page)})


def _requests(members: Members) -> list[PostalExportRequest]:
    with session_scope(members.world.engine) as session:
        return list(session.scalars(select(PostalExportRequest)))


def _audit(members: Members, member: int) -> list[tuple[str, str, str | None, dict[str, str]]]:
    with session_scope(members.world.engine) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.member_id == member).order_by(AuditEntry.id)
        )
        return [(a.actor, a.action, a.reason, a.detail) for a in rows]


def _personal(members: Members, member: int) -> list[str]:
    with session_scope(members.world.engine) as session:
        row = session.get_one(Member, member)
        return [row.last_name or "", row.street or "", row.card_number or ""]


def _address(members: Members, member: int) -> list[str]:
    with session_scope(members.world.engine) as session:
        row = session.get_one(Member, member)
        return [
            f"{row.first_name} {row.last_name}",
            row.street or "",
            f"{row.postcode} {row.post_town}",
        ]


def _files(folder: Path) -> set[str]:
    """Every file the print house's outbox and the mailer hold."""
    return {
        str(path.relative_to(folder))
        for sub in ("outbox", "mail")
        if (folder / sub).exists()
        for path in (folder / sub).rglob("*")
        if path.is_file()
    }


def _download(staff: TestClient, members: Members, public_id: str, reason: str) -> Response:
    return staff.post(
        f"/staff/exports/{public_id}/letter", data={"csrf": members.staff_csrf, "reason": reason}
    )


def test_a_member_without_email_gets_their_data_posted_by_customer_service(
    members: Members, caplog: pytest.LogCaptureFixture
) -> None:
    cid, member = _letter_member(members)
    client, page = _centre(members, cid, member)
    before = _files(members.world.var)
    personal = _personal(members, member)
    assert "Tilaa tietoni postitse" in page and "kuukauden kuluessa" in page

    answer = _ask(client, page)

    [queued] = _requests(members)
    due = format_date(due_date(queued.requested_at).isoformat())
    assert answer.status_code == 200
    assert f"postittaa tietosi rekisteröityyn postiosoitteeseesi viimeistään {due}" in answer.text
    shown = [
        s for s in [*personal, "Uusimaa", "Ruoka", "12,50", "test segment"] if s in answer.text
    ]
    assert shown == []
    assert (queued.member_id, queued.status, queued.cause) == (member, "open", "no_email")
    assert (queued.source, queued.language, queued.downloads) == ("centre:letter", "fi", 0)
    assert [(actor, action) for actor, action, _, _ in _audit(members, member)] == [
        (MEMBER_ACTOR, "member.export_requested")
    ]

    staff = members.staff("maija.cs")
    listing = staff.get("/staff/exports")
    assert listing.status_code == 200 and queued.public_id in listing.text
    assert [s for s in personal if s in listing.text] == []
    auditor = members.staff("outi.auditor", Role.AUDITOR)
    assert _download(auditor, members, queued.public_id, "curious").status_code == 403

    with caplog.at_level(logging.INFO):
        letter = _download(staff, members, queued.public_id, "ticket 4711")

    assert letter.status_code == 200
    assert letter.headers["content-type"] == "application/pdf"
    assert letter.headers["cache-control"] == "no-store"
    assert f'filename="{queued.public_id}.pdf"' in letter.headers["content-disposition"]
    pdf = letter.content
    assert window_lines(pdf) == _address(members, member)
    text = " ".join(pdf_text(pdf).split())
    rows = [" ".join(line.split()) for line in pdf_text(pdf, layout=True).splitlines()]
    # Why, in words: the campaign, the segment's description and its criterion, not SQL.
    assert "Miksi sait kampanjamme" in text
    assert "Posti · Osuuskaupan omat tarjoukset · lähetetty" in text
    assert "test segment Sinut valittiin, koska • asut maakunnassa Uusimaa" in text
    # Purchases per top-level group and month, in euros.
    assert "Ostosi tuoteryhmittäin ja kuukausittain (euroa)" in text
    assert "Tuoteryhmä 9/2026 10/2026 Yhteensä" in rows and "Ruoka 12,50 30,25 42,75" in rows
    # The rest of the export in words, this download included.
    assert "Kanta-asiakasnumero " + personal[2] in text
    assert "pyysit tietosi postitse" in text and "tietosi koottiin sinulle" in text
    assert "SELECT" not in text.upper().replace("SELECTED", "")
    fonts = font_names(pdf)  # the shipped faces only, embedded
    assert {name.split("+")[-1] for name, _ in fonts} == {"Noto-Sans", "Noto-Sans-Bold"}
    assert all(embedded for _, embedded in fonts)
    audit = _audit(members, member)
    assert audit[-1] == (
        "maija.cs",
        "member.export",
        f"ticket 4711 ({queued.public_id})",
        {"destination": "post"},
    )
    assert [s for s in personal if s in caplog.text] == []
    assert _files(members.world.var) == before  # not the print house, not the mailer

    done = staff.post(
        f"/staff/exports/{queued.public_id}/posted",
        data={"csrf": members.staff_csrf, "reason": "posted 1st class"},
        follow_redirects=False,
    )

    assert done.status_code == 303
    [handled] = _requests(members)
    assert (handled.status, handled.handled_by, handled.downloads) == ("posted", "maija.cs", 1)
    assert _audit(members, member)[-1][:3] == (
        "maija.cs",
        "member.export_posted",
        "posted 1st class",
    )
    assert _download(staff, members, queued.public_id, "again").status_code == 409


def test_posting_needs_a_printed_letter_and_a_repeat_is_not_queued_twice(
    members: Members,
) -> None:
    cid, member = _letter_member(members)
    client, page = _centre(members, cid, member)
    _ask(client, page)
    again = _ask(client, page)
    [queued] = _requests(members)
    staff = members.staff("maija.cs")
    form = {"csrf": members.staff_csrf, "reason": "posted"}

    early = staff.post(f"/staff/exports/{queued.public_id}/posted", data=form)
    declined = staff.post(
        f"/staff/exports/{queued.public_id}/decline",
        data={**form, "reason": "member asked to collect it at the store"},
        follow_redirects=False,
    )
    third = _ask(client, page)
    client.post("/centre/erasure", data={"csrf": form_token(page)})
    [erasure] = members.erasures()
    # One queue's request is nothing to the other's routes.
    assert _download(staff, members, erasure, "ticket 2").status_code == 404
    wrong = staff.post(f"/staff/erasures/{queued.public_id}/decline", data=form)
    assert wrong.status_code == 404

    assert "on jo käsittelyssä" in again.text
    assert early.status_code == 409 and "download and print the letter" in early.text
    assert declined.status_code == 303
    assert [(r.status, r.note) for r in _requests(members)] == [
        ("declined", "member asked to collect it at the store")
    ]
    assert "Olet jo pyytänyt tietosi tänään" in third.text  # one a day
    actions = [(actor, action) for actor, action, _, _ in _audit(members, member)]
    assert actions == [
        (MEMBER_ACTOR, "member.export_requested"),
        ("maija.cs", "member.export_declined"),
        (MEMBER_ACTOR, "member.erasure_requested"),
    ]


def test_a_swedish_member_gets_the_letter_in_swedish(members: Members) -> None:
    cid, member = _letter_member(members, language="sv")
    client, page = _centre(members, cid, member)

    answer = _ask(client, page)
    [queued] = _requests(members)
    letter = _download(members.staff("maija.cs"), members, queued.public_id, "ticket 12")

    assert "Vår kundtjänst postar dina uppgifter" in answer.text
    text = " ".join(pdf_text(letter.content).split())
    rows = [" ".join(line.split()) for line in pdf_text(letter.content, layout=True).splitlines()]
    assert "Varför du fick våra kampanjer" in text and "du bor i landskapet Uusimaa" in text
    assert "Dina köp per produktgrupp och månad (euro)" in text
    assert "Mat 12,50 30,25 42,75" in rows
    assert "Miksi" not in text and "Ostosi" not in text


def test_an_address_the_mailer_refuses_gets_the_data_by_post(
    members: Members, smtp: tuple[str, Inbox]
) -> None:
    url, inbox = smtp
    _, ids = members.email_campaign(5)
    member = ids[3]
    inbox.refused.add(members.address(member))
    app = create_app(dataclasses.replace(members.app.state.settings, mailer_url=url))
    client = TestClient(app, base_url="http://testserver")
    page = client.get(centre_path(members.mail_to(member)))
    assert "Lähetä tietoni sähköpostiini" in page.text

    answer = _ask(client, page.text)

    assert "Sähköpostiosoitteeseesi ei voitu lähettää" in answer.text
    assert inbox.messages == []
    assert [(r.member_id, r.cause, r.source) for r in _requests(members)] == [
        (member, "undeliverable", "centre:email")
    ]
    # The mail that did not go left no export entry; the request did.
    assert [action for _, action, _, _ in _audit(members, member)] == ["member.export_requested"]
    app.state.mailer.close()
    app.state.engine.dispose()


def test_an_erased_member_has_no_letter_to_post(members: Members) -> None:
    cid, member = _letter_member(members)
    client, page = _centre(members, cid, member)
    _ask(client, page)
    [queued] = _requests(members)
    with session_scope(members.world.engine) as session:
        session.execute(update(Member).where(Member.id == member).values(status="erased"))

    refused = _download(members.staff("maija.cs"), members, queued.public_id, "ticket 1")

    assert refused.status_code == 409 and "erased" in refused.text
    assert [action for _, action, _, _ in _audit(members, member)] == ["member.export_requested"]
