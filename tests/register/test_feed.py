"""``dispatch register import``: good rows load, bad rows are named, bad files load nothing."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.db.types import SuppressionReason
from dispatch.privacy.erasure import erase_member
from dispatch.register import feed_files
from dispatch.register.feed import import_feed
from dispatch.register.hashing import subject_hash
from dispatch.register.models import (
    ConsentEvent,
    ConsentState,
    Household,
    Member,
    ProductGroup,
    PurchaseSummary,
    RestaurantVisit,
    Store,
    Suppression,
    WebInterest,
)
from tests.conftest import CliResult
from tests.factories import TEST_SECRET

Cli = Callable[..., CliResult]
ANNA, MIKKO, EINO = "9246000000000011", "9246000000000029", "9246000000000037"
PEOPLE = ("stores.csv", "households.csv", "members.csv")


def _count(engine: Engine, model: type[Any]) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _member(engine: Engine, card: str) -> Member | None:
    with Session(engine) as s:
        return s.scalar(select(Member).where(Member.card_number == card))


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text.lstrip("\n"), encoding="utf-8")


def _copy_sample(feed_sample: Path, tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "feed"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(feed_sample / name, folder / name)
    return folder


def test_sample_feed_loads_completely(cli: Cli, engine: Engine, feed_sample: Path) -> None:
    result = cli("register", "import", str(feed_sample))

    assert result.code == 0, result.err
    assert result.err == ""
    assert "members.csv" in result.out
    counts = {model: _count(engine, model) for model in (
        Store, ProductGroup, Household, Member, PurchaseSummary, RestaurantVisit, WebInterest,
        ConsentEvent, ConsentState, Suppression)}  # fmt: skip
    assert list(counts.values()) == [4, 9, 2, 3, 6, 2, 2, 4, 3, 2]
    anna = _member(engine, ANNA)
    assert anna is not None
    assert (anna.first_name, anna.language, anna.post_town, anna.household_id) == (
        "Anna", "sv", "VASA", 501,
    )  # fmt: skip
    assert anna.subject_hash == subject_hash(TEST_SECRET, ANNA)
    mikko = _member(engine, MIKKO)
    assert mikko is not None and mikko.status == "active" and mikko.email is None
    with Session(engine) as s:
        medicines = s.scalar(select(ProductGroup).where(ProductGroup.code == "medicines"))
        assert medicines is not None and medicines.sensitive
        diapers = s.scalar(
            select(PurchaseSummary.amount)
            .join(ProductGroup, ProductGroup.id == PurchaseSummary.product_group_id)
            .where(ProductGroup.code == "diapers", PurchaseSummary.month == dt.date(2025, 3, 1))
        )
        assert Decimal(str(diapers)) == Decimal("54.90")


def test_reimporting_the_same_feed_changes_nothing(
    cli: Cli, engine: Engine, feed_sample: Path
) -> None:
    assert cli("register", "import", str(feed_sample)).code == 0

    again = cli("register", "import", str(feed_sample), "--json")

    assert again.code == 0, again.err
    files = {f["file"]: f for f in json.loads(again.out)["files"]}
    assert files["consents.csv"]["unchanged"] == 4
    assert files["consents.csv"]["loaded"] == 0
    assert files["suppressions.csv"]["unchanged"] == 2
    assert _count(engine, ConsentEvent) == 4
    assert _count(engine, Member) == 3
    assert _count(engine, PurchaseSummary) == 6


def test_consents_land_in_the_ledger_with_state_in_step(
    engine: Engine, feed_sample: Path, tmp_path: Path
) -> None:
    folder = _copy_sample(feed_sample, tmp_path, *PEOPLE, "consents.csv")

    report = import_feed(engine, folder, secret_key=TEST_SECRET)

    assert report.ok, report.problems
    anna = _member(engine, ANNA)
    assert anna is not None
    with Session(engine) as s:
        ledger = s.execute(
            select(ConsentEvent.purpose, ConsentEvent.channel, ConsentEvent.decision)
            .where(ConsentEvent.member_id == anna.id)
            .order_by(ConsentEvent.id)
        ).all()
        state = {
            (row.purpose, row.channel): (row.decision, row.event_id)
            for row in s.scalars(select(ConsentState).where(ConsentState.member_id == anna.id))
        }
        last_own = s.scalar(
            select(func.max(ConsentEvent.id)).where(
                ConsentEvent.member_id == anna.id, ConsentEvent.purpose == "own_marketing"
            )
        )
    assert ledger == [
        ("own_marketing", "email", "granted"),
        ("partner_marketing", "email", "granted"),
        ("own_marketing", "email", "refused"),
    ]
    assert state[("own_marketing", "email")] == ("refused", last_own)
    assert state[("partner_marketing", "email")][0] == "granted"


def test_consent_rows_the_rules_forbid_are_rejected(
    cli: Cli, engine: Engine, feed_sample: Path, tmp_path: Path
) -> None:
    folder = _copy_sample(feed_sample, tmp_path, *PEOPLE, "consents.csv")
    assert cli("register", "import", str(folder)).code == 0
    (folder / "members.csv").unlink()
    _write(folder, "consents.csv", f"""
