"""A member in headless Chromium, in Finnish and in Swedish.

A Finnish-speaking member unsubscribes from a real campaign's e-mail with the
one-click POST (as a mail client sends it) and is left out of the next campaign;
opens the unsubscribe page and from it the preference centre, switches a choice off
with the keyboard, changes language, and forbids all direct marketing. A
Swedish-speaking member types the code of a letter; whoever holds that letter cannot
switch e-mail on, and the objection button leaves the member out of a batch already
queued. A Swedish-speaking member without e-mail asks for their data from a letter's
QR code: customer service will post it, and the page shows none of it. Screenshots of
each page go to ``DISPATCH_TEST_SCREENSHOTS`` (or tmp).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from dispatch.db.engine import session_scope
from dispatch.members.models import PostalExportRequest
from dispatch.register import tokens
from dispatch.register.models import Member
from tests.campaigns.conftest import world
from tests.members.scenario import Members, members, unsubscribe_path
from tests.web.live import live_server, screenshot_dir

__all__ = ["members", "world"]  # fixtures, imported for pytest


def _group(page: Any, legend: str) -> Any:
    """A purpose's fieldset, found by its legend as a screen reader announces it."""
    return page.get_by_role("group", name=legend)


@pytest.mark.slow
def test_a_finnish_member_unsubscribes_and_chooses_in_the_centre(
    members: Members, browser: Any, tmp_path: Path
) -> None:
    cid, ids = members.email_campaign(6)
    member = ids[0]
    path = unsubscribe_path(members.mail_to(member))
    shots = screenshot_dir(tmp_path)

    with live_server(members.app) as base:
        context = browser.new_context(viewport={"width": 900, "height": 1000})
        # The mail client's one-click POST: no page, no sign-in, no confirmation.
        answer = context.request.post(
            base + path, form={"List-Unsubscribe": "One-Click"}, max_redirects=0
        )
        assert answer.status == 200
        assert members.ledger(member)[0]["source"] == "one-click"
        assert member not in members.world.recipients(members.email_dispatching())

        page = context.new_page()
        page.goto(base + path)  # the footer link, opened later in a browser
        assert page.locator("html").get_attribute("lang") == "fi"
        assert "Sähköpostit on peruttu" in page.inner_text("#unsubscribed")
        page.screenshot(path=str(shots / "member-unsubscribed-fi.png"), full_page=True)
        page.get_by_role("link", name="Muuta muita markkinointivalintojasi").click()
        page.wait_for_load_state()
        assert page.url.endswith("/centre")
        assert page.get_by_role("heading", level=1).inner_text() == "Markkinointivalintasi"
        own_post = _group(page, "Osuuskaupan omat tarjoukset").get_by_role(
            "checkbox", name="Posti", exact=True
        )
        assert own_post.is_checked()
        page.screenshot(path=str(shots / "member-centre-fi.png"), full_page=True)

        # By keyboard: focus the box, space to switch it off, enter on the button.
        own_post.focus()
        page.keyboard.press("Space")
        assert not own_post.is_checked()
        page.get_by_role("button", name="Tallenna valinnat").focus()
        with page.expect_navigation():  # a key press does not wait for the page it loads
            page.keyboard.press("Enter")
        assert "Valintasi on tallennettu" in page.inner_text("main")
        latest = members.ledger(member)[0]
        assert (latest["purpose"], latest["channel"], latest["decision"]) == (
            "own_marketing",
            "post",
            "refused",
        )
        assert (latest["source"], latest["campaign_id"]) == ("centre:email", cid)

        page.get_by_role("link", name="På svenska").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "sv"
        assert page.get_by_role("heading", level=1).inner_text() == "Dina marknadsföringsval"
        page.get_by_role("button", name="Förbjud all direktmarknadsföring").click()
        page.wait_for_load_state()
        assert "Du har förbjudit all direktmarknadsföring" in page.inner_text("#objection-active")
        page.screenshot(path=str(shots / "member-objected-sv.png"), full_page=True)
        assert members.ledger(member)[0]["decision"] == "objected"
        context.close()


