"""The staff API (``/api/v1/staff``): the portal's operations as JSON, same rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dispatch.campaigns.models import Campaign
from dispatch.db.engine import session_scope
from dispatch.jobs import tasks
from dispatch.register.models import AuditEntry
from tests import factories
from tests.web.conftest import (
    PARTNER_A,
    PARTNER_USERS,
    Site,
    problem,
    set_min_partner_audience,
    set_print_house_key,
)

API = "/api/v1/staff"
SEGMENT = """\
name: uusimaa-partner
description: everyone in Uusimaa
purpose: partner_marketing
channel: post
where:
  all:
    - region: Uusimaa
"""


@pytest.fixture
def staff_site(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The site with a segment folder and a few members; queued jobs dropped after."""
    set_min_partner_audience(site, monkeypatch, 2)
    set_print_house_key(site, monkeypatch)  # starting a post campaign checks it
    folder = tmp_path / "segments"
    folder.mkdir()
    (folder / "uusimaa-partner.yaml").write_text(SEGMENT)
    site.app.state.segments_dir = folder
    with session_scope(site.engine) as session:
        for _ in range(4):
            factories.member(session)
    yield site
    # A job left on the process's in-process broker must not reach a later test.
    tasks.jobs().broker.flush_all()


def _approve_version(site: Site) -> str:
    vid = site.versions[PARTNER_A]
    response = site.api("approver").post(f"{API}/versions/{vid}/approve")
    assert response.status_code == 200, response.text
    return vid


def _create(client: TestClient, vid: str, key: str | None = None, **over: str):  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": key} if key else {}
    body: dict[str, object] = {
        "creative": vid,
        "segment": "uusimaa-partner",
        "channel": "post",
        "holdout_percent": 0,  # a handful of members: every one is contacted
        **over,
    }
    return client.post(f"{API}/campaigns", json=body, headers=headers)


def _count(site: Site, what: type) -> int:
    with session_scope(site.engine) as session:
        return int(session.scalar(select(func.count()).select_from(what)) or 0)


def test_the_queue_and_a_version_are_served_with_their_validation(site: Site) -> None:
    client = site.api("approver", scope="read")
    vid = site.versions[PARTNER_A]

    queue = client.get(f"{API}/creatives", params={"per_page": 1})
    detail = client.get(f"{API}/versions/{vid}")

    assert queue.status_code == 200
    doc = queue.json()
    assert len(doc["items"]) == 1 and doc["page"] == {"page": 1, "per_page": 1, "has_next": True}
    assert doc["items"][0]["status"] == "submitted" and doc["items"][0]["id"].startswith("cv_")
    version = detail.json()
    assert version["content_verified"] is True
    assert "creative.yaml" in [f["name"] for f in version["files"]]
    assert set(version["languages"]) == {"fi", "sv"} and version["channels"]
    page_url = version["previews"]["fi"]["letter_pages"][0]
    png = client.get(page_url)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert "id" not in {k for k in version if k != "id"}  # no integer id field


def test_approving_by_api_is_audited_and_needs_a_write_token(site: Site) -> None:
    vid = site.versions[PARTNER_A]

    read_only = site.api("approver", scope="read").post(f"{API}/versions/{vid}/approve")
    done = site.api("approver").post(f"{API}/versions/{vid}/approve")

    assert read_only.status_code == 403 and "read-only" in problem(read_only)["detail"]
    assert done.status_code == 200 and done.json()["status"] == "approved"
    assert done.json()["decided_by"] == "approver"
    with session_scope(site.engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "creative_approve")
        ).one()
    assert entry.detail == {"version": vid} and entry.actor == "approver"


def test_rejecting_by_api_needs_a_reason(site: Site) -> None:
    client = site.api("manager")
    vid = site.versions[PARTNER_A]

    missing = client.post(f"{API}/versions/{vid}/reject", json={})
    empty = client.post(f"{API}/versions/{vid}/reject", json={"reason": ""})
    done = client.post(f"{API}/versions/{vid}/reject", json={"reason": "no terms"})

    assert missing.status_code == 422 and empty.status_code == 422
    assert done.status_code == 200 and done.json()["reason"] == "no terms"
    again = client.post(f"{API}/versions/{vid}/approve")
    assert again.status_code == 409 and vid in problem(again)["detail"]


