"""The contact policy tries to let nobody through who must not be contacted (invariant 2).

Each test builds members that a segment's criteria would match, and checks which of
them the policy keeps, which rule removes the others, and that the selection, the
waterfall and the one-member answer always agree.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from dispatch.db.types import Channel, Decision, MemberStatus, Purpose, SuppressionReason
from dispatch.privacy.policy import Policy, Unit
from dispatch.register.consent import CAMPAIGN_CHANNELS, CAMPAIGN_PURPOSES, MARKETING_PURPOSES
from dispatch.register.models import Household, Member, MemberFacts
from tests import factories

AS_OF = dt.date(2025, 6, 15)


def only(*members: Member) -> ColumnElement[bool]:
    """Criteria matching exactly these members."""
    return MemberFacts.id.in_([m.id for m in members])


def evaluate(session: Session, policy: Policy, *members: Member) -> dict[int, str | None]:
    """The first blocking rule per member; checks the three forms of the policy agree."""
    criteria = only(*members)
    reasons = {m.id: policy.first_blocking_rule(session, m.id, criteria) for m in members}
    chosen = set(session.execute(policy.select(criteria)).scalars())
    waterfall = dict(session.execute(policy.waterfall(criteria)).all())
    assert chosen == {m for m, reason in reasons.items() if reason is None}
    assert waterfall == dict(Counter(reasons.values()))
    return reasons


def blocked_by(
    session: Session, member: Member, purpose: Purpose, channel: Channel, unit: Unit = Unit.MEMBER
) -> str | None:
    return evaluate(session, Policy(purpose, channel, unit, AS_OF), member)[member.id]


def test_default_member_may_get_post_but_not_email_without_opt_in(session: Session) -> None:
    m = factories.member(session)

    assert blocked_by(session, m, Purpose.OWN_MARKETING, Channel.POST) is None
    assert blocked_by(session, m, Purpose.OWN_MARKETING, Channel.EMAIL) == "no_opt_in"
    assert blocked_by(session, m, Purpose.OWN_MARKETING, Channel.SMS) == "no_opt_in"


@pytest.mark.parametrize("purpose", sorted(MARKETING_PURPOSES))
@pytest.mark.parametrize("channel", CAMPAIGN_CHANNELS)
def test_objection_blocks_every_marketing_purpose_on_every_channel(
    session: Session, purpose: Purpose, channel: Channel
) -> None:
    objector = factories.member(session)
    factories.set_consent(session, objector, purpose, channel, Decision.GRANTED)
    factories.set_consent(
        session, objector, Purpose.DIRECT_MARKETING, Channel.ANY, Decision.OBJECTED
    )

    assert blocked_by(session, objector, purpose, channel) == "objection"


def test_objection_to_direct_marketing_leaves_market_research_to_its_own_rules(
    session: Session,
) -> None:
    objector = factories.member(session)
    factories.set_consent(
        session, objector, Purpose.DIRECT_MARKETING, Channel.ANY, Decision.OBJECTED
    )

    assert blocked_by(session, objector, Purpose.MARKET_RESEARCH, Channel.POST) is None


def test_objection_on_one_channel_blocks_that_channel_only(session: Session) -> None:
    m = factories.member(session)
    factories.set_consent(session, m, Purpose.OWN_MARKETING, Channel.EMAIL, Decision.GRANTED)
    factories.set_consent(session, m, Purpose.DIRECT_MARKETING, Channel.POST, Decision.OBJECTED)

    assert blocked_by(session, m, Purpose.OWN_MARKETING, Channel.POST) == "objection"
    assert blocked_by(session, m, Purpose.PARTNER_MARKETING, Channel.POST) == "objection"
    assert blocked_by(session, m, Purpose.OWN_MARKETING, Channel.EMAIL) is None


def test_refused_post_blocks_post_for_that_purpose_only(session: Session) -> None:
    m = factories.member(session)
    factories.set_consent(session, m, Purpose.PARTNER_MARKETING, Channel.POST, Decision.REFUSED)

    assert blocked_by(session, m, Purpose.PARTNER_MARKETING, Channel.POST) == "consent_refused"
    assert blocked_by(session, m, Purpose.OWN_MARKETING, Channel.POST) is None


def test_email_needs_opt_in_and_an_address(session: Session) -> None:
    opted_in = factories.member(session)
    no_address = factories.member(session, email=None)
    blank = factories.member(session, email="")
    for m in (opted_in, no_address, blank):
        factories.set_consent(session, m, Purpose.OWN_MARKETING, Channel.EMAIL, Decision.GRANTED)
    policy = Policy(Purpose.OWN_MARKETING, Channel.EMAIL, as_of=AS_OF)

    reasons = evaluate(session, policy, opted_in, no_address, blank)

    assert reasons == {opted_in.id: None, no_address.id: "email", blank.id: "email"}


def test_opt_in_for_own_marketing_does_not_cover_partner_email(session: Session) -> None:
    m = factories.member(session)
    factories.set_consent(session, m, Purpose.OWN_MARKETING, Channel.EMAIL, Decision.GRANTED)

    assert blocked_by(session, m, Purpose.PARTNER_MARKETING, Channel.EMAIL) == "no_opt_in"


def test_optout_register_blocks_partner_post_but_not_own_post(session: Session) -> None:
    m = factories.member(session)
    factories.suppress(session, m, SuppressionReason.OPTOUT_REGISTER)

    assert blocked_by(session, m, Purpose.PARTNER_MARKETING, Channel.POST) == "optout_register"
    assert blocked_by(session, m, Purpose.OWN_MARKETING, Channel.POST) is None


def test_deceased_member_is_blocked_by_status_before_anything_else(session: Session) -> None:
    m = factories.member(session, status=MemberStatus.DECEASED, birth_year=None)
    factories.set_consent(session, m, Purpose.DIRECT_MARKETING, Channel.ANY, Decision.OBJECTED)

    assert blocked_by(session, m, Purpose.OWN_MARKETING, Channel.POST) == "status"


@pytest.mark.parametrize("reason", [SuppressionReason.DECEASED, SuppressionReason.ERASED])
def test_suppression_blocks_an_active_member_row(
    session: Session, reason: SuppressionReason
) -> None:
    m = factories.member(session)
    factories.suppress(session, m, reason)

    for purpose in CAMPAIGN_PURPOSES:
        assert blocked_by(session, m, purpose, Channel.POST) == "suppressed"


def test_erased_member_reimported_under_a_new_id_stays_suppressed(session: Session) -> None:
    card = "9246000012345678"
    erased = factories.member(session, card_number=card)
    factories.suppress(session, erased, SuppressionReason.ERASED)
    erased.card_number = None
    erased.status = MemberStatus.ERASED
    session.flush()
    # The warehouse feed brings the same card back as a new, active member.
    again = factories.member(session, card_number=card)
    assert again.subject_hash == erased.subject_hash

    policy = Policy(Purpose.OWN_MARKETING, Channel.POST, as_of=AS_OF)
    reasons = evaluate(session, policy, erased, again)

    assert reasons == {erased.id: "status", again.id: "suppressed"}


def test_returned_mail_blocks_post_but_not_email(session: Session) -> None:
    m = factories.member(session)
    factories.suppress(session, m, SuppressionReason.RETURNED_MAIL)
    factories.set_consent(session, m, Purpose.OWN_MARKETING, Channel.EMAIL, Decision.GRANTED)

    assert blocked_by(session, m, Purpose.OWN_MARKETING, Channel.POST) == "address"
    assert blocked_by(session, m, Purpose.OWN_MARKETING, Channel.EMAIL) is None


@pytest.mark.parametrize(
    "over",
    [
        {"address_status": "returned"},
        {"street": None},
        {"street": ""},
        {"postcode": None},
        {"post_town": None},
    ],
    ids=lambda over: ",".join(f"{k}={v!r}" for k, v in over.items()),
)
def test_undeliverable_or_incomplete_address_blocks_post(
    session: Session, over: dict[str, str | None]
) -> None:
    m = factories.member(session, **over)

    assert blocked_by(session, m, Purpose.OWN_MARKETING, Channel.POST) == "address"


def test_phone_channels_need_a_phone_number(session: Session) -> None:
    m = factories.member(session, phone=None)

    assert blocked_by(session, m, Purpose.MARKET_RESEARCH, Channel.PHONE) == "phone"


def test_minors_and_unknown_birth_years_are_blocked(session: Session) -> None:
    turns_18 = factories.member(session, birth_year=AS_OF.year - 18)
    turns_17 = factories.member(session, birth_year=AS_OF.year - 17)
    unknown = factories.member(session, birth_year=None)
    policy = Policy(Purpose.OWN_MARKETING, Channel.POST, as_of=AS_OF)

    reasons = evaluate(session, policy, turns_18, turns_17, unknown)

    assert reasons == {turns_18.id: None, turns_17.id: "minor", unknown.id: "minor"}


def _household(session: Session) -> Household:
    return factories.household(session, kind="family")


def test_household_unit_keeps_the_lowest_member_id_of_each_household(session: Session) -> None:
    home = _household(session)
    a = factories.member(session, household_id=home.id)
    b = factories.member(session, household_id=home.id)
    c = factories.member(session, household_id=home.id)
    other = factories.member(session)
    policy = Policy(Purpose.PARTNER_MARKETING, Channel.POST, Unit.HOUSEHOLD, AS_OF)

    reasons = evaluate(session, policy, c, b, a, other)

    assert reasons == {a.id: None, b.id: "household", c.id: "household", other.id: None}
    # The same answer however often it is asked: no randomness, no dependence on order.
    for _ in range(3):
        assert set(session.execute(policy.select(only(b, c, a, other))).scalars()) == {
            a.id,
            other.id,
        }


def test_household_whose_lowest_member_is_blocked_gets_its_next_eligible_member(
    session: Session,
) -> None:
    home = _household(session)
    objector = factories.member(session, household_id=home.id)
    child = factories.member(session, household_id=home.id, birth_year=AS_OF.year - 10)
    parent = factories.member(session, household_id=home.id)
    grandparent = factories.member(session, household_id=home.id)
    factories.set_consent(
        session, objector, Purpose.DIRECT_MARKETING, Channel.ANY, Decision.OBJECTED
    )
    policy = Policy(Purpose.OWN_MARKETING, Channel.POST, Unit.HOUSEHOLD, AS_OF)

    reasons = evaluate(session, policy, objector, child, parent, grandparent)

    assert reasons == {
        objector.id: "objection",
        child.id: "minor",
        parent.id: None,
        grandparent.id: "household",
    }


def test_household_member_outside_the_criteria_does_not_take_the_place(
    session: Session,
) -> None:
    home = _household(session)
    unmatched = factories.member(session, household_id=home.id)
    matched = factories.member(session, household_id=home.id)
    policy = Policy(Purpose.OWN_MARKETING, Channel.POST, Unit.HOUSEHOLD, AS_OF)

    assert evaluate(session, policy, matched) == {matched.id: None}
    assert unmatched.id < matched.id


def test_member_unit_ignores_households(session: Session) -> None:
    home = _household(session)
    a = factories.member(session, household_id=home.id)
    b = factories.member(session, household_id=home.id)
    policy = Policy(Purpose.OWN_MARKETING, Channel.POST, Unit.MEMBER, AS_OF)

    assert evaluate(session, policy, a, b) == {a.id: None, b.id: None}


def test_rules_are_reported_in_policy_order(session: Session) -> None:
    post = Policy(Purpose.PARTNER_MARKETING, Channel.POST, Unit.HOUSEHOLD, AS_OF)
    email = Policy(Purpose.OWN_MARKETING, Channel.EMAIL, Unit.MEMBER, AS_OF)

    assert post.rule_names() == [
        "status",
        "suppressed",
        "minor",
        "objection",
        "consent_refused",
        "optout_register",
        "address",
        "household",
    ]
    assert email.rule_names() == [
        "status",
        "suppressed",
        "minor",
        "objection",
        "consent_refused",
        "no_opt_in",
        "email",
    ]


def test_mixed_population_agrees_across_selection_waterfall_and_single_member(
    session: Session,
) -> None:
    home = _household(session)
    members = [
        factories.member(session, household_id=home.id),
        factories.member(session, household_id=home.id, status=MemberStatus.DECEASED),
        factories.member(session, birth_year=None),
        factories.member(session, street=None),
        factories.member(session),
        factories.member(session),
    ]
    factories.set_consent(
        session, members[4], Purpose.PARTNER_MARKETING, Channel.POST, Decision.REFUSED
    )
    factories.suppress(session, members[5], SuppressionReason.OPTOUT_REGISTER)

    for purpose in CAMPAIGN_PURPOSES:
        for channel in CAMPAIGN_CHANNELS:
            for unit in Unit:
                evaluate(session, Policy(purpose, channel, unit, AS_OF), *members)
