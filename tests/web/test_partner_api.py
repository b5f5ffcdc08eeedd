"""The partner API: uploads with idempotency keys, pagination, tenancy, no counts."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from dispatch.campaigns import services as campaigns
from dispatch.creatives import services as creatives
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from tests import factories
from tests.campaigns.conftest import segment_text
from tests.creatives.builders import valid_files, zip_bytes
from tests.web.conftest import PARTNER_A, PARTNER_B, Site, problem


def _versions(site: Site) -> int:
    with session_scope(site.engine) as session:
        return int(session.scalar(select(func.count()).select_from(CreativeVersion)) or 0)


def _upload(site: Site, key: str | None, data: bytes, user: str = "a_editor"):  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": key} if key else {}
    return site.api(user).post(
        "/api/v1/creatives",
        files={"bundle": ("bundle.zip", data, "application/zip")},
        headers=headers,
    )


def test_an_upload_retried_with_its_key_makes_one_version(site: Site) -> None:
    data = zip_bytes(valid_files())
    first = _upload(site, "upload-1", data)
    before = _versions(site)
    again = _upload(site, "upload-1", data)

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert _versions(site) == before
    assert first.json()["id"].startswith("cv_") and first.json()["state"] == "submitted"


def test_a_key_reused_with_a_different_bundle_is_refused_and_stores_nothing(site: Site) -> None:
    assert _upload(site, "k", zip_bytes(valid_files())).status_code == 201
    files = valid_files()
    files["email.txt.j2"] = b"something else {{ recipient.first_name }}\n"
    before = _versions(site)

    response = _upload(site, "k", zip_bytes(files))

    assert response.status_code == 422
    assert "different request" in problem(response)["detail"]
    assert _versions(site) == before


def test_a_version_document_links_its_previews_and_they_are_served(site: Site) -> None:
    api = site.api("a_viewer", scope="read")
    doc = api.get(f"/api/v1/versions/{site.versions[PARTNER_A]}").json()

    page = doc["previews"]["fi"]["letter_pages"][0]
    assert api.get(page).headers["content-type"] == "image/png"
    assert api.get(doc["previews"]["sv"]["email_text"]).text.strip()
    assert api.get(f"/api/v1/versions/{site.versions[PARTNER_B]}").status_code == 404


def test_lists_are_paginated(site: Site) -> None:
    for n in range(3):
        files = valid_files()
        files["creative.yaml"] = files["creative.yaml"].replace(
            b"name: spring-offer", f"name: offer-{n}".encode()
        )
        assert _upload(site, None, zip_bytes(files)).status_code == 201
    api = site.api("a_viewer", scope="read")

    first = api.get("/api/v1/creatives?per_page=2").json()
    second = api.get("/api/v1/creatives?per_page=2&page=2").json()

    assert len(first["items"]) == 2 and first["page"]["has_next"] is True
    assert second["page"]["has_next"] is False
    names = {c["name"] for c in first["items"] + second["items"]}
    assert len(names) == 4  # the demo creative and three new ones, none of partner B's
    assert api.get("/api/v1/creatives?per_page=1000").status_code == 422


def test_campaigns_show_state_and_dates_and_no_numbers(site: Site, tmp_path: Path) -> None:
    segment = tmp_path / "seg.yaml"
    segment.write_text(segment_text("a-email", "partner_marketing", "email"))
    with session_scope(site.engine) as session:
        factories.member(session)
        version = session.scalar(
            select(CreativeVersion).where(CreativeVersion.public_id == site.versions[PARTNER_A])
        )
        assert version is not None
        creatives.approve(session, version.id, "approver")
        campaign = campaigns.create(
            session,
            partner=PARTNER_A,
            creative_version_id=version.id,
            segment_path=segment,
            channel="email",
            actor="manager",
            min_partner_audience=0,  # an object to look at, never sent
        )
        campaign.recipient_count = 4242  # a number that must never be shown
        public_id = campaign.public_id
    api = site.api("a_viewer", scope="read")

    listed = api.get("/api/v1/campaigns").json()
    one = api.get(f"/api/v1/campaigns/{public_id}")

    assert [c["id"] for c in listed["items"]] == [public_id]
    assert one.json()["reports_url"] == f"/api/v1/partner/campaigns/{public_id}/reports"
    assert "4242" not in one.text and "recipient" not in one.text
    assert "segment" not in one.text
    page = site.client("a_viewer").get(f"/partner/campaigns/{public_id}")
    # A draft gets an audience estimate, and one member is far under the minimum.
    assert "fewer than 50 members" in page.text and "4242" not in page.text
    assert site.api("b_viewer").get(f"/api/v1/campaigns/{public_id}").status_code == 404
    # The dashboard lists it in its own short form, for partner A only.
    dashboard = site.client("a_viewer").get("/partner").text
    row = re.search(
        rf"<a href=\"/partner/campaigns/{public_id}\">([^<]+)</a>(.*?)</tr>", dashboard, re.S
    )
    assert row is not None
    assert row.group(1).endswith(" v1")
    assert "<td>email</td>" in row.group(2) and ">draft<" in row.group(2)
    assert "4242" not in dashboard
    assert public_id not in site.client("b_viewer").get("/partner").text


def test_a_partner_admin_invites_through_the_api_and_only_its_own_roles(site: Site) -> None:
    api = site.api("a_admin")

    made = api.post("/api/v1/users", json={"username": "api.user", "role": "partner_editor"})
    staff = api.post("/api/v1/users", json={"username": "api.boss", "role": "admin"})

    assert made.status_code == 201
    assert "/invite/inv_" in made.json()["invitation_url"]
    assert staff.status_code == 422
    assert site.api("a_editor").post("/api/v1/users", json={"username": "x.y"}).status_code == 403
    listed = api.get("/api/v1/users").json()["items"]
    assert "api.user" in {u["username"] for u in listed}
    assert not {u["username"] for u in listed} & {"b_admin", "manager"}
