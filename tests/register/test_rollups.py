"""Purchase rollups stay a faithful summary of purchase_summaries after every write.

Segment criteria read purchases from the rollups when their months are in the
rollups' window (dispatch.register.rollups), so a stale row would put a member in
or out of a segment on purchases they no longer have, or miss new ones.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from dispatch.privacy.erasure import erase_member
from dispatch.register import rollups
from dispatch.register.feed import import_feed
from dispatch.register.models import Member, ProductGroup
from dispatch.register.seed import SeedOptions, seed_register
from tests.factories import TEST_SECRET

ANNA = "9246000000000011"
R = rollups.ROLLUPS


def _row(s: Session, card: str, group: str) -> dict[str, int] | None:
    found = s.execute(
        select(R)
        .join(Member, Member.id == R.c.member_id)
        .join(ProductGroup, ProductGroup.id == R.c.product_group_id)
        .where(Member.card_number == card, ProductGroup.code == group)
    ).first()
    if found is None:
        return None
    return {k: v for k, v in found._mapping.items() if v}  # the non-zero columns


def test_the_feed_rolls_leaf_purchases_up_to_their_ancestors_in_whole_cents(
    engine: Engine, feed_copy: Path
) -> None:
    assert import_feed(engine, feed_copy, secret_key=TEST_SECRET).ok

    with Session(engine) as s:
        assert rollups.drift(s) == 0
        window = rollups.window(s)
        assert window[-1] == dt.date(2025, 4, 1)  # the newest month fed
        march, april = window.index(dt.date(2025, 3, 1)), window.index(dt.date(2025, 4, 1))
        diapers = _row(s, ANNA, "diapers")
        baby = _row(s, ANNA, "baby")
        assert diapers is not None and baby is not None
        assert diapers["amount_" + str(march)] == 5490 and diapers["count_" + str(april)] == 4
        # Two groups bought in March set March's bit once, and their amounts add up.
        assert baby["months"] == (1 << march) | (1 << april)
        assert baby["amount_" + str(march)] == 5490 + 3120
        assert baby["count_" + str(march)] == 3 + 6


def test_a_newer_month_moves_the_window_and_an_older_one_is_refreshed(
    engine: Engine, feed_copy: Path
) -> None:
    folder = feed_copy
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok
    for name in ("consents.csv", "suppressions.csv", "restaurant_visits.csv", "web_interests.csv"):
        (folder / name).unlink()

    (folder / "purchases.csv").write_text(
        "card_number,product_group,month,amount,count\n"
        f"{ANNA},diapers,2025-03,10.00,1\n"  # replaces March's 54.90
        f"{ANNA},baby_food,2025-06,5.05,1\n"  # two months past the window's end
    )
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok

    with Session(engine) as s:
        assert rollups.window(s)[-1] == dt.date(2025, 6, 1)
        assert rollups.drift(s) == 0
        march = rollups.window(s).index(dt.date(2025, 3, 1))
        baby = _row(s, ANNA, "baby")
        assert baby is not None and baby[f"amount_{march}"] == 1000 + 3120


def test_moving_a_product_group_moves_its_purchases_to_the_new_parent(
    engine: Engine, feed_copy: Path
) -> None:
    folder = feed_copy
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok
    for path in folder.iterdir():
        if path.name != "product_groups.csv":
            path.unlink()
    (folder / "product_groups.csv").write_text(
        "code,parent_code,name_fi,name_sv,sensitive\ndiapers,groceries,Vaipat,Blöjor,false\n"
    )
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok

    with Session(engine) as s:
        assert rollups.drift(s) == 0
        groceries = _row(s, ANNA, "groceries")
        assert (
            groceries is not None
            and sum(groceries[k] for k in groceries if k.startswith("count_")) == 7
        )
        baby = _row(s, ANNA, "baby")
        assert baby is not None and sum(baby[k] for k in baby if k.startswith("count_")) == 6


def test_erasure_removes_the_members_rollups(engine: Engine, feed_copy: Path) -> None:
    assert import_feed(engine, feed_copy, secret_key=TEST_SECRET).ok
    with Session(engine) as s, s.begin():
        anna = s.scalars(select(Member.id).where(Member.card_number == ANNA)).one()
        assert s.execute(select(R.c.product_group_id).where(R.c.member_id == anna)).all()
        erase_member(s, anna, actor="dpo", reason="member asked")

    with Session(engine) as s:
        assert s.execute(select(R.c.product_group_id).where(R.c.member_id == anna)).all() == []
        assert rollups.drift(s) == 0


def test_drift_sees_a_rollup_that_disagrees(engine: Engine, feed_copy: Path) -> None:
    """The check the other tests rely on can fail."""
    assert import_feed(engine, feed_copy, secret_key=TEST_SECRET).ok
    with Session(engine) as s:
        s.execute(update(R).where(R.c.product_group_id == R.c.product_group_id).values(count_12=99))
        assert rollups.drift(s) > 0


def test_a_seeded_register_has_its_rollups_in_step(engine: Engine) -> None:
    as_of = dt.date(2025, 5, 15)
    seed_register(engine, SeedOptions(members=300, seed=5, as_of=as_of), secret_key=TEST_SECRET)

    with Session(engine) as s:
        assert rollups.window(s)[-1] == dt.date(2025, 5, 1)
        assert s.execute(select(R.c.member_id).limit(1)).first() is not None
        assert rollups.drift(s) == 0