def test_a_campaign_create_honours_the_idempotency_key(staff_site: Site) -> None:
    site = staff_site
    vid = _approve_version(site)
    client = site.api("manager")

    first = _create(client, vid, key="create-1")
    retry = _create(client, vid, key="create-1")
    other = _create(client, vid, key="create-1", channel="email")

    assert first.status_code == 201, first.text
    assert retry.status_code == 201 and retry.headers.get("idempotent-replayed") == "true"
    assert retry.json()["id"] == first.json()["id"] and first.json()["id"].startswith("cp_")
    assert other.status_code == 422
    assert _count(site, Campaign) == 1
    assert first.json()["status"] == "draft" and first.json()["reconciliation"] is None


def test_campaign_errors_are_problems_naming_the_field(staff_site: Site) -> None:
    site = staff_site
    client = site.api("manager")
    vid = site.versions[PARTNER_A]  # still submitted

    unapproved = _create(client, vid)
    unknown_segment = _create(client, _approve_version(site), segment="../../etc/passwd")

    assert unapproved.status_code == 422 and "approved" in problem(unapproved)["detail"]
    assert unknown_segment.status_code == 422
    assert "segment" in problem(unknown_segment)["detail"]
    assert _count(site, Campaign) == 0


def test_a_campaign_is_approved_by_another_person_then_started_and_cancelled(
    staff_site: Site,
) -> None:
    site = staff_site
    vid = _approve_version(site)
    cid = _create(site.api("manager"), vid).json()["id"]

    not_manager = site.api("manager").post(f"{API}/campaigns/{cid}/approve")
    approved = site.api("approver").post(f"{API}/campaigns/{cid}/approve")
    started = site.api("manager").post(f"{API}/campaigns/{cid}/start")
    cancelled = site.api("manager").post(f"{API}/campaigns/{cid}/cancel")
    shown = site.api("auditor", scope="read").get(f"{API}/campaigns/{cid}")

    assert not_manager.status_code == 403
    assert approved.status_code == 200 and approved.json()["approved_by"] == "approver"
    assert started.status_code == 200
    assert started.json()["campaign"]["status"] == "scheduled" and not started.json()["resumed"]
    assert cancelled.status_code == 200 and cancelled.json()["campaign"]["status"] == "cancelled"
    assert shown.json()["status"] == "cancelled" and shown.json()["cancelled_by"] == "manager"
    assert shown.json()["progress"]["status"] == "cancelled"
    listed = site.api("approver").get(f"{API}/campaigns", params={"status": "cancelled"}).json()
    assert [c["id"] for c in listed["items"]] == [cid]


