"""The preference centre's grid and what a submitted form may do."""

from __future__ import annotations

from dispatch.db.types import Channel, Decision, Purpose
from dispatch.members import choices

OWN, PARTNER, RESEARCH = Purpose.OWN_MARKETING, Purpose.PARTNER_MARKETING, Purpose.MARKET_RESEARCH
P, E, S = Channel.POST, Channel.EMAIL, Channel.SMS


def cell(cells: list[choices.Cell], purpose: Purpose, channel: Channel) -> choices.Cell:
    return next(c for c in cells if (c.purpose, c.channel) == (purpose, channel))


def test_a_member_without_decisions_gets_post_and_phone_but_no_email_or_sms() -> None:
    cells = choices.grid({})

    assert len(cells) == 16
    assert {(c.channel, c.on) for c in cells} == {
        (Channel.POST, True),
        (Channel.PHONE, True),
        (Channel.EMAIL, False),
        (Channel.SMS, False),
    }
    assert not any(c.locked for c in cells)


def test_an_objection_switches_marketing_off_and_locks_it_but_not_market_research() -> None:
    cells = choices.grid({("direct_marketing", "any"): Decision.OBJECTED})

    assert not cell(cells, OWN, P).on and cell(cells, OWN, P).locked
    assert not cell(cells, PARTNER, E).on and cell(cells, PARTNER, E).locked
    assert cell(cells, RESEARCH, P).on and not cell(cells, RESEARCH, P).locked


def test_switching_off_restricts_and_switching_on_needs_a_confirmation() -> None:
    cells = choices.grid({("own_marketing", "email"): Decision.GRANTED})
    wanted = {(c.purpose, c.channel) for c in cells if c.on} - {(OWN, E), (OWN, P)}
    wanted |= {(PARTNER, E)}

    plan = choices.plan(cells, wanted)

    assert sorted(plan.restrict) == sorted([(OWN, E), (OWN, P)])
    assert plan.widen == [(PARTNER, E)]
    assert plan.refused == []


def test_sms_and_locked_cells_cannot_be_switched_on_from_a_link() -> None:
    cells = choices.grid({("direct_marketing", "any"): Decision.OBJECTED})
    wanted = {(OWN, P), (RESEARCH, S)} | {(c.purpose, c.channel) for c in cells if c.on}

    plan = choices.plan(cells, wanted)

    assert sorted(plan.refused) == sorted([(OWN, P), (RESEARCH, S)])
    assert plan.widen == [] and plan.restrict == []


def test_only_real_cells_are_read_from_a_form() -> None:
    pairs = choices.parse_keys(["own_marketing:post", "direct_marketing:any", "x", "profiling:sms"])

    assert pairs == {(OWN, P), (Purpose.PROFILING, S)}