card_number,purpose,channel,decision,recorded_at,source
{ANNA},own_marketing,email,granted,2023-01-01T00:00:00Z,web
{ANNA},direct_marketing,any,granted,2025-04-01T00:00:00Z,web
{ANNA},own_marketing,any,refused,2025-04-01T00:00:00Z,web
{ANNA},own_marketing,email,granted,2025-04-01T10:00:00,web
{ANNA},own_marketing,email,granted,2999-01-01T00:00:00Z,web
{MIKKO},own_marketing,sms,granted,2025-04-01T10:00:00+03:00,store
""")  # fmt: skip

    result = cli("register", "import", str(folder))

    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert lines[0].startswith("dispatch: consents.csv:2: recorded_at: older than")
    assert lines[1].startswith("dispatch: consents.csv:3: decision: direct_marketing/any")
    assert lines[2].startswith("dispatch: consents.csv:4: decision: own_marketing/any")
    assert lines[3].startswith("dispatch: consents.csv:5: recorded_at: needs a UTC offset")
    assert lines[4] == "dispatch: consents.csv:6: recorded_at: is in the future"
    assert lines[-1] == "dispatch: error: 5 row(s) rejected"
    assert _count(engine, ConsentEvent) == 5  # 4 from the sample, Mikko's SMS opt-in


MEMBERS_HEADER = (
    "card_number,first_name,last_name,street,postcode,post_town,language,birth_year,email,"
    "phone,household_id,home_store_id,member_since,status"
)

# One good row per file and one bad row of each kind, every bad row on a known line.
BAD_FEED = {
    "stores.csv": """
store_id,name,chain,kind,municipality,region
7001,Prisma Tampere,Prisma,retail,Tampere,Pirkanmaa
7002,Amarillo Tampere,Amarillo,restaurant,Tampere,Pirkanmaa
x,Rosso Tampere,Rosso,restaurant,Tampere,Pirkanmaa
7003,Rosso Pori,Rosso,bistro,Pori,Satakunta
""",
    "product_groups.csv": """
code,parent_code,name_fi,name_sv,sensitive
baby,,Vauvatuotteet,Babyprodukter,false
diapers,baby,Vaipat,Blöjor,false
pharmacy,,Apteekki,Apotek,true
medicines,pharmacy,Lääkkeet,Läkemedel,false
toys,games,Lelut,Leksaker,false
Bad Code,,X,Y,false
shoes,,Kengät,Skor,maybe
""",
    "households.csv": """
household_id,kind
801,family
802,commune
""",
    "members.csv": MEMBERS_HEADER
    + """
9246000000001001,Aino,Virtanen,Hämeenkatu 1,33100,TAMPERE,fi,1980,aino@posti.example,,801,7001,,
9246000000001002,Bo,Ek,Torget 1,0010,HELSINGFORS,sv,1980,,,,,,
9246000000001003,Cia,Ek,Torget 1,00100,HELSINGFORS,se,1980,,,,,,
9246000000001004,Dan,Ek,Torget 1,00100,HELSINGFORS,sv,1980,dan(at)example,,,,,
924600000000100,Eva,Ek,Torget 1,00100,HELSINGFORS,sv,1980,,,,,,
9246000000001006,,Ek,Torget 1,00100,HELSINGFORS,sv,1980,,,,,,
9246000000001007,Fia,Ek,Torget 1,00100,HELSINGFORS,sv,nineteen,,,,,,
9246000000001008,Gun,Ek,Torget 1,00100,HELSINGFORS,sv,1980,,,999,,,
9246000000001009,Hans,Ek,Torget 1,00100,HELSINGFORS,sv,1980,,,,999,,
9246000000001010,Ida,Ek,Torget 1,00100,HELSINGFORS,sv,1980,,,,,,erased
9246000000001011,Jan,Ek,Torget 1,00100,HELSINGFORS,sv,1980,,12,,,,
9246000000001012,Kim,Ek
""",
    "purchases.csv": """
