"""The portals in headless Chromium, as their users go through them.

A partner editor uploads a bundle and sees the preview pictures and the version's
state; an approver approves it; a campaign manager creates a campaign, an approver
approves it, the manager starts it and watches it complete; the partner reads its
report (small counts hidden); a user of the other
partner cannot open the first partner's pages. Screenshots of each step go to
``DISPATCH_TEST_SCREENSHOTS`` (or the test's tmp folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dispatch.db.engine import session_scope
from dispatch.db.types import Channel, Decision, Purpose
from tests import factories
from tests.campaigns.conftest import segment_text
from tests.creatives.builders import valid_files, zip_bytes
from tests.web.browser_steps import sign_in, sign_out
from tests.web.conftest import Site, set_min_partner_audience
from tests.web.live import live_server, screenshot_dir


def _members(site: Site, n: int) -> None:
    with session_scope(site.engine) as session:
        for _ in range(n):
            member = factories.member(session)
            factories.set_consent(
                session, member, Purpose.PARTNER_MARKETING, Channel.EMAIL, Decision.GRANTED
            )


@pytest.mark.slow
def test_partner_upload_review_campaign_and_tenancy_in_a_browser(
    site: Site, browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_min_partner_audience(site, monkeypatch, 5)
    segments = tmp_path / "segments"
    segments.mkdir()
    (segments / "spring-email.yaml").write_text(
        segment_text("spring-email", "partner_marketing", "email")
    )
    site.app.state.segments_dir = segments
    _members(site, 8)
    bundle = tmp_path / "spring-offer.zip"
    bundle.write_bytes(zip_bytes(valid_files()))
    shots = screenshot_dir(tmp_path)

    with live_server(site.app) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()

        # A partner editor uploads and looks at the preview.
        sign_in(page, base, "a_editor", shots)
        page.screenshot(path=str(shots / "partner-dashboard.png"), full_page=True)
        page.goto(f"{base}/partner/creatives/upload")
        page.set_input_files("input[name=bundle]", str(bundle))
        page.click("form[enctype] button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "passed every check" in page.inner_text("main")
        assert page.inner_text("#state") == "submitted"
        images = page.locator("img.letter-page")
        assert images.count() >= 1
        widths = images.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
        assert all(w > 500 for w in widths), widths  # real pictures, not broken images
        page.screenshot(path=str(shots / "partner-preview.png"), full_page=True)
        version_url = page.url.split("?")[0]
        version_id = version_url.rsplit("/", 1)[1]
        sign_out(page)

        # An approver approves it (after enrolling a second factor).
        sign_in(page, base, "approver", shots)
        page.goto(f"{base}/staff/versions/{version_id}")
        page.screenshot(path=str(shots / "staff-review.png"), full_page=True)
        page.click(f"form[action='/staff/versions/{version_id}/approve'] button")
        page.wait_for_load_state()
        assert "approved" in page.inner_text("main")
        sign_out(page)

        # A campaign manager creates the campaign.
        sign_in(page, base, "manager")
        page.goto(f"{base}/staff/campaigns/new")
        page.select_option("select[name=creative]", version_id)
        page.select_option("select[name=segment]", "spring-email")
        page.select_option("select[name=channel]", "email")
        page.fill("input[name=holdout]", "0")  # eight members: contact them all
        page.click("form[action='/staff/campaigns/new'] button[type=submit]")
        page.wait_for_load_state()
        campaign_url = page.url
        assert "/staff/campaigns/cp_" in campaign_url, page.inner_text("main")
        sign_out(page)

        # Another staff member approves it; the manager starts it and watches it end.
        sign_in(page, base, "approver")
        page.goto(campaign_url)
        page.click("form[action$='/approve'] button")
        page.wait_for_load_state()
        sign_out(page)
        sign_in(page, base, "manager")
        page.goto(campaign_url)
        page.click("form[action$='/start'] button")
        page.wait_for_load_state()
        page.screenshot(path=str(shots / "staff-campaign-running.png"), full_page=True)
        page.wait_for_function(
            "() => document.querySelector('h1').innerText.includes('completed')",
            timeout=90_000,
            polling=500,
        )
        page.screenshot(path=str(shots / "staff-campaign-completed.png"), full_page=True)
        assert "delivered" in page.inner_text("main")
        sign_out(page)

        # The partner reads the campaign's report: a chart, and eight members are "< 50".
        sign_in(page, base, "a_viewer")
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text))
        page.goto(campaign_url.replace("/staff/", "/partner/"))
        reports = page.inner_text("#reports")
        assert "What the campaign reached" in reports and "< 50" in reports
        assert "8" not in (page.locator("svg#totals").text_content() or "")
        box = page.locator("svg#totals").bounding_box()
        assert box is not None and box["width"] > 400  # drawn, with its CSS, by the CSP
        assert not [e for e in errors if "Content Security Policy" in e], errors
        page.screenshot(path=str(shots / "partner-report.png"), full_page=True)
        sign_out(page)

        # The other partner's user cannot open the first partner's pages.
        sign_in(page, base, "b_viewer")
        response = page.goto(version_url)
        assert response is not None and response.status == 404
        assert "spring-offer" not in page.inner_text("body")
        page.screenshot(path=str(shots / "other-partner-404.png"), full_page=True)
        context.close()
