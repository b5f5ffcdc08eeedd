"""Segment count latency on PostgreSQL, against hand-written SQL on the same data.

    .venv/bin/python bench/segments.py --members 3700000 [--repeat 15] [--keep]

Builds (or reuses, when its size and seed match) a register in the database
``dispatch_bench_<members>`` on the local PostgreSQL server, then for every example
segment in ``segments/`` measures, interleaved so that machine noise hits all alike:

- ``count``: :func:`dispatch.segmenting.services.count`, what ``dispatch segment count``
  runs (one query: the policy waterfall, i.e. how many each rule removed);
- ``compiled``: ``SELECT count(*)`` over the compiled recipients query;
- ``hand``: a hand-written SQL query selecting the same recipients.

All three run under the PostgreSQL settings ``segment count`` uses
(``services.SEGMENT_SETTINGS``: JIT off, work_mem 32 MB, effective_cache_size the
server's shared_buffers), which a campaign snapshot's selection runs with too.

It checks that ``compiled`` and ``hand`` agree on the count, then prints p50/p95 per
segment, the ratios compiled/hand and count/hand, and appends a dated section to
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import _results
from _database import drop_database, open_database
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from dispatch.register import activity, flags
from dispatch.register.facts import Reach as R
from dispatch.register.models import ProductGroup
from dispatch.register.seed import SeedOptions, seed_register
from dispatch.segmenting import services

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key-0123456789"
AS_OF = dt.date(2026, 11, 15)


def hand_written(as_of: dt.date, groups: dict[str, int]) -> dict[str, str]:
    """Hand-written SQL for each example segment: what a DBA would type into psql.

    The policy part is the same for every segment, so it is written once per channel
    and purpose as plain SQL (not generated from the compiler's rules).
    """
    adult_year = as_of.year - 18

    def policy(purpose: str, channel: str) -> str:
        # The consent state and suppressions as the member row's contact flags
        # (docs/consent.md); the bit of each key is the schema's, from register.flags.
        marketing = purpose in {"own_marketing", "partner_marketing", "profiling"}
        scopes = [(purpose, channel), (purpose, "any")]
        if marketing:
            scopes += [("direct_marketing", channel), ("direct_marketing", "any")]

        # "Bit not set" as (flags & bit) <> bit: PostgreSQL has no statistics on the
        # expression and estimates = at 1/200 but <> at 199/200 (see register.flags).
        def clear(column: str, *bits: int) -> str:
            return " AND ".join(f"m.{column} & {b} <> {b}" for b in bits)

        objected = [flags.consent_bit(p, ch, "objected") for p, ch in scopes]
        refused = flags.consent_bit(purpose, channel, "refused")
        sup = flags.SUPPRESSION_BITS
        parts = [
            clear("suppression_flags", sup["erased"], sup["deceased"]),
            f"m.birth_year IS NOT NULL AND m.birth_year <= {adult_year}",
            clear("consent_flags", *objected, refused),
        ]
        if channel in {"email", "sms"}:
            granted = flags.consent_bit(purpose, channel, "granted")
            parts.append(f"m.consent_flags & {granted} <> 0")
        if purpose == "partner_marketing" and channel == "post":
            parts.append(clear("suppression_flags", sup["optout_register"]))
        # reach (register.facts.Reach): active 8; post: a full address 1 that is
        # deliverable 16; e-mail: an address 2.
        reach = R.ACTIVE | {"post": R.DELIVERABLE | R.ADDRESS, "email": R.EMAIL}.get(channel, 0)
        parts.append(f"m.reach & {reach} = {reach}")
        if channel == "post":
            parts.append(clear("suppression_flags", sup["returned_mail"]))
        return "\n  AND ".join(parts)

    return baselines_for(as_of, policy, groups)


def baselines_for(
    as_of: dt.date, policy: Callable[[str, str], str], groups: dict[str, int]
) -> dict[str, str]:
    """One query per file in segments/, written by hand from the YAML.

    Like the compiled SQL, each behaviour condition is preceded by the member's
    activity bit (register.activity), as a DBA who knows the schema would write it.
    """

    def bought(code: str) -> str:
        column, bit = activity.group_bit(groups[code])
        return f"m.{column} & {bit} <> 0"

    def did(bit: int) -> str:
        return f"m.activity & {bit} <> 0"

    def month(back: int) -> str:
        index = as_of.year * 12 + as_of.month - 1 - back
        return f"DATE '{index // 12:04d}-{index % 12 + 1:02d}-01'"

    today = f"DATE '{as_of.isoformat()}'"

    # The rollups' columns hold the 13 months ending with as-of's (the seed's window):
    # slot 12 is the as-of month, slot 12 - k the month k months before.
    def rollup(code: str, back: int) -> str:
        mask = sum(1 << (12 - k) for k in range(back + 1))
        return (
            "SELECT member_id FROM purchase_rollups WHERE product_group_id = "
            f"(SELECT id FROM product_groups WHERE code = '{code}') AND months & {mask} <> 0"
        )

    def total(measure: str, back: int) -> str:
        return " + ".join(f"{measure}_{12 - k}" for k in range(back + 1))

    fuel_3m = rollup("fuel", 3)
    return {
        "abc-fuel-pensioners": f"""
SELECT m.id FROM member_facts m
WHERE m.birth_year <= {as_of.year - 65}
  AND {bought("fuel")} AND m.id IN ({fuel_3m})
  AND (m.home_store_id IN (SELECT id FROM stores WHERE chain = 'ABC')
       OR m.id IN ({fuel_3m} AND {total("amount", 3)} >= 10000))
  AND {policy("partner_marketing", "post")}""",
        "baby-households": f"""
SELECT min(m.id) AS id FROM member_facts m
WHERE {bought("baby")} AND m.id IN ({rollup("baby", 6)} AND {total("count", 6)} >= 2)
  AND {policy("partner_marketing", "post")}
GROUP BY coalesce(m.household_id, -m.id)""",
        "bicycle-browsers": f"""
SELECT m.id FROM member_facts m
WHERE {did(activity.WEB_BITS["bicycles"])}
  AND m.id IN (SELECT member_id FROM web_interests WHERE category = 'bicycles'
               AND last_seen BETWEEN {today} - 90 AND {today})
  AND m.birth_year <= {as_of.year - 18}
  AND {policy("own_marketing", "email")}""",
        "helsinki-restaurant-regulars": f"""
SELECT m.id FROM member_facts m
WHERE {did(activity.VISITED)}
  AND m.id IN (SELECT v.member_id FROM restaurant_visits v
               WHERE v.store_id IN (SELECT id FROM stores WHERE kind = 'restaurant'
                    AND municipality = 'Helsinki'
                    AND chain IN ('Rosso', 'Amarillo', 'Fransmanni', 'Presto', 'Coffee House'))
                 AND v.month BETWEEN {month(3)} AND {today}
               GROUP BY v.member_id HAVING sum(v.visits) >= 3)
  AND {policy("own_marketing", "post")}""",
        "nordic-air-travellers": f"""
SELECT m.id FROM member_facts m
WHERE {did(activity.WEB_BITS["travel"])}
  AND m.id IN (SELECT member_id FROM web_interests WHERE category = 'travel'
               AND last_seen BETWEEN {today} - 180 AND {today})
  AND m.birth_year <= {as_of.year - 20}
  AND {policy("partner_marketing", "email")}""",
        "swedish-ostrobothnia": f"""
SELECT m.id FROM member_facts m
WHERE m.language = 'sv' AND m.region = 'Pohjanmaa'
  AND {policy("own_marketing", "post")}""",
    }


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def prepare(members: int, seed: int, keep: bool, name: str) -> tuple[Engine, str]:
    engine, have = open_database(name, keep=keep)
    if have != members:
        print(f"seeding {members:,} members into {name} ...", file=sys.stderr)
        started = time.perf_counter()
        seed_register(
            engine,
            SeedOptions(members=members, seed=seed, as_of=AS_OF),
            secret_key=SECRET,
            replace=True,
        )
        print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        # Without a vacuum the visibility map is empty and no index-only scan is
        # possible (and autovacuum may be off, as it is on this machine).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    else:
        print(f"reusing {name} ({members:,} members)", file=sys.stderr)
    return engine, name


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=3_700_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--keep", action="store_true", help="reuse the bench database if it has the right size"
    )
    _results.add_arguments(parser)
    parser.add_argument(
        "--database", help="database name on the server (default dispatch_bench_<members>)"
    )
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument(
        "--workers-per-gather",
        type=int,
        help="max_parallel_workers_per_gather for the bench's session, as an operator sets it"
        " for the database (docs/segments.md: at most the server's cores minus one);"
        " default: the server's own setting",
    )
    args = parser.parse_args()

    name = args.database or f"dispatch_bench_{args.members}"
    engine, _name = prepare(args.members, args.seed, args.keep, name)
    try:
        rows, sizes, settings = measure(engine, args.repeat, args.workers_per_gather)
    finally:
        engine.dispose()
        if args.drop:
            drop_database(name)
    report(args, rows, sizes, settings)


Timings = dict[str, list[float]]


def measure(
    engine: Engine, repeat: int, workers_per_gather: int | None
) -> tuple[list[tuple[str, int, Timings]], dict[str, int], dict[str, str]]:
    """Every example segment's count, compiled and hand-written query, interleaved.

    Returns the rows, the register's table sizes and the PostgreSQL settings in force.
    """
    files = sorted((ROOT / "segments").glob("*.yaml"))
    rows = []
    # One connection for the whole run, its session-level settings committed: set
    # inside the Session's transaction, the rollback after the first segment undid
    # them, and every later compiled and hand-written query ran with the defaults.
    with engine.connect() as connection, Session(bind=connection) as session:
        # All three under the settings `segment count` runs with (SEGMENT_SETTINGS):
        # the same conditions for the compiled and the hand-written SQL. The workers
        # per gather as `ALTER DATABASE ... SET` would give every session.
        settings = services.segment_setting_values(session)
        if workers_per_gather is not None:
            settings["max_parallel_workers_per_gather"] = str(workers_per_gather)
        for name, value in settings.items():
            session.execute(select(func.set_config(name, value, False)))
        session.commit()
        shown = [*services.SEGMENT_SETTINGS, "max_parallel_workers_per_gather", "shared_buffers"]
        in_force = services.current_settings(session, shown)
        groups = {
            code: id_ for code, id_ in session.execute(select(ProductGroup.code, ProductGroup.id))
        }
        baselines = hand_written(AS_OF, groups)
        with engine.connect() as conn:
            sizes = {
                t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in (
                    "members",
                    "purchase_summaries",
                    "restaurant_visits",
                    "web_interests",
                    "consent_state",
                )
            }
        for path in files:
            segment = services.load(path)
            compiled = services.selection(session, segment, as_of=AS_OF).subquery()
            compiled_count = select(func.count()).select_from(compiled)
            hand = text(f"SELECT count(*) FROM ({baselines[path.stem]}) AS hand")

            def run_count(segment: services.Segment = segment) -> int:
                return services.count(session, segment, as_of=AS_OF).selected

            def run_compiled(stmt: object = compiled_count) -> int:
                return int(session.execute(stmt).scalar_one())  # type: ignore[call-overload]

            def run_hand(stmt: object = hand) -> int:
                return int(session.execute(stmt).scalar_one())  # type: ignore[call-overload]

            # One warm-up each, then interleave so that noise hits all three alike.
            results = {
                k: fn()
                for k, fn in (("count", run_count), ("compiled", run_compiled), ("hand", run_hand))
            }
            if len(set(results.values())) != 1:
                raise SystemExit(f"{path.name}: counts disagree {results}")
            times: Timings = {"count": [], "compiled": [], "hand": []}
            for _ in range(repeat):
                for key, fn in (
                    ("count", run_count),
                    ("compiled", run_compiled),
                    ("hand", run_hand),
                ):
                    times[key].append(timed(fn)[0])
            rows.append((path.stem, results["count"], times))
            session.rollback()
        after = services.current_settings(session, shown)
        if after != in_force:
            raise SystemExit(f"the settings changed during the run: {in_force} -> {after}")
    return rows, sizes, in_force


def report(
    args: argparse.Namespace,
    rows: list[tuple[str, int, Timings]],
    sizes: dict[str, int],
    settings: dict[str, str],
) -> None:
    def p(values: list[float], q: float) -> float:
        return (
            statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
            if len(values) > 1
            else values[0]
        )

    lines = [
        "| segment | recipients | count p50 | count p95 | compiled p50 | hand p50"
        " | compiled / hand | count / hand |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for stem, n, times in rows:
        hand = statistics.median(times["hand"])
        ratio = statistics.median(times["compiled"]) / hand
        against_hand = statistics.median(times["count"]) / hand
        lines.append(
            f"| {stem} | {n:,} | {p(times['count'], 50):.3f} s | {p(times['count'], 95):.3f} s"
            f" | {p(times['compiled'], 50):.3f} s | {p(times['hand'], 50):.3f} s | {ratio:.2f}×"
            f" | {against_hand:.2f}× |"
        )
    cpu = subprocess.run(
        ["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    header = [
        "## Segments",
        "",
        _results.stamp("segments.py"),
        "",
        f"PostgreSQL on 127.0.0.1 ({cpu or platform.processor()}).",
        "Register: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()) + f"; as-of {AS_OF}.",
        "`count` is `dispatch segment count` (the policy waterfall); `compiled` is count(*) over the",
        "compiled recipients query; `hand` is hand-written SQL for the same recipients, run interleaved,",
        "all three with " + ", ".join(f"{k} = {v}" for k, v in settings.items()) + ".",
        "`count / hand` compares the count with the same run's hand-written query, so that runs",
        "on machines of different speed (this one varies twofold between sessions) compare.",
        "",
    ]
    _results.publish(args, "segments.py", "\n".join([*header, *lines, ""]))


if __name__ == "__main__":
    main()