def test_create_and_approve_hold_the_same_rules_as_the_cli(
    staff_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service checks a past send time and the partner minimum, for both callers."""
    site = staff_site
    vid = _approve_version(site)
    client = site.api("manager")

    past = _create(client, vid, send_at="2001-01-01T09:00:00+02:00")
    cid = _create(client, vid).json()["id"]
    set_min_partner_audience(site, monkeypatch, 10)
    small = _create(client, vid)
    refused = site.api("approver").post(f"{API}/campaigns/{cid}/approve")

    assert past.status_code == 422
    assert problem(past)["detail"].startswith("send_at: 2001-01-01T09:00:00+02:00 is in the past")
    assert small.status_code == 409
    assert problem(small)["detail"] == (
        "segment: a partner campaign needs at least 10 recipients; "
        "segment uusimaa-partner selects 4 now"
    )
    assert refused.status_code == 409
    assert problem(refused)["detail"] == (
        f"campaign {cid}: a partner campaign needs at least 10 recipients; "
        "segment uusimaa-partner selects 4 now"
    )
    assert _count(site, Campaign) == 1


def test_a_creative_id_with_a_nul_byte_is_bad_input_not_a_server_error(
    staff_site: Site,
) -> None:
    """PostgreSQL refuses NUL in a text parameter; the id is checked before the query."""
    response = _create(staff_site.api("manager"), "cv_\x00abc")

    assert response.status_code == 422
    assert problem(response)["detail"] == "creative: no such creative version"


def test_segments_are_listed_and_counted(staff_site: Site) -> None:
    client = staff_site.api("auditor", scope="read")

    listing = client.get(f"{API}/segments")
    detail = client.get(f"{API}/segments/uusimaa-partner")
    missing = client.get(f"{API}/segments/..%2Fsecret")

    assert listing.json() == [
        {"name": "uusimaa-partner", "file": "uusimaa-partner.yaml", "ok": True, "problems": []}
    ]
    count = detail.json()["count"]
    assert count["matched"] == 4 and count["selected"] == 4
    assert count["matched"] == count["selected"] + sum(count["removed"].values())
    assert "region: Uusimaa" in detail.json()["source"]
    assert missing.status_code == 404


def test_member_lookup_by_api_is_audited_and_needs_a_reason(site: Site) -> None:
    with session_scope(site.engine) as session:
        member = factories.member(session, first_name="Ilmari")
        card, member_id = member.card_number, member.id
    client = site.api("service")

    no_reason = client.post(f"{API}/members/lookup", json={"card_number": card, "reason": ""})
    unknown = client.post(f"{API}/members/lookup", json={"card_number": "1234", "reason": "call"})
    found = client.post(
        f"{API}/members/lookup", json={"card_number": card, "reason": "objection by mail"}
    )

    assert no_reason.status_code == 422
    assert (
        unknown.status_code == 404
        and problem(unknown)["detail"] == "no member with that card number"
    )
    assert found.status_code == 200
    assert found.json()["document"]["member_id"] == member_id
    with session_scope(site.engine) as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.member_id == member_id)))
    assert [(e.actor, e.reason, e.origin) for e in entries] == [
        ("service", "objection by mail", "testclient")
    ]
    assert (
        site.api("manager")
        .post(f"{API}/members/lookup", json={"card_number": card, "reason": "curious"})
        .status_code
        == 403
    )


def test_the_audit_log_is_for_auditors_newest_first_and_filtered(site: Site) -> None:
    site.api("approver").post(f"{API}/versions/{site.versions[PARTNER_A]}/approve")
    site.api("manager").post(
        f"{API}/versions/{site.versions['Fuel Co']}/reject", json={"reason": "x"}
    )

    everything = site.api("auditor", scope="read").get(f"{API}/audit").json()["items"]
    approvals = (
        site.api("auditor", scope="read")
        .get(f"{API}/audit", params={"action": "creative_approve"})
        .json()["items"]
    )

    actions = [e["action"] for e in everything]
    assert actions.index("creative_reject") < actions.index("creative_approve")
    assert [e["actor"] for e in approvals] == ["approver"]
    assert site.api("approver").get(f"{API}/audit").status_code == 403


@pytest.mark.parametrize("username", PARTNER_USERS)
def test_partner_tokens_reach_no_staff_operation(site: Site, username: str) -> None:
    client = site.api(username)
    vid = site.versions[PARTNER_A]
    gets = ["/creatives", f"/versions/{vid}", "/campaigns", "/segments", "/audit"]
    posts = [f"/versions/{vid}/approve", "/campaigns", "/members/lookup"]

    for path in gets:
        assert client.get(API + path).status_code == 403, path
    for path in posts:
        assert client.post(API + path, json={}).status_code in {403}, path


def test_the_openapi_document_describes_the_staff_api(site: Site) -> None:
    doc = site.anonymous().get("/api/openapi.json").json()

    paths = doc["paths"]
    assert f"{API}/campaigns/{{campaign_id}}" in paths
    created = paths[f"{API}/campaigns"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/CampaignDetail")
    assert "Reconciliation" in doc["components"]["schemas"]
