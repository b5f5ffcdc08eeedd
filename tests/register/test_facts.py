"""member_facts stays a faithful copy of members, whoever writes them.

Segments and the policy read ``member_facts`` only (dispatch.register.facts), so a
row left behind would let a member through on stale data: an erased address, a
withdrawn e-mail, a status that is no longer active. The database keeps it in step
with triggers; these tests write members every way the product does and check.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session

from dispatch.db.types import AddressStatus, Channel, MemberStatus, Purpose
from dispatch.privacy.erasure import erase_member
from dispatch.privacy.policy import Policy
from dispatch.register import facts
from dispatch.register.facts import Reach
from dispatch.register.feed import import_feed
from dispatch.register.models import Member, MemberFacts
from dispatch.register.seed import SeedOptions, seed_register
from tests.factories import TEST_SECRET, member

ANNA = "9246000000000011"


def _reach(session: Session, m: Member) -> Reach:
    return Reach(session.execute(select(MemberFacts.reach).where(MemberFacts.id == m.id)).one()[0])


def test_a_new_member_gets_a_row_with_its_contact_details_folded_into_reach(
    session: Session,
) -> None:
    full = member(session)
    no_email = member(session, email=None, phone="")
    no_street = member(session, street="")
    deceased = member(session, status=MemberStatus.DECEASED.value)
    returned = member(session, address_status=AddressStatus.RETURNED.value)

    ok = Reach.ACTIVE | Reach.DELIVERABLE
    assert _reach(session, full) == ok | Reach.ADDRESS | Reach.EMAIL | Reach.PHONE
    assert _reach(session, no_email) == ok | Reach.ADDRESS
    assert _reach(session, no_street) == ok | Reach.EMAIL | Reach.PHONE
    assert _reach(session, deceased) == _reach(session, full) & ~Reach.ACTIVE
    assert _reach(session, returned) == _reach(session, full) & ~Reach.DELIVERABLE
    assert facts.drift(session) == []


def test_orm_and_core_updates_reach_the_copy_in_the_same_statement(session: Session) -> None:
    m = member(session)
    other = member(session)
    assert Policy(Purpose.OWN_MARKETING, Channel.POST).member_rule(session, m.id) is None

    m.street = None
    session.flush()
    assert _reach(session, m) == Reach.ACTIVE | Reach.DELIVERABLE | Reach.EMAIL | Reach.PHONE
    assert Policy(Purpose.OWN_MARKETING, Channel.POST).member_rule(session, m.id) == "address"

    session.execute(
        update(Member)
        .where(Member.id.in_([m.id, other.id]))
        .values(address_status=AddressStatus.RETURNED.value, birth_year=2015)
    )
    got = dict(
        session.execute(
            select(MemberFacts.id, MemberFacts.reach.op("&")(int(Reach.DELIVERABLE))).where(
                MemberFacts.id.in_([m.id, other.id])
            )
        ).all()
    )
    assert got == {m.id: 0, other.id: 0}
    assert Policy(Purpose.OWN_MARKETING, Channel.EMAIL).member_rule(session, other.id) == "minor"
    assert facts.drift(session) == []


def test_a_deleted_member_takes_its_copy_along(session: Session) -> None:
    m = member(session)
    session.execute(delete(Member).where(Member.id == m.id))

    assert session.get(MemberFacts, m.id) is None
    assert facts.drift(session) == []


def test_drift_sees_a_copy_that_disagrees(session: Session) -> None:
    """The check the other tests rely on can fail."""
    m = member(session)
    gone = member(session)
    session.execute(update(MemberFacts).where(MemberFacts.id == m.id).values(reach=0))
    session.execute(text("DELETE FROM member_facts WHERE id = :id"), {"id": gone.id})

    assert facts.drift(session) == [m.id, gone.id]


def test_feed_import_erasure_and_reimport_keep_the_copy_in_step(
    engine: Engine, feed_copy: Path
) -> None:
    folder = feed_copy
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok
    with Session(engine) as s:
        assert facts.drift(s) == []
        anna = s.scalars(select(Member).where(Member.card_number == ANNA)).one()
        assert _reach(s, anna) & Reach.ADDRESS
    with Session(engine) as s, s.begin():
        erase_member(s, anna.id, actor="dpo", reason="member asked")
    with Session(engine) as s:
        erased = s.get(MemberFacts, anna.id)
        assert erased is not None
        # Erased: not active, no contact details left; still "deliverable" (no mail
        # came back), which reaches nobody without an address.
        assert (erased.reach, erased.postcode) == (Reach.DELIVERABLE, None)
        assert facts.drift(s) == []

    for name in ("consents.csv", "suppressions.csv", "purchases.csv", "restaurant_visits.csv",
                 "web_interests.csv"):  # fmt: skip
        (folder / name).unlink()
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok
    with Session(engine) as s:
        assert facts.drift(s) == []


def test_a_seeded_register_and_a_replaced_one_have_their_copy_in_step(engine: Engine) -> None:
    for seed in (3, 4):  # the second replaces the first (TRUNCATE on PostgreSQL)
        options = SeedOptions(members=300, seed=seed, as_of=dt.date(2025, 5, 15))
        seed_register(engine, options, secret_key=TEST_SECRET, replace=True)

    with Session(engine) as s:
        assert facts.drift(s) == []
        reaches = set(s.scalars(select(MemberFacts.reach).distinct()))
        ok = Reach.ACTIVE | Reach.DELIVERABLE | Reach.ADDRESS | Reach.PHONE
        assert {ok | Reach.EMAIL, ok} <= reaches  # with and without an e-mail address
        assert any(not r & Reach.ACTIVE for r in reaches)  # the seed has deceased members
        assert s.scalar(select(MemberFacts.id).order_by(MemberFacts.id)) is not None
