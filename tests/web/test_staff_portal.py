"""The staff portal's pages: review queue and decisions, segments, member lookup, audit
log, and who may reach which page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatch.creatives import services as creatives
from dispatch.creatives.bundle import load_bundle
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from dispatch.register.models import AuditEntry
from dispatch.web.staff_records import as_table
from tests import factories
from tests.web.conftest import CREATIVES, PARTNER_A, PARTNER_USERS, Site

STAFF_PAGES = [
    "/staff",
    "/staff/creatives",
    "/staff/campaigns",
    "/staff/campaigns/new",
    "/staff/segments",
    "/staff/members",
    "/staff/audit",
]
SEGMENT = """\
name: uusimaa-letters
description: everyone in Uusimaa
purpose: partner_marketing
channel: post
where:
  all:
    - region: Uusimaa
"""


def _version(site: Site, public_id: str) -> CreativeVersion:
    with session_scope(site.engine) as session:
        return session.scalars(
            select(CreativeVersion).where(CreativeVersion.public_id == public_id)
        ).one()


def _audit(site: Site, action: str) -> list[AuditEntry]:
    with session_scope(site.engine) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.fixture
def segments(site: Site, tmp_path: Path) -> Path:
    folder = tmp_path / "segments"
    folder.mkdir()
    (folder / "uusimaa-letters.yaml").write_text(SEGMENT)
    (folder / "broken.yaml").write_text("name: broken\npurpose: nonsense\n")
    (tmp_path / "secret.yaml").write_text(SEGMENT)  # outside the folder
    site.app.state.segments_dir = folder
    return folder


# --- review queue --------------------------------------------------------------------


def test_the_review_queue_lists_the_submitted_version_and_its_review_shows_previews(
    site: Site,
) -> None:
    client = site.client("approver")
    vid = site.versions[PARTNER_A]

    queue = client.get("/staff/creatives")
    page = client.get(f"/staff/versions/{vid}")

    assert queue.status_code == 200 and f'href="/staff/versions/{vid}"' in queue.text
    assert page.status_code == 200
    images = re.findall(
        rf'<img src="(/staff/versions/{vid}/preview/letter-fi-p\d+\.png)"', page.text
    )
    assert images, "no letter page preview"
    png = client.get(images[0])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert "Content hash verified" in page.text
    assert "creative.yaml" in page.text  # the bundle's files list
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    frame = client.get(f"/staff/versions/{vid}/preview/email-fi.html")
    assert frame.status_code == 200
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in frame.headers["content-security-policy"]
    sv = client.get(f"/staff/versions/{vid}?lang=sv")
    assert f"/staff/versions/{vid}/preview/letter-sv-p1.png" in sv.text


def test_a_preview_file_name_outside_the_rendered_set_is_not_found(site: Site) -> None:
    client = site.client("approver")
    vid = site.versions[PARTNER_A]

    assert client.get(f"/staff/versions/{vid}/preview/..%2F..%2Fdispatch.db").status_code == 404
    assert client.get(f"/staff/versions/{vid}/preview/COMPLETE").status_code == 404
    assert client.get("/staff/versions/cv_nonexistent").status_code == 404


def test_the_approver_approves_a_version_and_the_decision_is_audited(site: Site) -> None:
    client = site.client("approver")
    vid = site.versions[PARTNER_A]

    response = client.post(
        f"/staff/versions/{vid}/approve", data={"csrf": client.csrf}, follow_redirects=False
    )

    assert response.status_code == 303
    version = _version(site, vid)
    assert (version.status, version.decided_by) == ("approved", "approver")
    [entry] = _audit(site, "creative_approve")
    assert (entry.actor, entry.detail, entry.origin) == ("approver", {"version": vid}, "testclient")
    assert "approved</span> by approver" in client.get(f"/staff/versions/{vid}").text


def test_the_uploader_cannot_approve_their_own_version_with_four_eyes(site: Site) -> None:
    assert site.settings.four_eyes
    with session_scope(site.engine) as session:
        partner = creatives.get_partner(session, PARTNER_A)
        bundle = load_bundle(CREATIVES / "nordic-air-spring")
        own = creatives.store_bundle(session, partner, bundle, submitted_by="approver").public_id
    client = site.client("approver")

    page = client.get(f"/staff/versions/{own}")
    refused = client.post(f"/staff/versions/{own}/approve", data={"csrf": client.csrf})

    assert "another person decides on it" in page.text
    assert refused.status_code == 409
    assert own in refused.text and "another person decides" in refused.text
    assert _version(site, own).status == "submitted"
    assert _audit(site, "creative_approve") == []


def test_rejecting_needs_a_reason_which_the_version_then_carries(site: Site) -> None:
    client = site.client("manager")
    vid = site.versions[PARTNER_A]

    blank = client.post(f"/staff/versions/{vid}/reject", data={"csrf": client.csrf, "reason": " "})
    assert blank.status_code == 422
    assert _version(site, vid).status == "submitted"

    done = client.post(
        f"/staff/versions/{vid}/reject",
        data={"csrf": client.csrf, "reason": "the price claim lacks terms"},
        follow_redirects=False,
    )

    assert done.status_code == 303
    version = _version(site, vid)
    assert (version.status, version.reason) == ("rejected", "the price claim lacks terms")
    [entry] = _audit(site, "creative_reject")
    assert entry.actor == "manager" and entry.reason == "the price claim lacks terms"


def test_a_decision_without_the_form_token_is_refused(site: Site) -> None:
    client = site.client("approver")
    vid = site.versions[PARTNER_A]

    assert client.post(f"/staff/versions/{vid}/approve").status_code == 403
    assert _version(site, vid).status == "submitted"


# --- segments ------------------------------------------------------------------------


def test_segments_are_listed_with_their_check_and_show_the_waterfall(
    site: Site, segments: Path
) -> None:
    with session_scope(site.engine) as session:
        for _ in range(3):
            factories.member(session)
        factories.member(session, region="Lappi")
    client = site.client("manager")

    listing = client.get("/staff/segments")
    detail = client.get("/staff/segments/uusimaa-letters")

    assert listing.status_code == 200
    assert 'href="/staff/segments/uusimaa-letters"' in listing.text
    assert re.search(r"broken</a>.*?problem", listing.text, re.S)
    assert detail.status_code == 200
    assert re.search(r'id="matched">3<', detail.text) and re.search(
        r'id="selected">3<', detail.text
    )
    assert "<svg" in detail.text and 'id="waterfall"' in detail.text
    assert "region: Uusimaa" in detail.text  # the YAML text


@pytest.mark.parametrize("name", ["secret", "..%2Fsecret", "broken.yaml", "%2Fetc%2Fpasswd"])
def test_a_segment_name_reaches_only_files_of_the_folder(
    site: Site, segments: Path, name: str
) -> None:
    assert site.client("manager").get(f"/staff/segments/{name}").status_code == 404


# --- member lookup -------------------------------------------------------------------


def test_member_lookup_needs_a_reason_and_is_audited_with_actor_and_origin(site: Site) -> None:
    with session_scope(site.engine) as session:
        member = factories.member(session, first_name="Ritva")
        card, member_id = member.card_number, member.id
    client = site.client("service")

    no_reason = client.post("/staff/members", data={"csrf": client.csrf, "card_number": card})
    assert no_reason.status_code == 422 and "Ritva" not in no_reason.text
    assert _audit(site, "member.export") == []

    found = client.post(
        "/staff/members",
        data={"csrf": client.csrf, "card_number": card, "reason": "access request by phone"},
    )

    assert found.status_code == 200 and "Ritva" in found.text
    # The lists of the export read as tables (here the audit section, with this access).
    assert '<th scope="col">action</th>' in found.text
    [entry] = _audit(site, "member.export")
    assert (entry.actor, entry.member_id, entry.reason, entry.origin) == (
        "service",
        member_id,
        "access request by phone",
        "testclient",
    )


def test_a_list_of_the_export_becomes_columns_with_nested_records_spelled_out() -> None:
    table = as_table(
        [{"month": "2026-01", "group": {"code": "bread", "name_fi": "Leivät"}}, {"x": None}]
    )

    assert table["columns"] == ["month", "group", "x"]
    assert table["rows"] == [["2026-01", "code: bread, name fi: Leivät", "—"], ["—", "—", "—"]]


def test_an_unknown_card_number_says_so_and_reads_nobody(site: Site) -> None:
    client = site.client("service")

    response = client.post(
        "/staff/members",
        data={"csrf": client.csrf, "card_number": "0000 1111 2222", "reason": "call"},
    )

    assert response.status_code == 404
    assert "no member with that card number" in response.text
    assert "0000 1111 2222" not in response.text
    assert _audit(site, "member.export") == []


# --- audit log and access ------------------------------------------------------------


def test_the_auditor_reads_the_audit_log_filtered_but_cannot_approve(site: Site) -> None:
    approver = site.client("approver")
    vid = site.versions[PARTNER_A]
    approver.post(f"/staff/versions/{vid}/approve", data={"csrf": approver.csrf})
    client = site.client("auditor")

    log = client.get("/staff/audit?action=creative_approve")
    refused = client.post(
        f"/staff/versions/{vid}/reject", data={"csrf": client.csrf, "reason": "x"}
    )

    assert log.status_code == 200
    assert "creative_approve" in log.text and f"version={vid}" in log.text
    assert refused.status_code == 403
    assert _version(site, vid).status == "approved"


def test_customer_service_cannot_view_campaigns_or_the_queue(site: Site) -> None:
    client = site.client("service")

    assert client.get("/staff/campaigns").status_code == 403
    assert client.get("/staff/creatives").status_code == 403
    home = client.get("/staff")
    assert home.status_code == 200 and 'href="/staff/members"' in home.text
    assert "Review queue" not in home.text


def test_the_overview_shows_each_role_its_own_tiles(site: Site) -> None:
    approver = site.client("approver").get("/staff").text
    auditor = site.client("auditor").get("/staff").text

    assert re.search(r'id="queue-size">2<', approver)
    assert 'href="/staff/audit"' in auditor and 'id="queue-size"' in auditor
    assert "Look up a member" not in approver


@pytest.mark.parametrize("username", PARTNER_USERS)
def test_partner_users_reach_no_staff_page(site: Site, username: str) -> None:
    client = site.client(username)
    vid = site.versions[PARTNER_A]
    pages = [
        *STAFF_PAGES,
        f"/staff/versions/{vid}",
        f"/staff/versions/{vid}/preview/letter-fi-p1.png",
        "/staff/segments/anything",
    ]
    for path in pages:
        assert client.get(path).status_code == 403, path
    for path in (f"/staff/versions/{vid}/approve", "/staff/members", "/staff/campaigns/new"):
        assert client.post(path, data={"csrf": client.csrf}).status_code == 403, path


def test_a_signed_out_visitor_is_sent_to_the_login(site: Site) -> None:
    response = site.anonymous().get("/staff/audit", follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"].startswith("/login")
