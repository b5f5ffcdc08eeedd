"""``dispatch register import``: a bad row is reported with every one of its problems in
one run, and an unknown product group is answered with the closest one, as segments
answer it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dispatch.register.models import Member, PurchaseSummary
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
PEOPLE = ("stores.csv", "product_groups.csv", "households.csv", "members.csv")


def _feed(feed_sample: Path, tmp_path: Path, **files: str) -> Path:
    """The sample's stores, groups, households and members, and ``files`` as given."""
    folder = tmp_path / "feed"
    folder.mkdir()
    for name in PEOPLE:
        shutil.copy(feed_sample / name, folder / name)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text.lstrip("\n"), encoding="utf-8")
    return folder


def _count(engine: Engine, model: type[object]) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_row_with_several_problems_reports_each_of_them(
    cli: Cli, engine: Engine, feed_sample: Path, tmp_path: Path
) -> None:
    folder = _feed(
        feed_sample,
        tmp_path,
        purchases="""
card_number,product_group,month,amount,count
9246000000000011,diapers,2025-03,54.90,3
9246000000009999,diaper,2025-13,1.234,two
9246000000000011,dairy,2025-04,-1,2
""",
    )

    result = cli("register", "import", str(folder))

    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "dispatch: purchases.csv:3: product_group: unknown product group 'diaper'; "
        "did you mean 'diapers'?",
        "dispatch: purchases.csv:3: month: must be a month YYYY-MM, got '2025-13'",
        "dispatch: purchases.csv:3: amount: at most two decimals, got '1.234'",
        "dispatch: purchases.csv:3: count: must be a whole number, got 'two'",
        # Its card is checked too, although the row was rejected for its cells.
        "dispatch: purchases.csv:3: card_number: no member has this card number",
        "dispatch: purchases.csv:4: amount: must be between 0 and 9999999999.99, got '-1'",
        "dispatch: error: 2 row(s) rejected",
    ]
    assert _count(engine, PurchaseSummary) == 1


def test_json_counts_a_row_once_and_lists_each_of_its_problems(
    cli: Cli, feed_sample: Path, tmp_path: Path
) -> None:
    folder = _feed(
        feed_sample,
        tmp_path,
        restaurant_visits="""
card_number,store_id,month,visits
9246000000000011,9001,2025-4,0
""",
    )

    result = cli("register", "import", str(folder), "--json")

    assert result.code == 2
    doc = json.loads(result.out)
    visits = {f["file"]: f for f in doc["files"]}["restaurant_visits.csv"]
    assert (visits["loaded"], visits["rejected"]) == (0, 1)
    assert doc["problems"] == [
        "restaurant_visits.csv:2: store_id: store 9001 is not a restaurant (it is retail)",
        "restaurant_visits.csv:2: month: must be a month YYYY-MM, got '2025-4'",
        "restaurant_visits.csv:2: visits: must be between 1 and 10000, got 0",
    ]


def test_a_members_row_names_every_bad_cell_and_reference(
    cli: Cli, engine: Engine, feed_sample: Path, tmp_path: Path
) -> None:
    header = (feed_sample / "members.csv").read_text(encoding="utf-8").splitlines()[0]
    folder = _feed(feed_sample, tmp_path)
    (folder / "members.csv").write_text(
        header + "\n9246000000000045,,Ek,,Torget 1,0010,VASA,Vaasa,Pohjanmaa,se,1990,ek(at)x,,"
        "777,9999,2019-04-01,active,deliverable\n",
        encoding="utf-8",
    )

    result = cli("register", "import", str(folder))

    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "dispatch: members.csv:2: first_name: required, but empty",
        "dispatch: members.csv:2: language: must be one of fi, sv; got 'se'",
        "dispatch: members.csv:2: postcode: must be 5 digits, got '0010'",
        "dispatch: members.csv:2: email: not an e-mail address: 'ek(at)x'",
        "dispatch: members.csv:2: home_store_id: no such store",
        "dispatch: members.csv:2: household_id: no such household",
        "dispatch: error: 1 row(s) rejected",
    ]
    assert _count(engine, Member) == 0


def test_an_unknown_parent_group_is_answered_with_the_closest(
    cli: Cli, feed_sample: Path, tmp_path: Path
) -> None:
    folder = _feed(feed_sample, tmp_path)
    with (folder / "product_groups.csv").open("a", encoding="utf-8") as fh:
        fh.write("cheese,diary,Juustot,Ostar,false\n")

    result = cli("register", "import", str(folder))

    assert result.code == 2
    [problem, summary] = result.err.strip().splitlines()
    assert problem.startswith("dispatch: product_groups.csv:")
    # The closest first; other close names may follow ("'dairy', 'diapers'").
    assert ": parent_code: unknown product group 'diary'; did you mean 'dairy'" in problem
    assert problem.endswith("? (list parents first)")
    assert summary == "dispatch: error: 1 row(s) rejected"


def test_a_feed_and_a_segment_suggest_the_same_group(
    cli: Cli, feed_sample: Path, tmp_path: Path
) -> None:
    """One answer to one typo, whichever file it is in."""
    assert cli("register", "import", str(_feed(feed_sample, tmp_path))).code == 0
    purchases = tmp_path / "more"
    purchases.mkdir()
    (purchases / "purchases.csv").write_text(
        "card_number,product_group,month,amount,count\n9246000000000011,diaprs,2025-03,1.00,1\n",
        encoding="utf-8",
    )
    segment = tmp_path / "typo.yaml"
    segment.write_text(
        "name: typo\npurpose: own_marketing\nchannel: post\n"
        "where:\n  all:\n    - purchased: {group: diaprs, within_months: 6}\n",
        encoding="utf-8",
    )

    from_feed = cli("register", "import", str(purchases))
    from_segment = cli("segment", "check", str(segment))

    hint = "unknown product group 'diaprs'; did you mean 'diapers'?"
    assert from_feed.code == from_segment.code == 2
    assert f"purchases.csv:2: product_group: {hint}" in from_feed.err
    assert f"typo.yaml:6: where.all[0].purchased.group: {hint}" in from_segment.err
