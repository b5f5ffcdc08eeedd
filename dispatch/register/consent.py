"""The consent rules, in one place, and the only writer of the consent ledger.

The rules (documented for people in ``docs/consent.md``):

1. An objection is absolute. ``objected`` on (purpose, channel) blocks that pair;
   the umbrella purpose ``direct_marketing`` covers own marketing, partner marketing
   and profiling, and the umbrella channel ``any`` covers every channel.
2. ``refused`` on (purpose, channel) blocks that pair.
3. Post and phone are allowed unless refused or objected (opt-out channels).
4. E-mail and SMS need an explicit ``granted`` on (purpose, channel) (opt-in channels).
5. A member on the national opt-out register receives no partner post.

:func:`allows` evaluates the rules for one member in Python; :func:`allowed_clause`
builds the same rules as a SQL expression for whole segments. Tests check that the
two agree on every combination.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import ColumnElement, and_, not_, select, true
from sqlalchemy.orm import Session

from dispatch.db.types import Channel, Decision, Purpose, SuppressionReason, utcnow
from dispatch.register import flags
from dispatch.register.models import ConsentEvent, ConsentState, Member, MemberFacts

#: A table with the contact flags: ``members``, or its copy ``member_facts``.
Flagged = type[Member] | type[MemberFacts]

#: Purposes that are direct marketing, and so are covered by a general objection.
MARKETING_PURPOSES = frozenset(
    {Purpose.OWN_MARKETING, Purpose.PARTNER_MARKETING, Purpose.PROFILING}
)
#: Purposes a segment or campaign may name (the umbrella is for objections only).
CAMPAIGN_PURPOSES = (
    Purpose.OWN_MARKETING,
    Purpose.PARTNER_MARKETING,
    Purpose.MARKET_RESEARCH,
    Purpose.PROFILING,
)
#: Channels a segment or campaign may name.
CAMPAIGN_CHANNELS = (Channel.POST, Channel.EMAIL, Channel.SMS, Channel.PHONE)
OPT_IN_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS})


class ConsentError(ValueError):
    """A consent change that the rules do not allow (e.g. granting the umbrella)."""


def objection_scopes(purpose: Purpose, channel: Channel) -> list[tuple[Purpose, Channel]]:
    """Every (purpose, channel) key whose objection blocks ``purpose`` on ``channel``."""
    purposes = [purpose]
    if purpose in MARKETING_PURPOSES:
        purposes.append(Purpose.DIRECT_MARKETING)
    return [(p, c) for p in purposes for c in (channel, Channel.ANY)]


def allows(
    states: Mapping[tuple[str, str], str],
    purpose: Purpose,
    channel: Channel,
    *,
    on_optout_register: bool,
) -> bool:
    """Whether a member with current ``states`` may be contacted for purpose on channel.

    ``states`` maps (purpose, channel) to the current decision, as in ``consent_state``.
    """
    return (
        first_blocking_rule(states, purpose, channel, on_optout_register=on_optout_register) is None
    )


def first_blocking_rule(
    states: Mapping[tuple[str, str], str],
    purpose: Purpose,
    channel: Channel,
    *,
    on_optout_register: bool,
) -> str | None:
    """The name of the first rule that blocks contact, or None if contact is allowed."""
    for key in objection_scopes(purpose, channel):
        if states.get(key) == Decision.OBJECTED:
            return "objection"
    decision = states.get((purpose, channel))
    if decision == Decision.REFUSED:
        return "consent_refused"
    if channel in OPT_IN_CHANNELS and decision != Decision.GRANTED:
        return "no_opt_in"
    if on_optout_register and purpose == Purpose.PARTNER_MARKETING and channel == Channel.POST:
        return "optout_register"
    return None


def blocking_clauses(
    member: Flagged, purpose: Purpose, channel: Channel
) -> list[tuple[str, ColumnElement[bool]]]:
    """The rules as (name, SQL condition that is true when the rule BLOCKS the member).

    In the same order as :func:`first_blocking_rule`, so a waterfall over these clauses
    names the same rule for a member as the Python form does. The conditions test the
    member row's contact flags (:mod:`dispatch.register.flags`), the projection of
    ``consent_state`` and ``suppressions`` kept in step with them.
    """
    objected = 0
    for p, c in objection_scopes(purpose, channel):
        objected |= flags.consent_bit(p, c, Decision.OBJECTED)
    refused = flags.consent_bit(purpose, channel, Decision.REFUSED)
    rules: list[tuple[str, ColumnElement[bool]]] = [
        ("objection", flags.has_any(member.consent_flags, objected)),
        ("consent_refused", flags.has_any(member.consent_flags, refused)),
    ]
    if channel in OPT_IN_CHANNELS:
        granted = flags.consent_bit(purpose, channel, Decision.GRANTED)
        rules.append(("no_opt_in", flags.lacks(member.consent_flags, granted)))
    if purpose == Purpose.PARTNER_MARKETING and channel == Channel.POST:
        optout = flags.SUPPRESSION_BITS[SuppressionReason.OPTOUT_REGISTER]
        rules.append(("optout_register", flags.has_any(member.suppression_flags, optout)))
    return rules


def allowed_clause(member: Flagged, purpose: Purpose, channel: Channel) -> ColumnElement[bool]:
    """SQL condition, true when the consent rules allow contact."""
    clauses = [not_(cond) for _, cond in blocking_clauses(member, purpose, channel)]
    return and_(true(), *clauses)


def current_states(session: Session, member_id: int) -> dict[tuple[str, str], str]:
    rows = session.execute(
        select(ConsentState.purpose, ConsentState.channel, ConsentState.decision).where(
            ConsentState.member_id == member_id
        )
    )
    return {(p, c): d for p, c, d in rows}


def record(
    session: Session,
    member_id: int,
    purpose: Purpose,
    channel: Channel,
    decision: Decision,
    *,
    source: str,
    actor: str | None,
    at: dt.datetime | None = None,
    campaign_id: int | None = None,
) -> ConsentEvent:
    """Append a ledger entry and bring the current state in step, in one transaction.

    ``campaign_id`` names the campaign whose e-mail or letter the member acted from.
    """
    umbrella = purpose == Purpose.DIRECT_MARKETING or channel == Channel.ANY
    if umbrella and decision != Decision.OBJECTED:
        raise ConsentError(
            f"{purpose}/{channel} is an objection scope; only 'objected' may be recorded for it"
        )
    at = at or utcnow()
    event = ConsentEvent(
        member_id=member_id,
        purpose=purpose,
        channel=channel,
        decision=decision,
        recorded_at=at,
        source=source,
        actor=actor,
        campaign_id=campaign_id,
    )
    session.add(event)
    session.flush()
    state = session.get(ConsentState, (member_id, purpose, channel))
    if state is None:
        session.add(
            ConsentState(
                member_id=member_id,
                purpose=purpose,
                channel=channel,
                decision=decision,
                updated_at=at,
                event_id=event.id,
            )
        )
    else:
        state.decision = decision
        state.updated_at = at
        state.event_id = event.id
    return event
