"""``bonus_purchases.csv``: the partners' reports of their bonus purchases."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dispatch.register.models import BonusPurchase, Member
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
EINO = "9246000000000037"


def _rows(engine: Engine) -> list[tuple[str, str, dt.date, Decimal]]:
    with Session(engine) as s:
        found = s.execute(
            select(
                Member.card_number,
                BonusPurchase.partner_code,
                BonusPurchase.purchased_on,
                BonusPurchase.amount,
            )
            .join(Member, Member.id == BonusPurchase.member_id)
            .order_by(Member.card_number, BonusPurchase.partner_code)
        ).all()
    return [(c or "", p, d, Decimal(str(a))) for c, p, d, a in found]


def test_the_sample_feed_loads_bonus_purchases_by_card(
    cli: Cli, engine: Engine, feed_sample: Path
) -> None:
    assert cli("register", "import", str(feed_sample)).code == 0
    assert _rows(engine) == [
        ("9246000000000011", "nordic_air", dt.date(2025, 4, 20), Decimal("189.00")),
        (EINO, "lahi_vakuutus", dt.date(2025, 5, 2), Decimal("320.00")),
        (EINO, "nordic_air", dt.date(2025, 5, 2), Decimal("64.50")),
    ]


def test_a_day_reported_again_replaces_its_amount(
    cli: Cli, engine: Engine, feed_sample: Path, tmp_path: Path
) -> None:
    assert cli("register", "import", str(feed_sample)).code == 0
    again = tmp_path / "again"
    again.mkdir()
    (again / "bonus_purchases.csv").write_text(
        f"card_number,partner,date,amount\n{EINO},nordic_air,2025-05-02,70.00\n",
        encoding="utf-8",
    )
    assert cli("register", "import", str(again)).code == 0
    assert (EINO, "nordic_air", dt.date(2025, 5, 2), Decimal("70.00")) in _rows(engine)
    assert len(_rows(engine)) == 3


def test_bad_bonus_rows_are_named_and_good_ones_load(
    cli: Cli, engine: Engine, feed_sample: Path, tmp_path: Path
) -> None:
    assert cli("register", "import", str(feed_sample)).code == 0
    folder = tmp_path / "bad"
    folder.mkdir()
    tomorrow_but_one = dt.date.today() + dt.timedelta(days=3)
    (folder / "bonus_purchases.csv").write_text(
        "card_number,partner,date,amount\n"
        f"{EINO},nordic_air,2025-06-01,10.00\n"
        "9246000000009999,nordic_air,2025-06-01,10.00\n"
        f"{EINO},Nordic Air,2025-06-01,10.00\n"
        f"{EINO},nordic_air,{tomorrow_but_one.isoformat()},10.00\n"
        f"{EINO},nordic_air,2025-06-02,-5\n",
        encoding="utf-8",
    )
    result = cli("register", "import", str(folder), "--json")
    assert result.code == 2
    problems = result.err.strip().splitlines()
    assert "bonus_purchases.csv:3: card_number: no member has this card number" in result.err
    assert any("bonus_purchases.csv:4: partner:" in p for p in problems)
    assert "bonus_purchases.csv:5: date: is in the future" in result.err
    assert any("bonus_purchases.csv:6: amount:" in p for p in problems)
    files = {f["file"]: f for f in json.loads(result.out)["files"]}
    assert files["bonus_purchases.csv"]["loaded"] == 1
    assert files["bonus_purchases.csv"]["rejected"] == 4
