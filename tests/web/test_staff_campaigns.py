"""Staff campaigns in the portal: create, approve (four eyes), start, follow to the end
with the in-process worker of ``dispatch serve``, reconcile, cancel."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.campaigns import report as reports
from dispatch.campaigns import services as cs
from dispatch.campaigns.models import Campaign
from dispatch.creatives import services as creatives
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from dispatch.db.types import Channel, Decision, Purpose
from dispatch.register.models import AuditEntry
from tests import factories
from tests.web.conftest import (
    PARTNER_A,
    Site,
    problem,
    set_min_partner_audience,
    set_print_house_key,
)

SEGMENT = """\
name: uusimaa-partner
description: everyone in Uusimaa
purpose: partner_marketing
channel: post
where:
  all:
    - region: Uusimaa
"""
MEMBERS = 7


@pytest.fixture
def world(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    """Members in Uusimaa (one objected), a segment folder, a print house, an approved
    creative version of Nordic Air."""
    set_print_house_key(site, monkeypatch)
    set_min_partner_audience(site, monkeypatch, 5)
    monkeypatch.setenv("DISPATCH_BATCH_SIZE", "3")
    folder = tmp_path / "segments"
    folder.mkdir()
    (folder / "uusimaa-partner.yaml").write_text(SEGMENT)
    site.app.state.segments_dir = folder
    with session_scope(site.engine) as session:
        for n in range(MEMBERS):
            factories.member(session, postcode=f"{100 + n * 7:05d}")
        factories.member(session, region="Lappi")  # not matched
        objected = factories.member(session)
        factories.set_consent(
            session,
            objected,
            Purpose.DIRECT_MARKETING,
            Channel.ANY,
            Decision.OBJECTED,
        )
        version = _version(session, site.versions[PARTNER_A])
        creatives.approve(session, version.id, "approver")
    return site


def _version(session, public_id: str) -> CreativeVersion:  # type: ignore[no-untyped-def]
    return session.scalars(
        select(CreativeVersion).where(CreativeVersion.public_id == public_id)
    ).one()


def _create(client: TestClient, site: Site, **over: str) -> str:
    data = {
        "csrf": client.csrf,  # type: ignore[attr-defined]
        "creative": site.versions[PARTNER_A],
        "segment": "uusimaa-partner",
        "channel": "post",
        "holdout": "0",  # a handful of members: every one is contacted and counted
        **over,
    }
    response = client.post("/staff/campaigns/new", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/staff/campaigns/(cp_\w+)", response.headers["location"])
    assert found
    return found.group(1)


def _status(site: Site, public_id: str) -> str:
    with session_scope(site.engine) as session:
        return session.scalars(select(Campaign.status).where(Campaign.public_id == public_id)).one()


def _audit_actions(site: Site) -> list[tuple[str, str]]:
    with session_scope(site.engine) as session:
        rows = session.execute(select(AuditEntry.action, AuditEntry.actor)).all()
    return [(a, b) for a, b in rows if a.startswith("campaign_")]


def test_a_campaign_is_created_approved_started_and_reconciled_in_the_portal(world: Site) -> None:
    site = world
    manager, approver = site.client("manager"), site.client("approver")
    cid = _create(manager, site)
    assert _status(site, cid) == "draft"
    # The creator's role does not approve; the approver does.
    assert (
        manager.post(f"/staff/campaigns/{cid}/approve", data={"csrf": manager.csrf}).status_code
        == 403
    )  # type: ignore[attr-defined]
    approved = approver.post(
        f"/staff/campaigns/{cid}/approve",
        data={"csrf": approver.csrf},
        follow_redirects=False,  # type: ignore[attr-defined]
    )
    assert approved.status_code == 303 and _status(site, cid) == "approved"

    with site.client("manager") as running:  # entering runs the lifespan: the job thread
        started = running.post(
            f"/staff/campaigns/{cid}/start",
            data={"csrf": running.csrf},
            follow_redirects=False,  # type: ignore[attr-defined]
        )
        assert started.status_code == 303
        live = running.get(f"/staff/campaigns/{cid}")
        deadline = time.monotonic() + 90
        while _status(site, cid) not in {"completed", "failed"} and time.monotonic() < deadline:
            time.sleep(0.3)
    assert _status(site, cid) == "completed"
    if "refresh" in live.text:  # caught while running: it refreshes itself
        assert '<meta http-equiv="refresh" content="2">' in live.text

    page = site.client("auditor").get(f"/staff/campaigns/{cid}")
    with session_scope(site.engine) as session:
        campaign = session.scalars(select(Campaign).where(Campaign.public_id == cid)).one()
        report = reports.report(session, campaign)
        stats = campaign.snapshot_stats or {}
    assert report.reconciled and report.total.snapshot == MEMBERS
    assert page.status_code == 200 and 'id="reconciled"' in page.text
    assert 'http-equiv="refresh"' not in page.text
    assert '<svg class="chart" id="funnel"' in page.text
    shown = dict(re.findall(r'data-kind="(\w+)">([\d,]+)<', page.text))
    assert int(shown["total"]) == stats["matched"] == MEMBERS + 1
    assert int(shown["kept"]) == report.total.snapshot
    assert int(shown["delivered"]) == report.total.delivered == MEMBERS
    removals = re.findall(r"removed: ([a-z ]+)</text>", page.text)
    assert removals == [r.replace("_", " ") for r, n in stats["removed"].items() if n]
    assert "objected" in " ".join(removals) or any("object" in r for r in removals)
    assert ("campaign_approve", "approver") in _audit_actions(site)
    assert ("campaign_start", "manager") in _audit_actions(site)


def test_the_creator_of_a_campaign_cannot_approve_it(world: Site) -> None:
    site = world
    with session_scope(site.engine) as session:
        version = _version(session, site.versions[PARTNER_A])
        campaign = cs.create(
            session,
            partner=PARTNER_A,
            creative_version_id=version.id,
            segment_path=site.app.state.segments_dir / "uusimaa-partner.yaml",
            channel="post",
            actor="approver",
            min_partner_audience=site.app.state.settings.min_partner_audience,
        )
        cid, internal = campaign.public_id, campaign.id
    approver = site.client("approver")

    refused = approver.post(f"/staff/campaigns/{cid}/approve", data={"csrf": approver.csrf})  # type: ignore[attr-defined]

    assert refused.status_code == 409
    assert "another person approves it" in refused.text and cid in refused.text
    assert f"campaign {internal} " not in refused.text  # public ids only
    assert _status(site, cid) == "draft"


def test_form_errors_are_shown_on_the_form(world: Site) -> None:
    site = world
    manager = site.client("manager")
    data = {
        "csrf": manager.csrf,  # type: ignore[attr-defined]
        "creative": site.versions[PARTNER_A],
        "segment": "uusimaa-partner",
        "channel": "email",
    }

    wrong_channel = manager.post("/staff/campaigns/new", data=data)
    no_zone = manager.post(
        "/staff/campaigns/new", data={**data, "channel": "post", "send_at": "2030-01-01T09:00"}
    )
    unknown = manager.post("/staff/campaigns/new", data={**data, "segment": "../x"})
    post = {**data, "channel": "post"}
    too_much = manager.post("/staff/campaigns/new", data={**post, "holdout": "75"})
    not_a_number = manager.post("/staff/campaigns/new", data={**post, "holdout": "ten"})

    for response in (wrong_channel, no_zone, unknown, too_much, not_a_number):
        assert response.status_code == 422
        assert 'id="form-error"' in response.text and "<form" in response.text
    assert "time zone" in no_zone.text
    assert "percentage from 0 to 50" in too_much.text
    assert "must be a percentage, not" in not_a_number.text
    with session_scope(site.engine) as session:
        assert session.scalars(select(Campaign)).all() == []


NO_KEY = "configuration: DISPATCH_PRINTHOUSE_RECIPIENT: no print house key"


def test_start_without_print_house_key_is_refused_in_one_line_before_anything_changes(
    world: Site,
) -> None:
    """The portal and the API run the preflight of ``campaign start``: a post campaign
    without a print house key is refused at once (409), not by failing batch jobs."""
    site = world
    manager, approver = site.client("manager"), site.client("approver")
    cid = _create(manager, site)
    approver.post(f"/staff/campaigns/{cid}/approve", data={"csrf": approver.csrf})  # type: ignore[attr-defined]
    assert _status(site, cid) == "approved"
    site.app.state.settings = replace(site.app.state.settings, printhouse_recipient=None)

    page = manager.post(f"/staff/campaigns/{cid}/start", data={"csrf": manager.csrf})  # type: ignore[attr-defined]
    api = site.api("manager").post(f"/api/v1/staff/campaigns/{cid}/start")

    assert page.status_code == 409 and NO_KEY in page.text
    assert "Traceback" not in page.text
    assert api.status_code == 409 and problem(api)["detail"].startswith(NO_KEY)
    assert _status(site, cid) == "approved"  # not scheduled: no snapshot will run
    assert ("campaign_start", "manager") not in _audit_actions(site)


def test_a_cancelled_campaign_stops_and_cannot_start(world: Site) -> None:
    site = world
    manager = site.client("manager")
    cid = _create(manager, site)

    cancelled = manager.post(
        f"/staff/campaigns/{cid}/cancel",
        data={"csrf": manager.csrf},
        follow_redirects=False,  # type: ignore[attr-defined]
    )
    again = manager.post(f"/staff/campaigns/{cid}/start", data={"csrf": manager.csrf})  # type: ignore[attr-defined]

    assert cancelled.status_code == 303 and _status(site, cid) == "cancelled"
    assert again.status_code == 409 and "only an approved campaign starts" in again.text
    assert ("campaign_cancel", "manager") in _audit_actions(site)
    page = manager.get(f"/staff/campaigns/{cid}")
    assert "cancelled" in page.text and f"/staff/campaigns/{cid}/cancel" not in page.text


def test_the_campaign_list_filters_by_state(world: Site) -> None:
    site = world
    manager = site.client("manager")
    draft = _create(manager, site)
    other = _create(manager, site)
    manager.post(f"/staff/campaigns/{other}/cancel", data={"csrf": manager.csrf})  # type: ignore[attr-defined]

    drafts = manager.get("/staff/campaigns?status=draft").text
    every = manager.get("/staff/campaigns").text

    assert draft in drafts and other not in drafts
    assert draft in every and other in every