card_number,product_group,month,amount,count
9246000000001001,diapers,2025-04,12.50,2
9246000000009999,diapers,2025-04,12.50,2
9246000000001001,nappies,2025-04,12.50,2
9246000000001001,diapers,2025-13,12.50,2
9246000000001001,diapers,2025-04,-1,2
9246000000001001,diapers,2025-04,1.234,2
9246000000001001,diapers,2025-04,12.50,two
""",
    "restaurant_visits.csv": """
card_number,store_id,month,visits
9246000000001001,7002,2025-04,3
9246000000001001,7001,2025-04,3
9246000000001001,4242,2025-04,3
9246000000001001,7002,2025-04,0
""",
    "web_interests.csv": """
card_number,category,last_seen
9246000000001001,bicycles,2025-04-30
9246000000001001,cars,2025-04-30
9246000000001001,baby,30.4.2025
""",
    "suppressions.csv": """
card_number,reason
9246000000001001,returned_mail
9246000000001001,erased
""",
}


def _bad_feed(folder: Path) -> None:
    for name, text in BAD_FEED.items():
        _write(folder, name, text)


EXPECTED_PROBLEMS = [
    "stores.csv:4: store_id: must be a whole number, got 'x'",
    "stores.csv:5: kind: must be one of retail, fuel, restaurant; got 'bistro'",
    "product_groups.csv:5: sensitive: must be true: its parent 'pharmacy' is sensitive",
    "product_groups.csv:6: parent_code: unknown product group 'games'; "
    "known: baby, diapers, pharmacy (list parents first)",
    "product_groups.csv:7: code: must be lower-case letters, digits and _ (up to 40), "
    "got 'Bad Code'",
    "product_groups.csv:8: sensitive: must be true or false, got 'maybe'",
    "households.csv:3: kind: must be one of family, baby_family, couple, single, pensioner; "
    "got 'commune'",
    "members.csv:3: postcode: must be 5 digits, got '0010'",
    "members.csv:4: language: must be one of fi, sv; got 'se'",
    "members.csv:5: email: not an e-mail address: 'dan(at)example'",
    "members.csv:6: card_number: must be 16 digits, got '924600000000100'",
    "members.csv:7: first_name: required, but empty",
    "members.csv:8: birth_year: must be a whole number, got 'nineteen'",
    "members.csv:9: household_id: no such household",
    "members.csv:10: home_store_id: no such store",
    "members.csv:11: status: must be one of active, deceased; got 'erased'",
    "members.csv:12: phone: not a phone number: '12'",
    "members.csv:13: row: has 3 fields, the header 14",
    "purchases.csv:3: card_number: no member has this card number",
    "purchases.csv:4: product_group: unknown product group 'nappies'; "
    "known: baby, diapers, pharmacy",
    "purchases.csv:5: month: must be a month YYYY-MM, got '2025-13'",
    "purchases.csv:6: amount: must be between 0 and 9999999999.99, got '-1'",
    "purchases.csv:7: amount: at most two decimals, got '1.234'",
    "purchases.csv:8: count: must be a whole number, got 'two'",
    "restaurant_visits.csv:3: store_id: store 7001 is not a restaurant (it is retail)",
    "restaurant_visits.csv:4: store_id: no such store",
    "restaurant_visits.csv:5: visits: must be between 1 and 10000, got 0",
    "web_interests.csv:3: category: must be one of bicycles, baby, electronics, home, garden, "
    "travel, sports, fashion; got 'cars'",
    "web_interests.csv:4: last_seen: must be a date YYYY-MM-DD, got '30.4.2025'",
    "suppressions.csv:3: reason: must be one of optout_register, deceased, returned_mail; "
    "got 'erased'",
]


def test_every_bad_row_is_named_by_file_line_and_field_and_good_rows_load(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    _bad_feed(tmp_path / "feed")

    result = cli("register", "import", str(tmp_path / "feed"))

    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert lines[:-1] == [f"dispatch: {p}" for p in EXPECTED_PROBLEMS]
    assert lines[-1] == f"dispatch: error: {len(EXPECTED_PROBLEMS)} row(s) rejected"
    assert _count(engine, Store) == 2
    assert _count(engine, ProductGroup) == 3
    assert _count(engine, Household) == 1
    assert _count(engine, Member) == 1
    assert _count(engine, PurchaseSummary) == 1
    assert _count(engine, RestaurantVisit) == 1
    assert _count(engine, WebInterest) == 1
    assert _count(engine, Suppression) == 1


def test_import_json_reports_counts_and_problems(cli: Cli, tmp_path: Path) -> None:
    _bad_feed(tmp_path / "feed")

    result = cli("register", "import", str(tmp_path / "feed"), "--json")

    assert result.code == 2
    doc = json.loads(result.out)
    files = {f["file"]: f for f in doc["files"]}
    assert files["members.csv"] == {
        "file": "members.csv", "loaded": 1, "rejected": 11, "unchanged": 0, "failed": None,
    }  # fmt: skip
    assert doc["problems"] == EXPECTED_PROBLEMS
    assert doc["rejected"] == len(EXPECTED_PROBLEMS)


def test_wrong_header_rejects_the_whole_file(
    cli: Cli, engine: Engine, feed_sample: Path, tmp_path: Path
) -> None:
    folder = _copy_sample(feed_sample, tmp_path, "households.csv")
    _write(
        folder,
        "stores.csv",
        """
