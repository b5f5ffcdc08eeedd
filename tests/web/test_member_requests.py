""" "My data" and erasure from the preference centre.

The export goes by e-mail through a real SMTP server (aiosmtpd on loopback) to the
member's registered address and explains, per campaign, why the member was chosen
and their purchases per product group and month; none of it is in the HTTP answer.
An erasure request waits in customer service's queue, who erase (audited) after
confirming it with the member; the member's links are dead afterwards.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
from email.message import EmailMessage

from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.db.engine import session_scope
from dispatch.members.models import ErasureRequest
from dispatch.members.services import MEMBER_ACTOR
from dispatch.privacy.export import FORMAT
from dispatch.register.models import AuditEntry, Member
from dispatch.web.app import create_app
from tests.campaigns.conftest import world
from tests.members.scenario import Members, centre_path, members
from tests.members.smtp_server import Inbox, smtp
from tests.web.conftest import form_token

__all__ = ["members", "smtp", "world"]  # fixtures, imported for pytest


def test_my_data_goes_by_email_to_the_registered_address_and_not_to_the_browser(
    members: Members, smtp: tuple[str, Inbox]
) -> None:
    url, inbox = smtp
    cid, ids = members.email_campaign(5)
    member = ids[2]
    members.add_purchases(member)
    app = create_app(dataclasses.replace(members.app.state.settings, mailer_url=url))
    client = TestClient(app, base_url="http://testserver")
    page = client.get(centre_path(members.mail_to(member)))
    assert page.status_code == 200

    answer = client.post("/centre/export", data={"csrf": form_token(page.text)})

    assert answer.status_code == 200 and "rekisteröityyn sähköpostiosoitteeseesi" in answer.text
    address = members.address(member)
    assert [to for to, _ in inbox.messages] == [[address]]
    message = email.message_from_bytes(inbox.messages[0][1], policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "Tietosi kanta-asiakasrekisterissä"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    # Why: the campaign, its partner, and the segment's criteria in words, not SQL.
    assert "Miksi sait kampanjamme" in text and "Nordic Air" in text
    assert "asut maakunnassa Uusimaa" in text and "asut maakunnassa Uusimaa" in html
    assert "SELECT" not in text.upper().replace("SELECTED", "")
    # Purchases per top-level group and month, in euros.
    assert "Ruoka" in text and "9/2026 12,50" in text and "10/2026 30,25" in text
    assert '<th scope="row"' in html and "42,75" in html
    attachment = next(message.iter_attachments())
    document = json.loads(attachment.get_content())
    assert document["format"] == FORMAT and document["member_id"] == member
    assert [c["campaign_id"] for c in document["campaigns"]] == [cid]
    # Nothing of it reaches whoever holds the link.
    with session_scope(members.world.engine) as session:
        row = session.get_one(Member, member)
        personal = [row.last_name or "", row.street or "", address, row.card_number or ""]
    shown = answer.text
    assert [s for s in [*personal, "Uusimaa", "Ruoka", "12,50", "Nordic Air"] if s in shown] == []
    with session_scope(members.world.engine) as session:
        audited = session.scalars(
            select(AuditEntry).where(
                AuditEntry.member_id == member, AuditEntry.action == "member.export"
            )
        ).all()
    assert [(a.actor, a.detail) for a in audited] == [(MEMBER_ACTOR, {"destination": "email"})]

    again = client.post("/centre/export", data={"csrf": form_token(page.text)})
    assert again.status_code == 200 and "jo lähetetty tänään" in again.text
    assert len(inbox.messages) == 1
    app.state.mailer.close()
    app.state.engine.dispose()


def test_an_erasure_request_waits_for_customer_service_who_erase_it(members: Members) -> None:
    _, ids = members.email_campaign(5)
    member = ids[1]
    link = centre_path(members.mail_to(member))
    client = members.client()
    page = client.get(link)

    asked = client.post("/centre/erasure", data={"csrf": form_token(page.text)})
    twice = client.post("/centre/erasure", data={"csrf": form_token(page.text)})

    assert "välitetty asiakaspalveluun" in asked.text and "jo käsittelyssä" in twice.text
    with session_scope(members.world.engine) as session:
        queued = session.scalars(select(ErasureRequest)).all()
        assert [(r.member_id, r.status, r.source) for r in queued] == [
            (member, "open", "centre:email")
        ]
        request_id = queued[0].public_id
        assert session.get_one(Member, member).status == "active"  # nothing happens by itself

    staff = members.staff("maija.cs")
    token = members.staff_csrf
    listing = staff.get("/staff/erasures")
    assert listing.status_code == 200 and request_id in listing.text
    erased = staff.post(
        f"/staff/erasures/{request_id}/erase",
        data={"csrf": token, "reason": "called the member, ticket 4711"},
        follow_redirects=False,
    )

    assert erased.status_code == 303
    with session_scope(members.world.engine) as session:
        assert session.get_one(Member, member).status == "erased"
        actions = session.execute(
            select(AuditEntry.actor, AuditEntry.action).where(AuditEntry.member_id == member)
        ).all()
        assert (MEMBER_ACTOR, "member.erasure_requested") in actions
        assert ("maija.cs", "member.erase") in actions
        assert session.scalars(select(ErasureRequest.status)).all() == ["erased"]
    assert members.client().get(link).status_code == 410  # the old e-mail opens nothing
    again = staff.post(
        f"/staff/erasures/{request_id}/erase", data={"csrf": token, "reason": "twice"}
    )
    assert again.status_code == 409
