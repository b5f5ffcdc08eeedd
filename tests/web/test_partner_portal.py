"""The partner portal as its users see it: creatives, previews, campaigns, users."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from dispatch.accounts.models import User
from dispatch.campaigns.models import Campaign, CampaignStatus
from dispatch.creatives import services as creatives
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from dispatch.db.ids import new_public_id
from dispatch.db.types import utcnow
from tests.creatives.builders import valid_files, zip_bytes
from tests.web.conftest import PARTNER_A, PARTNER_B, Site


def _version_id(site: Site, public_id: str) -> int:
    with session_scope(site.engine) as session:
        found = session.scalar(
            select(CreativeVersion.id).where(CreativeVersion.public_id == public_id)
        )
    assert found is not None
    return found


def test_the_dashboard_shows_the_partners_own_work_only(site: Site) -> None:
    page = site.client("a_viewer").get("/partner")

    assert page.status_code == 200
    assert PARTNER_A in page.text
    assert site.versions[PARTNER_A] in page.text
    assert site.versions[PARTNER_B] not in page.text
    assert "Open a campaign for its reports" in page.text


def _campaigns(site: Site, partner: str, count: int) -> list[str]:
    """``count`` campaigns of ``partner`` made an hour apart, oldest first: their ids."""
    now = utcnow()
    with session_scope(site.engine) as session:
        version = session.scalars(
            select(CreativeVersion).where(CreativeVersion.public_id == site.versions[partner])
        ).one()
        made = [
            Campaign(
                public_id=new_public_id("cp"),
                reference=f"{partner[:4]}-{i}",
                partner_id=version.creative.partner_id,
                creative_version_id=version.id,
                channel="post" if i % 2 else "email",
                purpose="partner_marketing",
                segment_name="s",
                segment_path="segments/s.yaml",
                segment_source="",
                segment_sha256="0" * 64,
                status=CampaignStatus.DRAFT,
                created_at=now - dt.timedelta(hours=count - i),
                created_by="manager",
                send_at=now + dt.timedelta(days=i),
            )
            for i in range(count)
        ]
        session.add_all(made)
    return [c.public_id for c in made]


def test_the_dashboard_lists_the_newest_eight_campaigns_and_versions(site: Site) -> None:
    mine = _campaigns(site, PARTNER_A, 10)
    theirs = _campaigns(site, PARTNER_B, 3)
    editor = site.client("a_editor")
    for _ in range(9):  # versions 1-9 of a new creative, after the one partner A had
        uploaded = editor.post(
            "/partner/creatives/upload",
            data={"csrf": editor.csrf},  # type: ignore[attr-defined]
            files={"bundle": ("spring.zip", zip_bytes(valid_files()), "application/zip")},
        )
        assert uploaded.status_code == 200

    page = site.client("a_viewer").get("/partner").text

    shown = re.findall(r'href="/partner/campaigns/([^"]+)"', page)
    assert shown == mine[::-1][:8]  # newest first, and only partner A's
    assert not set(theirs) & set(shown)
    versions = re.findall(r'href="/partner/versions/[^"]+">[^<]+</a></td><td>v(\d+)<', page)
    assert [int(v) for v in versions] == [9, 8, 7, 6, 5, 4, 3, 2]
    assert site.versions[PARTNER_B] not in page


def test_an_editor_uploads_a_bundle_and_sees_its_preview_pictures(site: Site) -> None:
    editor = site.client("a_editor")
    files = valid_files()
    response = editor.post(
        "/partner/creatives/upload",
        data={"csrf": editor.csrf},  # type: ignore[attr-defined]
        files={"bundle": ("spring.zip", zip_bytes(files), "application/zip")},
    )

    assert response.status_code == 200
    assert "passed every check" in response.text
    assert 'id="state">submitted<' in response.text
    images = re.findall(r'<img src="([^"]+\.png)"', response.text)
    assert images, "the preview page shows the letter as pictures"
    for src in images:
        picture = editor.get(src)
        assert picture.status_code == 200
        assert picture.headers["content-type"] == "image/png"
        assert picture.content.startswith(b"\x89PNG")
    pdf = editor.get(images[0].replace("-p1.png", ".pdf"))
    assert pdf.headers["content-type"] == "application/pdf"
    frame = re.search(
        r'<iframe class="email-frame" sandbox="allow-same-origin" src="([^"]+)"', response.text
    )
    assert frame
    html = editor.get(frame.group(1))
    assert "frame-ancestors 'self'" in html.headers["content-security-policy"]
    swedish = editor.get(response.url.path + "?lang=sv")
    assert "Våren är här" in swedish.text or "Hej" in swedish.text


def test_a_broken_bundle_is_listed_by_file_and_line_and_nothing_is_stored(site: Site) -> None:
    editor = site.client("a_editor")
    files = valid_files()
    files["letter.html.j2"] = b"<p>{{ recipient.address }}</p>\n<img src='https://evil.test/x.png'>"
    with session_scope(site.engine) as session:
        before = session.scalar(select(func.count()).select_from(CreativeVersion))

    response = editor.post(
        "/partner/creatives/upload",
        data={"csrf": editor.csrf},  # type: ignore[attr-defined]
        files={"bundle": ("bad.zip", zip_bytes(files), "application/zip")},
    )

    assert response.status_code == 422
    assert "Nothing was stored" in response.text
    assert re.search(r"<code>letter\.html\.j2:\d+</code>", response.text)
    with session_scope(site.engine) as session:
        assert session.scalar(select(func.count()).select_from(CreativeVersion)) == before


def test_the_version_history_shows_a_rejection_with_the_reviewers_reason(site: Site) -> None:
    with session_scope(site.engine) as session:
        creatives.reject(
            session, _version_id(site, site.versions[PARTNER_A]), "approver", "logo too small"
        )
        version = session.scalar(
            select(CreativeVersion).where(CreativeVersion.public_id == site.versions[PARTNER_A])
        )
        assert version is not None
        creative = version.creative.public_id

    page = site.client("a_viewer").get(f"/partner/creatives/{creative}")

    assert "rejected" in page.text and "logo too small" in page.text


def test_a_viewer_cannot_upload_and_a_partner_cannot_open_the_others_work(site: Site) -> None:
    viewer = site.client("a_viewer")
    assert viewer.get("/partner/creatives/upload").status_code == 403

    other = viewer.get(f"/partner/versions/{site.versions[PARTNER_B]}")
    assert other.status_code == 404
    assert PARTNER_B not in other.text
    preview = viewer.get(f"/partner/versions/{site.versions[PARTNER_B]}/preview/letter-fi-p1.png")
    assert preview.status_code == 404


def test_a_partner_admin_invites_a_user_of_its_own_partner(site: Site) -> None:
    admin = site.client("a_admin")
    page = admin.post(
        "/partner/users",
        data={"csrf": admin.csrf, "username": "new.viewer", "role": "partner_viewer"},  # type: ignore[attr-defined]
    )

    assert page.status_code == 200
    link = re.search(r'id="invite-link">[^<]*/invite/([^<]+)<', page.text)
    assert link
    assert site.anonymous().get(f"/invite/{link.group(1)}").status_code == 200
    with session_scope(site.engine) as session:
        user = session.scalar(select(User).where(User.username == "new.viewer"))
        assert user is not None and user.partner is not None
        assert user.partner.name == PARTNER_A
    staffish = admin.post(
        "/partner/users",
        data={"csrf": admin.csrf, "username": "sneaky", "role": "admin"},  # type: ignore[attr-defined]
    )
    assert staffish.status_code == 422
    assert site.client("a_editor").get("/partner/users").status_code == 403