@pytest.mark.slow
def test_a_swedish_member_with_a_letter_cannot_be_widened_and_can_object(
    members: Members, browser: Any, tmp_path: Path
) -> None:
    ids = members.world.add_members(6, email_opt_in=False)
    with session_scope(members.world.engine) as session:
        session.execute(update(Member).where(Member.id.in_(ids)).values(language="sv"))
    cid = members.world.dispatching("own_post")
    assert members.world.finish(cid) == "completed"
    queued = members.world.dispatching("own_post")  # the next letter, not yet handed off
    member = ids[1]
    code = tokens.format_code(members.letter_code(cid, member))
    shots = screenshot_dir(tmp_path)
    before = members.ledger(member)

    with live_server(members.app) as base:
        context = browser.new_context(viewport={"width": 900, "height": 1000}, locale="sv-FI")
        page = context.new_page()
        page.goto(base + "/k")
        assert page.locator("html").get_attribute("lang") == "sv"
        page.get_by_label("Kod (12 tecken)").fill("wrong-code-0000")
        page.get_by_role("button", name="Fortsätt").click()
        page.wait_for_load_state()
        assert "Koden hittades inte" in page.inner_text("#code-error")
        page.screenshot(path=str(shots / "member-code-error-sv.png"), full_page=True)
        page.get_by_label("Kod (12 tecken)").fill(code.lower())  # as typed from paper
        page.get_by_role("button", name="Fortsätt").click()
        page.wait_for_load_state()
        assert page.url.endswith("/centre")
        assert page.locator("html").get_attribute("lang") == "sv"

        # Whoever holds the letter tries to switch e-mail marketing on.
        email = _group(page, "Samarbetspartners erbjudanden").get_by_role(
            "checkbox", name="E-post", exact=True
        )
        assert not email.is_checked()
        email.check()
        page.get_by_role("button", name="Spara valen").click()
        page.wait_for_load_state()
        assert "Vi har inte din e-postadress" not in page.inner_text("main")
        assert "Vi skickade en bekräftelse till din e-post" in page.inner_text("main")
        page.screenshot(path=str(shots / "member-widen-sv.png"), full_page=True)
        assert members.ledger(member) == before  # nothing granted by the link
        assert (
            not _group(page, "Samarbetspartners erbjudanden")
            .get_by_role("checkbox", name="E-post", exact=True)
            .is_checked()
        )

        page.get_by_role("button", name="Förbjud all direktmarknadsföring").click()
        page.wait_for_load_state()
        assert members.ledger(member)[0]["source"] == "centre:letter"
        context.close()

    assert members.world.finish(queued) == "completed"
    assert members.world.recipients(queued)[member] == ("suppressed", "objection")


@pytest.mark.slow
def test_a_swedish_member_without_email_asks_for_their_data_by_post(
    members: Members, browser: Any, tmp_path: Path
) -> None:
    ids = members.world.add_members(6, email=None, language="sv")
    cid = members.world.dispatching("own_post")
    assert members.world.finish(cid) == "completed"
    member = ids[2]
    with session_scope(members.world.engine) as session:
        row = session.get_one(Member, member)
        personal = [row.last_name or "", row.street or "", row.card_number or "", "Uusimaa"]
    shots = screenshot_dir(tmp_path)

    with live_server(members.app) as base:
        context = browser.new_context(viewport={"width": 900, "height": 1000}, locale="sv-FI")
        page = context.new_page()
        page.goto(f"{base}/K/{members.letter_code(cid, member)}")  # the letter's QR code
        assert page.url.endswith("/centre")
        data = page.get_by_role("region", name="Dina uppgifter", exact=True)
        assert "postar alla uppgifter" in data.inner_text()
        data.get_by_role("button", name="Beställ mina uppgifter per post").click()
        page.wait_for_load_state()
        note = page.get_by_role("status").first.inner_text()
        assert "Vår kundtjänst postar dina uppgifter till din registrerade postadress" in note
        assert [s for s in personal if s in page.content()] == []
        page.screenshot(path=str(shots / "member-data-by-post-sv.png"), full_page=True)
        context.close()

    with session_scope(members.world.engine) as session:
        queued = session.scalars(select(PostalExportRequest)).all()
        assert [(r.member_id, r.status, r.language) for r in queued] == [(member, "open", "sv")]
