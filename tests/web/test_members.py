"""The member's side over HTTP: one-click unsubscribe from a real campaign's e-mail, the
preference centre opened from an e-mail or a letter, and every way a link is attacked.

Each test sends a real campaign through the batch jobs to the maildir mailer, reads
the member's e-mail as a mail client would, and follows its links.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from dispatch.campaigns.models import MemberLink
from dispatch.db.engine import session_scope
from dispatch.db.types import Channel, Decision, Purpose
from dispatch.register import consent, tokens
from dispatch.register.consent import CAMPAIGN_CHANNELS, CAMPAIGN_PURPOSES
from dispatch.register.models import Member
from dispatch.register.tokens import LinkPurpose
from dispatch.web.access import MEMBER_COOKIE
from tests.campaigns.conftest import world
from tests.members.scenario import (
    Members,
    centre_path,
    confirmation_path,
    members,
    unsubscribe_path,
)
from tests.web.conftest import form_token

__all__ = ["members", "world"]  # fixtures, imported for pytest

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def test_one_click_post_withdraws_and_the_next_campaign_leaves_the_member_out(
    members: Members,
) -> None:
    cid, ids = members.email_campaign(6)
    leaver = ids[2]
    path = unsubscribe_path(members.mail_to(leaver))

    # What a mail client sends for List-Unsubscribe-Post: no cookie, no CSRF token.
    answer = members.client().post(path, data=ONE_CLICK)

    assert answer.status_code == 200
    assert members.ledger(leaver)[0] == {
        "purpose": "partner_marketing",
        "channel": "email",
        "decision": "refused",
        "source": "one-click",
        "campaign_id": cid,
    }
    following = members.email_dispatching()
    assert leaver not in members.world.recipients(following)
    assert set(ids) - {leaver} <= set(members.world.recipients(following))


def test_one_click_reaches_a_batch_that_is_queued_but_not_handed_off(members: Members) -> None:
    _, ids = members.email_campaign(5)
    queued = members.email_dispatching()  # snapshot taken, not sent
    leaver = ids[0]
    assert leaver in members.world.recipients(queued)

    answer = members.client().post(unsubscribe_path(members.mail_to(leaver)), data=ONE_CLICK)
    assert answer.status_code == 200
    assert members.world.finish(queued) == "completed"

    assert members.world.recipients(queued)[leaver] == ("suppressed", "consent_refused")
    assert len(members.world.with_status(queued, "delivered")) == len(ids) - 1


def test_repeating_the_one_click_post_is_harmless(members: Members) -> None:
    _, ids = members.email_campaign(5)
    path = unsubscribe_path(members.mail_to(ids[1]))
    client = members.client()

    answers = [client.post(path, data=ONE_CLICK) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len(members.ledger(ids[1])) == 3  # two grants of the test set-up, one refusal


def test_get_of_the_unsubscribe_url_changes_nothing_and_offers_the_button_in_swedish(
    members: Members,
) -> None:
    _, ids = members.email_campaign(5)
    with session_scope(members.world.engine) as session:
        session.execute(update(Member).where(Member.id == ids[0]).values(language="sv"))
    path = unsubscribe_path(members.mail_to(ids[0]))
    before = members.ledger_size()

    page = members.client().get(path)  # as a mail filter or a browser would

    assert page.status_code == 200 and members.ledger_size() == before
    assert '<html lang="sv">' in page.text and "Avsluta e-posten" in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert re.search(r'href="/p/[A-Za-z0-9_-]{43}"', page.text)  # the preference centre
    assert page.headers["Referrer-Policy"] == "no-referrer"
    done = members.client().post(path + "?lang=sv", data=ONE_CLICK)
    assert "E-posten har avslutats" in done.text


def test_token_attacks_get_4xx_and_leave_the_ledger_unchanged(members: Members) -> None:
    cid, ids = members.email_campaign(5)
    other_cid = members.world.dispatching("own_post")  # a letter campaign they are also in
    victim, other = ids[0], ids[1]
    genuine = unsubscribe_path(members.mail_to(victim))
    token = genuine.rsplit("/", 1)[1]
    secret = members.secret
    before = members.ledger_size()
    client = members.client()

    attacks = {
        # made with a key that is not ours
        "forged": tokens.campaign_token("not-our-secret-0123456789", "unsubscribe", cid, victim),
        # one character changed
        "altered": token[:-1] + ("A" if token[-1] != "A" else "B"),
        # the right HMAC of a campaign the member's e-mail was not from
        "another campaign's": tokens.campaign_token(secret, "unsubscribe", other_cid, victim),
        # the centre link's value presented as an unsubscribe token
        "another purpose's": tokens.campaign_token(secret, "centre", cid, victim),
        # a member id swapped in: the HMAC of a member who never got this campaign
        "another member's": tokens.campaign_token(secret, "unsubscribe", cid, 999_999),
        "garbage": "x" * 43,
    }
    for name, value in attacks.items():
        answer = client.post(f"/u/{value}", data=ONE_CLICK)
        assert answer.status_code == 404, name

    with session_scope(members.world.engine) as session:
        session.execute(
            update(MemberLink)
            .where(MemberLink.member_id == other, MemberLink.purpose == "unsubscribe")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    expired = client.post(unsubscribe_path(members.mail_to(other)), data=ONE_CLICK)

    assert expired.status_code == 410
    assert members.ledger_size() == before
    assert "Linkki ei ole enää voimassa" in expired.text and "Länken gäller inte" in expired.text


def test_a_revoked_link_is_gone_and_too_many_failures_are_refused_for_a_while(
    members: Members,
) -> None:
    _, ids = members.email_campaign(5)
    path = unsubscribe_path(members.mail_to(ids[0]))
    with session_scope(members.world.engine) as session:
        from dispatch.members import links

        links.revoke_member(session, ids[0])
    client = members.client()

    assert client.post(path, data=ONE_CLICK).status_code == 410
    statuses = [client.post(f"/u/{'y' * 42}{i}", data=ONE_CLICK).status_code for i in range(35)]

    assert statuses[:30] == [404] * 30 and set(statuses[30:]) == {429}
    assert client.get("/k/ABCD-EFGH-JKMN").status_code == 429  # every member route
    assert members.ledger(ids[0])[0]["source"] == "test"


def _open_centre(members: Members, member_id: int) -> tuple[TestClient, str]:
    client = members.client()
    page = client.get(centre_path(members.mail_to(member_id)))
    assert page.status_code == 200 and str(page.url).endswith("/centre")
    return client, page.text


def test_the_centre_from_an_email_restricts_at_once_and_sends_a_confirmation_to_widen(
    members: Members,
) -> None:
    cid, ids = members.email_campaign(5)
    member = ids[3]
    client, page = _open_centre(members, member)
    assert "Markkinointivalintasi" in page
    assert 'value="partner_marketing:email" checked' in page
    assert (
        'value="partner_marketing:sms"' in page
        and 'value="partner_marketing:sms" checked' not in page
    )

    allow = ["partner_marketing:post", "partner_marketing:phone", "market_research:email"]
    answer = client.post("/centre", data={"csrf": form_token(page), "allow": allow})

    assert answer.status_code == 200
    ledger = members.ledger(member)
    refused = {(e["purpose"], e["channel"]) for e in ledger if e["decision"] == "refused"}
    assert ("own_marketing", "post") in refused and ("partner_marketing", "email") in refused
    assert ("own_marketing", "email") in refused and ("partner_marketing", "post") not in refused
    assert {e["source"] for e in ledger if e["decision"] == "refused"} == {"centre:email"}
    assert {e["campaign_id"] for e in ledger if e["decision"] == "refused"} == {cid}
    assert not any(e["channel"] == "email" and e["purpose"] == "market_research" for e in ledger)
    # The widening waits for the member's own mailbox.
    confirmation = members.mail_to(member, subject="Vahvista")
    assert "Markkinatutkimukset: Sähköposti" in confirmation.get_content()
    confirm = confirmation_path(confirmation)
    mailbox = members.client()  # the member, in another browser, from their mailbox
    look = mailbox.get(confirm)
    assert look.status_code == 200 and members.ledger(member) == ledger
    done = mailbox.post(confirm, data={"csrf": form_token(look.text)})
    assert done.status_code == 200 and "vahvistettu" in done.text
    assert members.ledger(member)[0] == {
        "purpose": "market_research",
        "channel": "email",
        "decision": "granted",
        "source": "double-opt-in",
        "campaign_id": cid,
    }
    replay = mailbox.post(confirm, data={"csrf": form_token(look.text)})
    assert replay.status_code == 410
    assert len(members.ledger(member)) == len(ledger) + 1


def test_a_stolen_letter_cannot_widen_what_the_member_receives(members: Members) -> None:
    ids = members.world.add_members(6)
    cid = members.world.dispatching("own_post")
    assert members.world.finish(cid) == "completed"
    thief = members.client()
    code = tokens.format_code(members.letter_code(cid, ids[0])).lower()  # typed from paper
    form = thief.get("/k")
    assert form.status_code == 200 and 'autocomplete="off"' in form.text
    entered = thief.post("/k", data={"csrf": form_token(form.text), "code": code})
    assert entered.status_code == 200 and str(entered.url).endswith("/centre")
    before = members.ledger(ids[0])
    mails_before = len(members.mails())

    everything = [f"{p}:{c}" for p in CAMPAIGN_PURPOSES for c in CAMPAIGN_CHANNELS]
    answer = thief.post("/centre", data={"csrf": form_token(entered.text), "allow": everything})

    assert answer.status_code == 200
    assert members.ledger(ids[0]) == before  # nothing granted
    sent = members.mails()[mails_before:]
    assert [to for to, _ in sent] == [members.address(ids[0])]  # only to the member's address
    assert "Textmeddelande" not in answer.text and "Tekstiviesti" in answer.text  # refused: SMS
    with session_scope(members.world.engine) as session:
        states = consent.current_states(session, ids[0])
    assert not consent.allows(
        states, Purpose.OWN_MARKETING, Channel.EMAIL, on_optout_register=False
    )
    assert not any(e["decision"] == Decision.GRANTED for e in members.ledger(ids[0]))


def test_the_objection_button_stops_a_queued_letter(members: Members) -> None:
    ids = members.world.add_members(6)
    cid = members.world.dispatching("own_post")
    assert members.world.finish(cid) == "completed"
    queued = members.world.dispatching("own_post")
    client = members.client()
    entered = client.get(f"/K/{members.letter_code(cid, ids[4])}")  # the QR code's URL
    assert entered.status_code == 200

    answer = client.post("/centre/object", data={"csrf": form_token(entered.text)})

    assert answer.status_code == 200 and 'id="objection-active"' in answer.text
    assert members.ledger(ids[4])[0]["source"] == "centre:letter"
    assert members.ledger(ids[4])[0]["decision"] == "objected"
    assert members.world.finish(queued) == "completed"
    assert members.world.recipients(queued)[ids[4]] == ("suppressed", "objection")


def test_centre_forms_need_the_session_and_the_csrf_token(members: Members) -> None:
    _, ids = members.email_campaign(5)
    client, _ = _open_centre(members, ids[0])
    before = members.ledger_size()

    no_token = client.post("/centre/object", data={})
    other = members.client()  # a browser with a CSRF cookie of its own, but no session
    stranger = other.post("/centre/object", data={"csrf": form_token(other.get("/k").text)})
    guesser = members.client()
    guesser.cookies.set(MEMBER_COOKIE, "a-guessed-session-value")
    forged_cookie = guesser.post(
        "/centre/object", data={"csrf": form_token(guesser.get("/k").text)}
    )

    assert no_token.status_code == 403
    assert stranger.status_code == 401 and "/login" not in stranger.text
    assert forged_cookie.status_code == 404
    assert members.ledger_size() == before


def test_leaving_ends_the_session(members: Members) -> None:
    _, ids = members.email_campaign(5)
    client, page = _open_centre(members, ids[0])

    left = client.post("/centre/leave", data={"csrf": form_token(page)})
    again = client.get("/centre")

    assert left.status_code == 200 and MEMBER_COOKIE not in client.cookies
    assert again.status_code == 401


def test_no_link_value_reaches_the_access_log(
    members: Members, caplog: pytest.LogCaptureFixture
) -> None:
    _, ids = members.email_campaign(5)
    message = members.mail_to(ids[0])
    values = [unsubscribe_path(message).rsplit("/", 1)[1], centre_path(message).rsplit("/", 1)[1]]
    with caplog.at_level(logging.INFO, logger="dispatch.web.access"):
        _open_centre(members, ids[0])
        members.client().post(unsubscribe_path(message), data=ONE_CLICK)
    lines = [r.getMessage() for r in caplog.records if r.name == "dispatch.web.access"]

    assert any('"/u/{token}"' in line for line in lines)
    assert not [line for line in lines for v in values if v in line]
    assert members.address(ids[0]) not in caplog.text


def test_links_are_stored_only_as_digests(members: Members) -> None:
    cid, ids = members.email_campaign(5)
    message = members.mail_to(ids[0])
    value = unsubscribe_path(message).rsplit("/", 1)[1]

    stored = members.links_of(ids[0])

    assert {link.purpose for link in stored} == {"unsubscribe", "centre"}
    assert all(value not in link.digest for link in stored)
    assert tokens.digest(LinkPurpose.UNSUBSCRIBE, value) in {link.digest for link in stored}
    assert all(link.campaign_id == cid for link in stored)
