"""Partner report latency on PostgreSQL, beside the exact SQL for the same numbers.

    .venv/bin/python bench/reports.py --members 3700000 --recipients 300000 [--repeat 7] [--keep]

Builds (or, with ``--keep``, reuses) the register ``dispatch_bench_<members>`` that
bench/segments.py makes, and on it a completed partner campaign of ``--recipients``
contacted members plus a 10 % holdout, with its outcomes (a few suppressed, some
letters returned), unsubscribes and objections in the response window, and the
partner's bonus purchases (more among the contacted: a planted lift). A second,
earlier campaign of the same partner, half of whose audience overlaps, has its
report released first, so that the differencing guard has an audience to compare.

Then, interleaved so that machine noise hits both alike, ``--repeat`` times:

- ``reports``: the campaign report with all breakdowns and the lift, as a partner
  gets them (:func:`dispatch.reports.services.release` twice: the guard, the exact
  counts, OpenDP noise, suppression and the ledger row; rolled back afterwards so
  that every round is a fresh release);
- ``exact``: plain hand-written SQL for the same exact numbers (the grouped counts of
  the report and of the lift), what a staff member would type into psql.

It prints p50/p95 of both and their ratio (target <= 1.5), checks that the exact SQL
and the service's own counts agree, and draws the report's and the lift's noise 400
times on the campaign's real counts to show the share within the documented bound
(the accuracy check on the bench register). Appends a dated section to
bench/RESULTS.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

import _results
from _database import drop_database
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from dispatch.campaigns.models import Campaign
from dispatch.campaigns.snapshot import segment_hash
from dispatch.creatives import services as creatives
from dispatch.creatives.models import Partner
from dispatch.reports import counts as exact
from dispatch.reports import disclosure as dc
from dispatch.reports import services as reports
from dispatch.reports.models import Release, ReportKind
from segments import prepare

ROOT = Path(__file__).resolve().parent.parent
PARTNER = "Bench Air"
CODE = "bench_air"
BUNDLE = ROOT / "templates" / "creatives" / "nordic-air-spring"
SNAPSHOT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
#: Members are picked by this multiplicative hash of the id (spread over the register).
PICK = "(id * 2654435761) % 4294967291"


def setup(engine: Engine, recipients: int) -> tuple[int, int]:
    """The main campaign (and the earlier one, released), made once per database."""
    with Session(engine) as session:
        partner = session.scalar(select(Partner).where(Partner.name == PARTNER))
        if partner is None:
            partner = creatives.create_partner(session, PARTNER)
            creatives.set_bonus_code(session, PARTNER, CODE)
        versions = creatives.list_versions(session, PARTNER)
        version = versions[0] if versions else creatives.submit(session, PARTNER, BUNDLE)
        session.commit()
        ids = []
        for name, offset in (("earlier", recipients // 2), ("main", 0)):
            reference = f"bench-{name}-{recipients}"
            found = session.scalar(select(Campaign).where(Campaign.reference == reference))
            if found is None:
                found = _campaign(session, partner.id, version.id, reference, recipients, offset)
            ids.append(found.id)
        session.commit()
        earlier, main = ids
        released = session.scalar(select(Release.id).where(Release.campaign_id == earlier))
        if released is None:
            reports.release(
                session,
                session.get_one(Campaign, earlier),
                ReportKind.REPORT,
                controls=dc.Controls(epsilon=100.0),
                actor="bench",
                now=SNAPSHOT + dt.timedelta(days=1),
            )
            session.commit()
    return main, earlier


def _campaign(
    session: Session, partner_id: int, version_id: int, reference: str, n: int, offset: int
) -> Campaign:
    source = f"name: {reference}\n"
    campaign = Campaign(
        reference=reference,
        partner_id=partner_id,
        creative_version_id=version_id,
        channel="post",
        purpose="partner_marketing",
        segment_name=reference,
        segment_path=f"{reference}.yaml",
        segment_source=source,
        segment_sha256=segment_hash(source),
        status="completed",
        created_by="bench",
        snapshot_at=SNAPSHOT,
        completed_at=SNAPSHOT,
        holdout_bp=1000,
        recipient_count=n * 10 // 9,
    )
    session.add(campaign)
    session.flush()
    total = n * 10 // 9
    c = campaign.id
    session.execute(
        text(
            f"""
            INSERT INTO campaign_recipients (campaign_id, member_id, batch_no, status, reason,
                                             returned_at)
            SELECT {c}, id,
                   CASE WHEN id % 10 = 3 THEN -1 ELSE 0 END,
                   CASE WHEN id % 10 = 3 THEN 'held_out'
                        WHEN id % 97 = 1 THEN 'suppressed' ELSE 'delivered' END,
                   CASE WHEN id % 10 <> 3 AND id % 97 = 1 THEN 'objection' END,
                   CASE WHEN id % 10 <> 3 AND id % 97 <> 1 AND id % 53 = 0
                        THEN :snapshot + interval '3 days' END
            FROM (SELECT id FROM member_facts ORDER BY {PICK} OFFSET {offset} LIMIT {total}) AS m
            """
        ),
        {"snapshot": SNAPSHOT},
    )
    if offset == 0:
        # Purchases: 14 % of the contacted and 10 % of the held out buy (on 1-3 days).
        session.execute(
            text(
                f"""
                INSERT INTO bonus_purchases (member_id, partner_code, purchased_on, amount)
                SELECT r.member_id, '{CODE}', CAST(:day AS date) + d.day, 120
                FROM campaign_recipients r
                CROSS JOIN (VALUES (1), (8), (15)) AS d(day)
                WHERE r.campaign_id = {c}
                  AND (r.member_id * 7919) % 100 < CASE WHEN r.status = 'held_out' THEN 10 ELSE 14 END
                  AND d.day <= 1 + (r.member_id % 3) * 7
                ON CONFLICT DO NOTHING
                """
            ),
            {"day": SNAPSHOT.date()},
        )
        for decision, modulo in (("refused", 211), ("objected", 509)):
            session.execute(
                text(
                    f"""
                    INSERT INTO consent_events (member_id, purpose, channel, decision,
                                                recorded_at, source)
                    SELECT member_id, 'partner_marketing', 'post', '{decision}',
                           :at, 'bench'
                    FROM campaign_recipients
                    WHERE campaign_id = {c} AND status = 'delivered' AND member_id % {modulo} = 5
                    """
                ),
                {"at": SNAPSHOT + dt.timedelta(days=5)},
            )
    session.execute(text("ANALYZE campaign_recipients"))
    session.execute(text("ANALYZE bonus_purchases"))
    return campaign


def exact_sql(campaign_id: int) -> list[str]:
    """The same exact numbers in plain SQL: the report's groups, the lift's groups."""
    start = SNAPSHOT
    end = SNAPSHOT + dt.timedelta(days=30)
    report = f"""
        SELECT coalesce(f.region, 'unknown'),
               CASE WHEN {start.year} - f.birth_year BETWEEN 18 AND 34 THEN '18-34'
                    WHEN {start.year} - f.birth_year BETWEEN 35 AND 54 THEN '35-54'
                    WHEN {start.year} - f.birth_year BETWEEN 55 AND 74 THEN '55-74'
                    WHEN {start.year} - f.birth_year >= 75 THEN '75+' ELSE 'unknown' END,
               f.language,
               sum((r.status = 'delivered')::int),
               sum((r.returned_at IS NOT NULL)::int),
               sum((EXISTS (SELECT 1 FROM consent_events e WHERE e.member_id = r.member_id
                     AND e.decision = 'refused' AND e.recorded_at >= '{start.isoformat()}'
                     AND e.recorded_at < '{end.isoformat()}'))::int),
               sum((EXISTS (SELECT 1 FROM consent_events e WHERE e.member_id = r.member_id
                     AND e.decision = 'objected' AND e.recorded_at >= '{start.isoformat()}'
                     AND e.recorded_at < '{end.isoformat()}'))::int)
        FROM campaign_recipients r JOIN member_facts f ON f.id = r.member_id
        WHERE r.campaign_id = {campaign_id} AND r.status <> 'held_out'
        GROUP BY 1, 2, 3
    """
    lift = f"""
        SELECT (r.status = 'held_out'), count(*), count(b.member_id),
               sum(least(coalesce(b.days, 0), {exact.PURCHASE_CAP}))
        FROM campaign_recipients r
        LEFT JOIN (SELECT member_id, count(*) AS days FROM bonus_purchases
                   WHERE partner_code = '{CODE}' AND purchased_on >= '{start.date()}'
                     AND purchased_on < '{end.date()}'
                   GROUP BY member_id) b ON b.member_id = r.member_id
        WHERE r.campaign_id = {campaign_id}
        GROUP BY 1
    """
    return [report, lift]


def timed(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def measure(engine: Engine, campaign_id: int, repeat: int) -> dict[str, object]:
    controls = dc.Controls(epsilon=100.0)
    day = SNAPSHOT + dt.timedelta(days=40)  # the window has closed: the final lift
    statements = [text(sql) for sql in exact_sql(campaign_id)]
    with Session(engine) as session:
        campaign = session.get_one(Campaign, campaign_id)
        # The service's counts and the plain SQL must agree before anything is timed.
        found = exact.campaign_counts(session, campaign)
        grouped = session.execute(statements[0]).all()
        plain = [sum(int(row[i]) for row in grouped) for i in (3, 4, 5, 6)]
        ours = [found.reached, found.returned, found.unsubscribed, found.objected]
        if plain != ours:
            raise SystemExit(f"report counts disagree: SQL {plain}, service {ours}")
        lifted = exact.lift_counts(session, campaign, CODE, day.date())
        lift_rows = {bool(r[0]): r[1:] for r in session.execute(statements[1]).all()}
        expected = (
            lifted.contacted.members,
            lifted.contacted.responders,
            lifted.contacted.purchases,
        )
        if tuple(int(v) for v in lift_rows[False]) != expected:
            raise SystemExit(f"lift counts disagree: SQL {lift_rows[False]}, service {expected}")
        session.rollback()

        def ours_once() -> None:
            fresh = session.get_one(Campaign, campaign_id)
            for kind in (ReportKind.REPORT, ReportKind.LIFT):
                reports.release(session, fresh, kind, controls=controls, actor="bench", now=day)
            session.rollback()  # every round a fresh release, nothing kept

        def exact_once() -> None:
            for statement in statements:
                session.execute(statement).all()
            session.rollback()

        ours_once()
        exact_once()
        times: dict[str, list[float]] = {"reports": [], "exact": []}
        for _ in range(repeat):
            times["reports"].append(timed(ours_once))
            times["exact"].append(timed(exact_once))
        released = reports.release(
            session, session.get_one(Campaign, campaign_id), ReportKind.LIFT,
            controls=controls, actor="bench", now=day,
        )  # fmt: skip
        session.rollback()
        _, values, sensitivity = reports.report_vector("post", found)
        lift_values, lift_sensitivity = reports.lift_vector(lifted)
    coverage = {}
    for name, vector, sens, cost in (
        ("report", values, sensitivity, reports.COSTS[ReportKind.REPORT]),
        ("lift", lift_values, lift_sensitivity, reports.COSTS[ReportKind.LIFT]),
    ):
        inside = total = 0
        for _ in range(400):
            noisy = dc.add_noise(vector, sens, cost, controls)
            inside += sum(
                abs(a - b) <= noisy.error95 for a, b in zip(noisy.values, vector, strict=True)
            )
            total += len(vector)
        coverage[name] = (inside, total)
    return {
        "times": times,
        "reached": found.reached,
        "held_out": lifted.held_out.members,
        "lift": released["lift"],
        "exact_difference": lifted.contacted.responders / lifted.contacted.members
        - lifted.held_out.responders / lifted.held_out.members,
        "coverage": coverage,
    }


def write(args: argparse.Namespace, result: dict[str, object], started: str) -> str:
    times: dict[str, list[float]] = result["times"]  # type: ignore[assignment]

    def q(values: list[float], p: int) -> float:
        return (
            statistics.quantiles(values, n=100, method="inclusive")[p - 1]
            if len(values) > 1
            else values[0]
        )

    p50 = {k: q(v, 50) for k, v in times.items()}
    ratio = p50["reports"] / p50["exact"]
    coverage: dict[str, tuple[int, int]] = result["coverage"]  # type: ignore[assignment]
    lift = result["lift"] or {}
    lines = [
        "## Partner reports",
        "",
        _results.stamp("reports.py", started),
        "",
        f"{args.members:,} members, a campaign of {result['reached']:,} letters handed off.",
        "",
        "| what | p50 | p95 |",
        "|---|---:|---:|",
        *(
            f"| {k} | {q(v, 50) * 1000:.0f} ms | {q(v, 95) * 1000:.0f} ms |"
            for k, v in times.items()
        ),
        "",
        f"Reports / exact SQL (p50): **{ratio:.2f}×** (target ≤ 1.5: {'met' if ratio <= 1.5 else 'NOT met'}).",
        f"Held out: {result['held_out']:,}. "
        + (
            f"Released lift: {lift['difference'] * 100:+.2f} pp, 95 % interval "
            f"{lift['interval95'][0] * 100:+.2f} to {lift['interval95'][1] * 100:+.2f} pp "
            f"(exact difference in this sample: {result['exact_difference'] * 100:+.2f} pp; "  # type: ignore[operator]
            "planted: about 14 % of the contacted buy, 10 % of the held out)."
            if lift
            else "The lift was not measurable (too few responders in a group)."
        ),
        "Accuracy on this register: "
        + "; ".join(
            f"{k} {i / t:.2%} of {t:,} noisy counts within their bound"
            for k, (i, t) in coverage.items()
        )
        + " (documented: at least 95 %).",
        "",
    ]
    text_ = "\n".join(lines)
    _results.publish(args, "reports.py", text_)
    return text_


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=3_700_000)
    parser.add_argument("--recipients", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--keep", action="store_true", help="reuse the bench database if it has the right size"
    )
    _results.add_arguments(parser)
    parser.add_argument("--database", help="database name (default dispatch_bench_<members>)")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    if args.recipients * 10 // 9 * 2 > args.members:
        parser.error("--recipients: the two campaigns need fewer than half the members each")
    started = " ".join(f"{x:.2f}" for x in os.getloadavg())
    name = args.database or f"dispatch_bench_{args.members}"
    clock = time.perf_counter()
    engine, _ = prepare(args.members, args.seed, args.keep, name)
    print(f"register ready in {time.perf_counter() - clock:.0f} s", file=sys.stderr)
    try:
        clock = time.perf_counter()
        main_id, _ = setup(engine, args.recipients)
        print(f"campaigns ready in {time.perf_counter() - clock:.0f} s", file=sys.stderr)
        result = measure(engine, main_id, args.repeat)
    finally:
        engine.dispose()
        if args.drop:
            drop_database(name)
    write(args, result, started)


if __name__ == "__main__":
    main()
