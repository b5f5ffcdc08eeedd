"""``dispatch campaign`` on the embedded defaults: exit codes, one-line errors, JSON."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select, update

from dispatch.campaigns.models import Campaign
from dispatch.creatives import services as creatives
from dispatch.db.engine import session_scope
from tests.campaigns.conftest import CREATIVES, OWN, PARTNER, World
from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def _create(cli: Cli, world: World, *extra: str, segment: str = "own_post") -> CliResult:
    return cli(
        "campaign",
        "create",
        "--partner",
        OWN,
        "--creative",
        str(world.creative[OWN]),
        "--segment",
        str(world.segments[segment]),
        "--channel",
        "post",
        *extra,
    )


def _one_line_error(result: CliResult, code: int, *fragments: str) -> None:
    assert result.code == code, (result.out, result.err)
    assert len(result.err.strip().splitlines()) == 1, result.err
    for fragment in fragments:
        assert fragment in result.err


def test_create_approve_start_report_list_status(cli: Cli, world: World) -> None:
    members = world.add_members(25)
    world.object(members[0])

    created = _create(cli, world, "--as", "anna", "--json")
    assert created.code == 0, created.err
    doc = created.json()
    assert isinstance(doc, dict)
    cid = doc["id"]
    assert doc["status"] == "draft" and doc["created_by"] == "anna"

    approved = cli("campaign", "approve", str(cid), "--as", "bob")
    assert approved.code == 0, approved.err
    assert approved.out.strip() == f"campaign {cid}: approved by bob"

    started = cli("campaign", "start", str(cid))
    assert started.code == 0, started.err
    assert f"campaign {cid}: scheduled" in started.out

    report = cli("campaign", "report", str(cid), "--json")
    assert report.code == 0, report.err
    doc = json.loads(report.out)  # exactly one document: trailing text would fail here
    total = doc["total"]
    assert doc["reconciled"] is True
    assert doc["campaign"]["status"] == "completed"
    assert (
        total["snapshot"]
        == 24
        == total["delivered"] + sum(total["suppressed"].values()) + sum(total["failed"].values())
    )
    assert total["in_flight"] == 0
    assert sum(b["snapshot"] for b in doc["batches"]) == total["snapshot"]

    listed = cli("campaign", "list", "--json")
    assert listed.code == 0
    [entry] = listed.json()  # type: ignore[misc]
    assert entry["id"] == cid and entry["status"] == "completed" and entry["recipients"] == 24

    status = cli("campaign", "status", str(cid), "--json")
    assert status.code == 0
    assert status.json() == {
        "id": cid,
        "status": "completed",
        "recipients": 24,
        "done": 24,
        "batches": 2,
        "batches_done": 2,
    }

    text = cli("campaign", "report", str(cid))
    assert text.code == 0 and "reconciled: 24 = 24 delivered" in text.out


def test_cancel_a_scheduled_campaign(cli: Cli, world: World) -> None:
    world.add_members(3)
    cid = world.create()
    assert cli("campaign", "approve", str(cid), "--as", "bob").code == 0
    assert cli("campaign", "start", str(cid), "--no-wait").code == 0

    cancelled = cli("campaign", "cancel", str(cid), "--as", "anna")

    assert cancelled.code == 0, cancelled.err
    assert (
        cancelled.out.strip() == f"campaign {cid}: cancelled by anna; 0 recipients will get nothing"
    )
    assert world.status(cid) == "cancelled"
    _one_line_error(
        cli("campaign", "cancel", str(cid), "--as", "anna"), 1, "cannot become cancelled"
    )


def test_create_refuses_an_unknown_partner(cli: Cli, world: World) -> None:
    world.add_members(1)
    result = cli(
        "campaign", "create", "--partner", "Nobody", "--creative", str(world.creative[OWN]),
        "--segment", str(world.segments["own_post"]), "--channel", "post", "--as", "anna",
    )  # fmt: skip
    _one_line_error(result, 2, "PARTNER", "no partner named 'Nobody'")


def test_create_refuses_another_partners_creative(cli: Cli, world: World) -> None:
    world.add_members(1)
    result = cli(
        "campaign", "create", "--partner", OWN, "--creative", str(world.creative[PARTNER]),
        "--segment", str(world.segments["own_post"]), "--channel", "post", "--as", "anna",
    )  # fmt: skip
    _one_line_error(result, 2, "--creative", "belongs to another partner")


@pytest.mark.parametrize("segment", ["own_post", "own_email"])
def test_create_refuses_a_partners_campaign_on_an_own_marketing_segment(
    cli: Cli, world: World, segment: str
) -> None:
    """A partner's letter under the cooperative's own consent would skip the opt-out
    register and every refusal of partner marketing (invariant 2 of DESIGN.md)."""
    world.add_members(1)
    channel = segment.split("_")[1]
    result = cli(
        "campaign", "create", "--partner", PARTNER, "--creative", str(world.creative[PARTNER]),
        "--segment", str(world.segments[segment]), "--channel", channel, "--as", "anna",
    )  # fmt: skip
    _one_line_error(
        result, 2, str(world.segments[segment]), "is for own_marketing, but Nordic Air is a partner"
    )
    with session_scope(world.engine) as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0

    # The same partner, marked as the cooperative, may (the mark is the only difference).
    assert cli("partner", "house", PARTNER).code == 0
    again = cli(
        "campaign", "create", "--partner", PARTNER, "--creative", str(world.creative[PARTNER]),
        "--segment", str(world.segments[segment]), "--channel", channel, "--as", "anna",
    )  # fmt: skip
    assert again.code == 0, again.err


def test_create_refuses_a_channel_the_segment_is_not_for(cli: Cli, world: World) -> None:
    world.add_members(1)
    result = cli(
        "campaign", "create", "--partner", PARTNER, "--creative", str(world.creative[PARTNER]),
        "--segment", str(world.segments["partner_email"]), "--channel", "post", "--as", "anna",
    )  # fmt: skip
    _one_line_error(result, 2, "partner-email.yaml", "is for email, not post")


def test_create_refuses_a_channel_the_creative_lacks(cli: Cli, world: World) -> None:
    world.add_members(1)
    result = cli(
        "campaign", "create", "--partner", OWN, "--creative", str(world.creative[OWN]),
        "--segment", str(world.segments["own_email"]), "--channel", "email", "--as", "anna",
    )  # fmt: skip
    _one_line_error(result, 2, "--creative", "has no email version")


def test_approve_refuses_an_unapproved_creative(cli: Cli, world: World) -> None:
    world.add_members(1)
    with session_scope(world.engine) as session:
        creatives.create_partner(session, "Fuel Oy")
        pending = creatives.submit(session, "Fuel Oy", CREATIVES / "coop-bicycles").id
    created = cli(
        "campaign", "create", "--partner", "Fuel Oy", "--creative", str(pending),
        "--segment", str(world.segments["partner_post"]), "--channel", "post", "--as", "anna",
        "--json",
    )  # fmt: skip
    assert created.code == 0, created.err
    cid = created.json()["id"]  # type: ignore[call-overload,index]

    result = cli("campaign", "approve", str(cid), "--as", "bob")

    _one_line_error(result, 1, f"campaign {cid}", "approve it first")
    assert world.status(cid) == "draft"


def test_start_refuses_a_draft(cli: Cli, world: World) -> None:
    world.add_members(1)
    cid = world.create()
    result = cli("campaign", "start", str(cid))
    _one_line_error(result, 2, "CAMPAIGN", "is draft; only an approved campaign starts")
    assert world.status(cid) == "draft"


@pytest.mark.parametrize("command", ["create", "approve", "cancel"])
def test_staff_commands_need_to_know_who_acts(cli: Cli, world: World, command: str) -> None:
    world.add_members(1)
    if command == "create":
        result = _create(cli, world)
    else:
        result = cli("campaign", command, str(world.create()))
    _one_line_error(result, 2, "--as")


def test_unknown_campaign_is_bad_input(cli: Cli, world: World) -> None:
    _one_line_error(cli("campaign", "report", "999", "--json"), 2, "no campaign 999")


def test_status_of_a_running_campaign_on_the_embedded_broker_says_how_to_finish(
    cli: Cli, world: World
) -> None:
    world.add_members(4)
    cid = world.dispatching()

    result = cli("campaign", "status", str(cid))

    assert result.code == 0, result.err
    assert f"campaign {cid}: dispatching, 0/4 recipients done" in result.out
    assert f"dispatch campaign start {cid}" in result.out


def test_start_for_later_on_the_embedded_broker_returns_and_runs_when_due(
    cli: Cli, world: World
) -> None:
    world.add_members(5)
    cid = world.create()
    assert cli("campaign", "approve", str(cid), "--as", "bob").code == 0

    later = cli("campaign", "start", str(cid), "--send-at", "2099-01-01T09:00+02:00")

    assert later.code == 0, later.err
    assert "scheduled for 2099-01-01" in later.out and "dispatch worker" in later.out
    assert world.status(cid) == "scheduled"
    with session_scope(world.engine) as session:
        session.execute(update(Campaign).where(Campaign.id == cid).values(send_at=None))

    due = cli("campaign", "start", str(cid))

    assert due.code == 0, due.err
    assert world.status(cid) == "completed"
    assert world.report(cid).total.delivered == 5
