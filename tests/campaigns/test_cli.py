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
        "--holdout",
        "0",
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
    _one_line_error(result, 2, "--partner: no partner named 'Nobody'")


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
    world.add_members(5)
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


def test_start_refuses_a_draft_as_a_failed_operation(cli: Cli, world: World) -> None:
    """The campaign exists and the request is well-formed: its state refuses (exit 1)."""
    world.add_members(1)
    cid = world.create()
    result = cli("campaign", "start", str(cid))
    _one_line_error(result, 1, f"campaign {cid} is draft; only an approved campaign starts")
    assert result.err.count(f"campaign {cid}") == 1
    assert world.status(cid) == "draft"


@pytest.mark.parametrize("command", ["create", "approve", "cancel"])
def test_staff_commands_need_to_know_who_acts(cli: Cli, world: World, command: str) -> None:
    world.add_members(1)
    if command == "create":
        result = _create(cli, world)
    else:
        result = cli("campaign", command, str(world.create()))
    _one_line_error(result, 2, "--as")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--holdout", "60", "--holdout: must be a percentage from 0 to 50"),
        ("--holdout", "2.555", "with at most 2 decimals"),
        ("--response-days", "0", "--response-days: must be between 1 and 365 days"),
    ],
)
def test_holdout_and_response_window_are_checked(
    cli: Cli, world: World, option: str, value: str, message: str
) -> None:
    world.add_members(1)
    _one_line_error(_create(cli, world, option, value, "--as", "anna"), 2, message)


def test_the_holdout_and_window_are_kept_on_the_campaign(cli: Cli, world: World) -> None:
    world.add_members(1)
    made = _create(
        cli, world, "--holdout", "12.5", "--response-days", "45", "--as", "anna", "--json"
    )
    assert made.code == 0, made.err
    doc = made.json()
    assert isinstance(doc, dict)
    assert doc["holdout_percent"] == 12.5 and doc["response_days"] == 45


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


def _create_partner(cli: Cli, world: World, *extra: str) -> CliResult:
    return cli(
        "campaign", "create", "--partner", PARTNER, "--creative", str(world.creative[PARTNER]),
        "--segment", str(world.segments["partner_post"]), "--channel", "post", "--as", "anna",
        *extra,
    )  # fmt: skip


def test_create_refuses_a_partner_audience_under_the_minimum_with_the_count(
    cli: Cli, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_MIN_PARTNER_AUDIENCE", "10")
    world.add_members(7)

    result = _create_partner(cli, world)

    _one_line_error(
        result, 1, "--segment", "needs at least 10 recipients; segment test-partner-post selects 7"
    )
    with session_scope(world.engine) as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_create_holds_only_partner_campaigns_to_the_minimum(
    cli: Cli, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_MIN_PARTNER_AUDIENCE", "10")
    world.add_members(2)

    assert _create(cli, world, "--as", "anna").code == 0


def test_approve_counts_the_audience_again(
    cli: Cli, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = world.add_members(6)
    created = _create_partner(cli, world, "--json")
    assert created.code == 0, created.err
    cid = created.json()["id"]  # type: ignore[call-overload,index]
    world.object(members[0])
    world.object(members[1])

    result = cli("campaign", "approve", str(cid), "--as", "bob")

    _one_line_error(result, 1, f"campaign {cid}: a partner campaign needs at least 5", "selects 4")
    assert world.status(cid) == "draft"


@pytest.mark.parametrize("when", ["2001-01-01T09:00+02:00", "2000-01-01T00:00Z"])
def test_a_send_time_in_the_past_is_bad_input(cli: Cli, world: World, when: str) -> None:
    world.add_members(3)

    created = _create(cli, world, "--as", "anna", "--send-at", when)

    _one_line_error(created, 2, "--send-at", "is in the past")
    cid = world.create()
    assert cli("campaign", "approve", str(cid), "--as", "bob").code == 0
    started = cli("campaign", "start", str(cid), "--send-at", when)
    _one_line_error(started, 2, "--send-at", "is in the past")
    assert world.status(cid) == "approved"


def _approved_then_shrunk(cli: Cli, world: World) -> int:
    """A partner campaign approved with 6 members; 2 object before it starts (minimum 5)."""
    members = world.add_members(6)
    cid = world.create("partner_post", creative=PARTNER)
    assert cli("campaign", "approve", str(cid), "--as", "bob").code == 0
    for member_id in members[:2]:
        world.object(member_id)
    return cid


def test_start_exits_1_when_the_snapshot_fails_under_the_partner_minimum(
    cli: Cli, world: World
) -> None:
    cid = _approved_then_shrunk(cli, world)

    result = cli("campaign", "start", str(cid))

    assert result.code == 1, (result.out, result.err)
    assert result.err.strip().splitlines()[-1] == (
        f"dispatch: error: campaign {cid} failed: "
        "a partner campaign needs at least 5 recipients; this snapshot has 4"
    )
    assert "Traceback" not in result.err
    assert world.status(cid) == "failed"


def test_state_changes_print_the_resulting_campaign_as_json(cli: Cli, world: World) -> None:
    world.add_members(4)
    cid = world.create()

    approved = cli("campaign", "approve", str(cid), "--as", "bob", "--json")
    assert approved.code == 0, approved.err
    assert approved.json()["status"] == "approved"  # type: ignore[call-overload,index]
    assert approved.json()["approved_by"] == "bob"  # type: ignore[call-overload,index]

    started = cli("campaign", "start", str(cid), "--json")
    assert started.code == 0, started.err
    doc = started.json()
    assert isinstance(doc, dict)
    assert doc["status"] == "completed" and doc["recipients"] == 4 and doc["resumed"] is False

    other = world.create()
    assert cli("campaign", "approve", str(other), "--as", "bob").code == 0
    assert cli("campaign", "start", str(other), "--no-wait").code == 0
    cancelled = cli("campaign", "cancel", str(other), "--as", "anna", "--json")
    assert cancelled.code == 0, cancelled.err
    doc = cancelled.json()
    assert isinstance(doc, dict)
    assert doc["status"] == "cancelled" and doc["cancelled_by"] == "anna"
    assert doc["stopped_recipients"] == 0


def test_a_failed_start_under_json_still_prints_the_campaign(cli: Cli, world: World) -> None:
    cid = _approved_then_shrunk(cli, world)

    result = cli("campaign", "start", str(cid), "--json")

    assert result.code == 1
    doc = result.json()
    assert isinstance(doc, dict)
    assert doc["status"] == "failed" and "needs at least 5 recipients" in doc["failure"]
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("where", "says"),
    [
        (
            '    - region: "Uusi\\0maa"\n',
            ":8: where.all[1].region: has the control character U+0000",
        ),
        (
            "    - all: " + "[{all: " * 3000 + "[{age: {min: 1}}]" + "}]" * 3000 + "\n",
            ":8: where: nested too deeply",
        ),
    ],
    ids=["nul", "deep"],
)
def test_create_refuses_a_hostile_segment_in_one_line(
    cli: Cli, world: World, where: str, says: str
) -> None:
    """A NUL reached the database and a deep tree the recursion limit, as tracebacks."""
    path = world.segments["own_post"]
    path.write_text(path.read_text() + where)

    result = _create(cli, world, "--as", "anna")

    _one_line_error(result, 2, f"{path}{says}")
    with session_scope(world.engine) as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0