store_id,name,chain,type,municipality,region
1,Prisma Pori,Prisma,retail,Pori,Satakunta
""",
    )

    result = cli("register", "import", str(folder))

    assert result.code == 2
    assert result.err.splitlines()[0] == (
        "dispatch: stores.csv:1: header: missing column(s) kind; unknown column(s) type "
        "(allowed: store_id, name, chain, kind, municipality, region); "
        "nothing loaded from this file"
    )
    assert _count(engine, Store) == 0
    assert _count(engine, Household) == 2  # the other file still loaded


def test_undecodable_file_loads_nothing_and_names_the_line(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "households.csv").write_bytes(
        b"household_id,kind\n901,single\n902,family\n903,couple \xe4\xe4\n904,single\n"
    )

    result = cli("register", "import", str(folder))

    assert result.code == 2
    assert result.err.splitlines()[0].startswith("dispatch: households.csv:4: not UTF-8 text")
    assert "nothing loaded from this file" in result.err
    assert _count(engine, Household) == 0


def test_a_file_failing_part_way_leaves_the_database_as_it_was(
    engine: Engine, feed_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _copy_sample(feed_sample, tmp_path, *PEOPLE)
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok
    _write(
        folder,
        "members.csv",
        f"""
card_number,first_name,last_name,language
{ANNA},Annika,Björklund,sv
9246000000002001,Uusi,Jäsen,fi
9246000000002002,Toinen,Jäsen,fi
{EINO},Eino,Mäkinen,fi
9246000000002003,Kolmas,Jäsen,fi
""",
    )
    real_load = feed_files.MembersFile.load
    batches: list[int] = []

    def load_then_fail(self: feed_files.MembersFile, session: Session, rows: Any) -> Any:
        batches.append(len(rows))
        if len(batches) == 2:  # the first batch is written; the database then refuses
            raise IntegrityError("INSERT INTO members", {}, Exception("injected failure"))
        return real_load(self, session, rows)

    monkeypatch.setattr(feed_files.MembersFile, "load", load_then_fail)

    report = import_feed(engine, folder, secret_key=TEST_SECRET, batch_rows=2)

    assert batches == [2, 2]
    [stores, households, members] = report.files
    assert stores.failed is None and households.failed is None
    assert (members.loaded, members.failed) == (0, "database error: injected failure")
    assert [str(p) for p in report.problems] == [
        "members.csv: database error: injected failure; nothing loaded from this file"
    ]
    anna = _member(engine, ANNA)
    assert anna is not None and anna.first_name == "Anna"
    assert _count(engine, Member) == 3


def test_a_row_breaking_a_database_constraint_rolls_the_whole_file_back(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row that got past the checks (here: with the checks switched off) but that the
    database refuses, in the second batch, after the first batch was written."""

    def parse_unchecked(self: Any, row: dict[str, str]) -> dict[str, Any]:
        names = ("name", "chain", "kind", "municipality", "region")
        return {"id": int(row["store_id"]), **{k: row[k].strip() or None for k in names}}

    monkeypatch.setattr(feed_files.StoresFile, "parse", parse_unchecked)
    _write(
        tmp_path / "feed",
        "stores.csv",
        """
store_id,name,chain,kind,municipality,region
1,S-market Pori,S-market,retail,Pori,Satakunta
2,Prisma Pori,Prisma,retail,Pori,Satakunta
3,Sale Pori,Sale,retail,Pori,Satakunta
4,ABC Pori,ABC,,Pori,Satakunta
""",
    )

    report = import_feed(engine, tmp_path / "feed", secret_key=TEST_SECRET, batch_rows=3)

    [stores] = report.files
    assert stores.failed is not None and stores.failed.startswith("database error")
    assert stores.loaded == 0
    assert _count(engine, Store) == 0


