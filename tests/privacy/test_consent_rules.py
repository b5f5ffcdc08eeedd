"""The consent rules have two forms, Python and SQL; they agree on every combination.

For every campaign purpose and channel, members are generated with every combination
of the states that can matter to it: the decision on the pair itself, objections on
the umbrella channel and umbrella purpose, and the national opt-out register. Then
every member is judged for every purpose and channel (so each member's states are also
noise for the other pairs), once by :func:`consent.first_blocking_rule` in Python and
once by the waterfall over :func:`consent.blocking_clauses` in SQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from sqlalchemy import case, insert, literal, select
from sqlalchemy.orm import Session

from dispatch.db.types import Channel, Decision, Purpose, SuppressionReason, utcnow
from dispatch.register import consent, flags
from dispatch.register.models import ConsentState, Household, Member, Suppression

States = dict[tuple[str, str], str]


def combinations() -> Iterator[tuple[States, bool]]:
    """(states, on opt-out register) covering every case for every purpose and channel."""
    for purpose in consent.CAMPAIGN_PURPOSES:
        for channel in consent.CAMPAIGN_CHANNELS:
            umbrella = purpose in consent.MARKETING_PURPOSES
            dimensions = [
                [((purpose, channel), d) for d in Decision] + [None],
                [((purpose, Channel.ANY), Decision.OBJECTED), None],
                [((Purpose.DIRECT_MARKETING, channel), Decision.OBJECTED), None],
                [((Purpose.DIRECT_MARKETING, Channel.ANY), Decision.OBJECTED), None],
            ]
            if not umbrella:  # the umbrella purpose cannot matter: one case is enough
                dimensions[2] = dimensions[3] = [None]
            for entries in itertools.product(*dimensions):
                states = {key: decision for entry in entries if entry for key, decision in [entry]}
                for register in (False, True):
                    yield {(str(p), str(c)): str(d) for (p, c), d in states.items()}, register


def populate(session: Session) -> dict[int, tuple[States, bool]]:
    cases = dict(enumerate(combinations(), start=1))
    now = utcnow()
    session.execute(insert(Household), [{"id": 1, "kind": "single"}])
    session.execute(
        insert(Member),
        [
            {
                "id": n,
                "subject_hash": f"subject-{n}",
                "language": "fi",
                "household_id": 1,
                "status": "active",
                "address_status": "deliverable",
            }
            for n in cases
        ],
    )
    state_rows = [
        {
            "member_id": n,
            "purpose": p,
            "channel": c,
            "decision": d,
            "updated_at": now,
            "event_id": 0,
        }
        for n, (states, _) in cases.items()
        for (p, c), d in states.items()
    ]
    session.execute(insert(ConsentState), state_rows)
    registered = [
        {
            "subject_hash": f"subject-{n}",
            "reason": SuppressionReason.OPTOUT_REGISTER,
            "created_at": now,
            "source": "test",
        }
        for n, (_, on_register) in cases.items()
        if on_register
    ]
    session.execute(insert(Suppression), registered)
    # Core inserts bypass the session hook: a Core writer refreshes the flags itself.
    flags.refresh_members(session, cases)
    session.flush()
    assert flags.drift(session) == 0
    return cases


def test_python_and_sql_consent_rules_agree_on_every_combination(session: Session) -> None:
    cases = populate(session)
    # 3 marketing purposes x 4 channels x (4 x 2 x 2 x 2 states) x 2 register
    # + market research x 4 channels x (4 x 2 states) x 2 register
    assert len(cases) == 3 * 4 * 32 * 2 + 4 * 8 * 2

    for purpose in consent.CAMPAIGN_PURPOSES:
        for channel in consent.CAMPAIGN_CHANNELS:
            rules = consent.blocking_clauses(Member, purpose, channel)
            first = case(*[(cond, literal(name)) for name, cond in rules], else_=None)
            allowed = consent.allowed_clause(Member, purpose, channel)
            in_sql = {
                member_id: (rule, bool(ok))
                for member_id, rule, ok in session.execute(
                    select(Member.id, first, case((allowed, True), else_=False))
                )
            }
            in_python = {
                n: (
                    consent.first_blocking_rule(
                        states, purpose, channel, on_optout_register=on_register
                    ),
                    consent.allows(states, purpose, channel, on_optout_register=on_register),
                )
                for n, (states, on_register) in cases.items()
            }
            assert in_sql == in_python, f"{purpose} by {channel}"


def test_generated_combinations_reach_every_rule() -> None:
    reached = {
        consent.first_blocking_rule(states, p, c, on_optout_register=register)
        for states, register in combinations()
        for p in consent.CAMPAIGN_PURPOSES
        for c in consent.CAMPAIGN_CHANNELS
    }

    assert reached == {None, "objection", "consent_refused", "no_opt_in", "optout_register"}
