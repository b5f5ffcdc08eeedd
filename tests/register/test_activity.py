"""member_facts' activity bits stay exact after every write of the behaviour tables.

A segment count drops the members whose bits say they cannot match a behaviour
criterion before it joins the rest (dispatch.register.activity), so a bit missing
would silently leave a member out of every segment that asks for that behaviour,
and a bit left behind after erasure would keep a trace of what the member did.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.orm import Session

from dispatch.privacy.erasure import erase_member
from dispatch.register import activity, rollups
from dispatch.register.feed import import_feed
from dispatch.register.models import Member, MemberFacts, ProductGroup
from dispatch.register.seed import SeedOptions, seed_register
from tests import factories
from tests.factories import TEST_SECRET

ANNA = "9246000000000011"  # bought baby products, browsed baby, visited a restaurant
BERTIL = "9246000000000029"  # bought dairy, browsed bicycles
CECILIA = "9246000000000037"  # visited a restaurant
R = rollups.ROLLUPS


def _bits(s: Session, card: str) -> tuple[int, int]:
    """(the product-group bits of both columns as one number, activity)."""
    f = MemberFacts
    row = s.execute(
        select(f.purchased_groups_0, f.purchased_groups_1, f.activity)
        .join(Member, Member.id == f.id)
        .where(Member.card_number == card)
    ).one()
    return row[0] | row[1] << activity.GROUP_BITS, row[2]


def _group_bit(s: Session, code: str) -> int:
    """The bit of the group in the number _bits makes of both columns."""
    group_id = s.scalars(select(ProductGroup.id).where(ProductGroup.code == code)).one()
    column, bit = activity.group_bit(group_id)
    return bit << activity.GROUP_BITS * activity.GROUP_COLUMNS.index(column)


def test_groups_have_bits_of_their_own_up_to_126() -> None:
    """One column of 63 bits put baby products (22) on fuel's bit (85) at the bench."""
    bits = {activity.group_bit(g) for g in range(126)}
    assert len(bits) == 126
    assert activity.group_bit(22) != activity.group_bit(85)
    assert activity.group_bit(22) == activity.group_bit(22 + 126)


def test_the_feed_sets_the_bits_of_what_each_member_did(engine: Engine, feed_copy: Path) -> None:
    assert import_feed(engine, feed_copy, secret_key=TEST_SECRET).ok

    with Session(engine) as s:
        assert activity.drift(s) == []
        groups, did = _bits(s, ANNA)
        assert groups & _group_bit(s, "diapers") and groups & _group_bit(s, "baby")
        assert did == activity.WEB_BITS["baby"] | activity.VISITED
        groups, did = _bits(s, BERTIL)
        assert groups & _group_bit(s, "dairy") and not groups & _group_bit(s, "diapers")
        assert did == activity.WEB_BITS["bicycles"]
        assert _bits(s, CECILIA)[1] == activity.VISITED


def test_a_member_update_keeps_the_bits(engine: Engine, feed_copy: Path) -> None:
    """They are not copied from members (on SQLite the copy trigger replaces the row)."""
    assert import_feed(engine, feed_copy, secret_key=TEST_SECRET).ok
    with Session(engine) as s, s.begin():
        before = _bits(s, ANNA)
        s.execute(update(Member).where(Member.card_number == ANNA).values(birth_year=1950))
        assert _bits(s, ANNA) == before
        assert activity.drift(s) == []


def test_erasure_clears_the_members_bits(engine: Engine, feed_copy: Path) -> None:
    assert import_feed(engine, feed_copy, secret_key=TEST_SECRET).ok
    with Session(engine) as s, s.begin():
        anna = s.scalars(select(Member.id).where(Member.card_number == ANNA)).one()
        erase_member(s, anna, actor="dpo", reason="member asked")

    with Session(engine) as s:
        f = MemberFacts
        erased = s.execute(
            select(f.purchased_groups_0, f.purchased_groups_1, f.activity).where(f.id == anna)
        ).one()
        assert tuple(erased) == (0, 0, 0)
        assert _bits(s, BERTIL) != (0, 0)
        assert activity.drift(s) == []


def test_a_window_move_clears_the_bit_of_purchases_it_leaves_behind(
    engine: Engine, feed_copy: Path
) -> None:
    folder = feed_copy
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok
    for path in folder.iterdir():
        if path.name != "purchases.csv":
            path.unlink()
    # Two years on: the window moves past every earlier purchase.
    (folder / "purchases.csv").write_text(
        f"card_number,product_group,month,amount,count\n{BERTIL},dairy,2027-04,1.00,1\n"
    )
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok

    with Session(engine) as s:
        assert _bits(s, ANNA)[0] == 0
        assert _bits(s, BERTIL)[0] & _group_bit(s, "dairy")
        assert _bits(s, ANNA)[1] != 0  # visits and web rows are kept
        assert activity.drift(s) == []


def test_drift_sees_a_missing_bit(engine: Engine, feed_copy: Path) -> None:
    """The check the other tests rely on can fail."""
    assert import_feed(engine, feed_copy, secret_key=TEST_SECRET).ok
    with Session(engine) as s:
        s.execute(update(MemberFacts).values(activity=0))
        assert len(activity.drift(s)) == 3
        activity.refresh(s)
        assert activity.drift(s) == []


def test_a_seeded_register_has_its_bits_in_step(engine: Engine) -> None:
    seed_register(
        engine,
        SeedOptions(members=300, seed=5, as_of=dt.date(2025, 5, 15)),
        secret_key=TEST_SECRET,
    )
    with Session(engine) as s:
        assert activity.drift(s) == []
        with_bits = s.execute(
            text("SELECT count(*) FROM member_facts WHERE purchased_groups_0 <> 0")
        ).scalar_one()
        assert with_bits > 200


def test_the_database_puts_each_group_on_the_bit_the_compiler_tests(session: Session) -> None:
    """The SQL that computes the bits and group_bit, which the compiler uses, agree."""
    buyer = factories.member(session)
    ids = [5, 62, 63, 70, 125, 126, 200]
    for group_id in ids:
        session.add(ProductGroup(id=group_id, code=f"g{group_id}", name_fi="g", name_sv="g"))
    session.flush()
    session.execute(
        insert(R),
        [
            {"member_id": buyer.id, "product_group_id": g, "months": 1}
            | {f"amount_{i}": 0 for i in range(13)}
            | {f"count_{i}": 0 for i in range(13)}
            for g in ids
        ],
    )
    activity.refresh(session, [buyer.id])

    f = MemberFacts
    row = session.execute(
        select(f.purchased_groups_0, f.purchased_groups_1).where(f.id == buyer.id)
    ).one()
    expected = dict.fromkeys(activity.GROUP_COLUMNS, 0)
    for group_id in ids:
        column, bit = activity.group_bit(group_id)
        expected[column] |= bit
    assert tuple(row) == tuple(expected.values())
    assert expected["purchased_groups_1"] != 0