def test_erased_member_reimported_is_a_new_row_that_stays_suppressed(
    engine: Engine, feed_sample: Path, tmp_path: Path
) -> None:
    folder = _copy_sample(feed_sample, tmp_path, *PEOPLE)
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok
    anna = _member(engine, ANNA)
    assert anna is not None
    with Session(engine) as s, s.begin():
        erase_member(s, anna.id, actor="dpo", reason="member asked")

    report = import_feed(engine, folder, secret_key=TEST_SECRET)

    assert report.ok, report.problems
    back = _member(engine, ANNA)
    assert back is not None and back.id != anna.id
    assert back.subject_hash == anna.subject_hash
    with Session(engine) as s:
        erased = s.get(Member, anna.id)
        assert erased is not None and erased.status == "erased" and erased.card_number is None
        reasons = s.scalars(
            select(Suppression.reason).where(Suppression.subject_hash == back.subject_hash)
        ).all()
    assert SuppressionReason.ERASED in reasons


def test_product_group_sensitivity_cannot_be_cleared_and_spreads_down(
    engine: Engine, feed_sample: Path, tmp_path: Path
) -> None:
    folder = _copy_sample(feed_sample, tmp_path, "product_groups.csv")
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok
    _write(
        folder,
        "product_groups.csv",
        """
code,parent_code,name_fi,name_sv,sensitive
medicines,pharmacy,Lääkkeet,Läkemedel,false
baby,,Vauvatuotteet,Babyprodukter,true
groceries,baby,Päivittäistavarat,Dagligvaror,true
baby,diapers,Vauvatuotteet,Babyprodukter,true
""",
    )

    report = import_feed(engine, folder, secret_key=TEST_SECRET)

    assert [str(p) for p in report.problems] == [
        "product_groups.csv:2: sensitive: 'medicines' is sensitive (GDPR Art. 9); "
        "the feed may not clear that flag",
        "product_groups.csv:5: parent_code: 'diapers' is 'baby' or below it: a cycle",
    ]
    with Session(engine) as s:
        flags = {c: f for c, f in s.execute(select(ProductGroup.code, ProductGroup.sensitive))}
    assert flags["diapers"] and flags["baby_food"] and flags["groceries"] and flags["dairy"]


def test_feed_folder_without_feed_files_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    _write(tmp_path / "feed", "member.csv", "card_number\n")

    result = cli("register", "import", str(tmp_path / "feed"))

    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert "no feed files here" in line


def test_unknown_csv_beside_feed_files_is_reported(
    cli: Cli, feed_sample: Path, tmp_path: Path
) -> None:
    folder = _copy_sample(feed_sample, tmp_path, "households.csv")
    _write(folder, "member.csv", "card_number\n")

    result = cli("register", "import", str(folder))

    assert result.code == 2
    assert result.err.splitlines()[0].startswith("dispatch: member.csv: not a feed file")
