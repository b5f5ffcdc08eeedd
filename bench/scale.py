"""A campaign at the register's real size: post and e-mail, 1, 2 and 4 worker processes.

    nice -n 10 .venv/bin/python bench/scale.py --members 3700000 \\
        --recipients-post 300000 --recipients-email 100000 --workers 1,2,4

On the register ``dispatch_bench_<members>`` (the one bench/segments.py and
bench/reports.py use; seeded with the project's bulk seed when missing, reused
otherwise; what earlier runs' campaigns left in the campaign tables is removed and the
tables vacuumed first), for each worker count in ``--workers``, with freshly started
``dispatch worker --processes N --threads T`` on Redis:

- a post campaign of at least ``--recipients-post`` letters to the S3 outbox (a moto
  server on loopback, in its own process), and
- an e-mail campaign of at least ``--recipients-email`` messages to SMTP sinks on
  loopback (bench/campaigns.py's minimal asyncio sink, in ``--relays`` processes).

It reports, per campaign: snapshot time, letters/s or e-mails/s from start to
completed and after the snapshot, each worker process's peak RSS, CPU of the workers,
of the workers' own PostgreSQL backends and of the sinks, the database's growth per
recipient (``pg_database_size`` before and after), and transactions and rows written
per batch (``pg_stat_database``). Every run is checked: delivered = snapshot minus
suppressed, failed and held out; every batch complete in the outbox with a manifest of
the right count; the sinks got each delivered address exactly once.

Baselines from the same run, measured in the minutes after (post), or just before and
just after (e-mail) the campaign they are paired with: ``write_batch`` alone on one
batch of the campaign's own letters (``--batch-size``, the single-batch rate; median
of 5) and the sinks' raw rate from one process (prebuilt messages; the mean of the
two). Where the post path's time goes is shown by timing one batch's steps in the
bench process: reading its recipients, making the letters, rendering, encrypting and
signing, and the upload to the outbox.

Targets (issue 21): post end to end >= 0.5x write_batch alone; e-mail end to end
>= 0.7x the sink's raw rate. The section of bench/RESULTS.md is replaced
(bench/_results.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import _results
import campaigns as cb
from _database import SERVER, drop_database
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select, text

from dispatch import batchformat as bf
from dispatch.campaigns.content import content_for
from dispatch.campaigns.delivery import letter_for, recipient_columns
from dispatch.campaigns.models import Campaign
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from dispatch.register.models import Member, Store
from dispatch.rendering import write_batch
from dispatch.transports.outbox_s3 import S3Outbox
from segments import prepare

AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Scaled:
    """One campaign of the scale run with what bench/campaigns.py does not measure."""

    run: cb.Run
    processes: int
    worker_start_s: float = 0.0
    db_growth_b: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    baseline_cpu: float = 0.0  # the baseline's rate per CPU-second
    sink_rates: tuple[float, float] | None = None  # e-mail: the sinks' before and after

    @property
    def cpu_rate(self) -> float:
        """Recipients per CPU-second of the workers, their PostgreSQL backends and the
        sinks or S3 server: the campaign's rate with the machine's other load left out."""
        r = self.run
        cpu = sum(w["cpu_s"] for w in r.workers) + r.pg_cpu_s + r.relay_cpu_s
        return r.delivered / cpu if cpu else 0.0


class Moto:
    """moto's S3 server in its own process (not this one's GIL), with a fresh bucket."""

    def __init__(self, folder: Path) -> None:
        self.port = cb.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "moto_server"),
                "-H",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            stdout=(folder / "moto.log").open("ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, **AWS},
        )
        import boto3

        client = boto3.client("s3", endpoint_url=self.url, **_aws_kwargs())
        deadline = time.monotonic() + 60
        while True:
            try:
                client.list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise SystemExit(
                        f"moto server did not start: see {folder / 'moto.log'}"
                    ) from None
                time.sleep(0.2)
        self.bucket = f"outbox-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=self.bucket)

    def cpu(self) -> float:
        tick = os.sysconf("SC_CLK_TCK")
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / tick

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _aws_kwargs() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS["AWS_DEFAULT_REGION"],
    }


STATS = ("xact_commit", "xact_rollback", "tup_fetched", "tup_inserted", "tup_updated")


def db_state(engine: Engine) -> tuple[int, dict[str, int]]:
    """The database's size in bytes and its cumulative transaction and row counters."""
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_force_next_flush()"))
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        row = conn.execute(
            text(
                f"SELECT {', '.join(STATS)} FROM pg_stat_database"
                " WHERE datname = current_database()"
            )
        ).one()
    return int(size), dict(zip(STATS, (int(v) for v in row), strict=True))


def measured(
    engine: Engine, workers: cb.Workers, run: cb.Run, segment: Path, version_id: int, tmp: Path
) -> tuple[Campaign, Scaled]:
    size0, stats0 = db_state(engine)
    campaign = cb.run_campaign(engine, workers, run, segment, version_id, tmp)
    time.sleep(1)  # PostgreSQL's statistics reach pg_stat_database within a second
    size1, stats1 = db_state(engine)
    scaled = Scaled(run, workers.processes, workers.start_s, size1 - size0)
    scaled.stats = {k: stats1[k] - stats0[k] for k in STATS}
    scaled.stats["xact_commit"] -= run.polls  # the bench's own status polls
    return campaign, scaled


def post_steps(
    engine: Engine, campaign_id: int, letters: int, outbox: S3Outbox
) -> dict[str, float]:
    """One batch of the campaign's own letters, step by step, in this process (seconds,
    medians of 5): what a worker does for a post batch, without the claims."""
    times: dict[str, list[float]] = {
        k: [] for k in ("recipients query", "letters", "write_batch", "encrypt and sign", "upload")
    }
    key = Ed25519PrivateKey.generate()
    _identity, recipient = bf.generate_identity()
    for i in range(5):
        t0 = time.perf_counter()
        with session_scope(engine) as session:
            campaign = session.get_one(Campaign, campaign_id)
            version = session.get_one(CreativeVersion, campaign.creative_version_id)
            content = content_for(campaign_id, version, cb.SECRET)
            rows = session.execute(
                select(Member.id.label("member_id"), *recipient_columns())
                .outerjoin(Store, Store.id == Member.home_store_id)
                .where(Member.street != "", Member.postcode != "")
                .order_by(Member.postcode, Member.id)
                .offset(i * letters)
                .limit(letters)
            ).all()
        t1 = time.perf_counter()
        batch = [letter_for(content, row) for row in rows]
        variants = content.variants({letter.key for letter in batch})
        t2 = time.perf_counter()
        out = io.BytesIO()
        write_batch(variants, batch, out)
        t3 = time.perf_counter()
        batch_id = f"bench-{uuid.uuid4().hex[:12]}"
        sealed = bf.seal_batch(
            out.getvalue(),
            recipient=recipient,
            signing_key=key,
            batch_id=batch_id,
            campaign_ref="bench",
            letter_count=len(batch),
            pages_per_letter=1,
            envelope="C5",
            postal_class="economy",
            created_at=dt.datetime.now(dt.UTC),
            retention=dt.timedelta(days=30),
        )
        t4 = time.perf_counter()
        outbox.put_batch(batch_id, sealed.encrypted_pdf, sealed.manifest, sealed.signature)
        t5 = time.perf_counter()
        for name, took in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            times[name].append(took)
    return {k: statistics.median(v) for k, v in times.items()}


def render_baseline(engine: Engine, campaign_id: int, letters: int) -> tuple[float, float]:
    """write_batch alone on one batch of the campaign's letters: (letters/s of wall
    time, letters/s of this process's CPU time)."""
    content, batch = cb.campaign_letters(engine, campaign_id, letters)
    variants = content.variants({letter.key for letter in batch})
    write_batch(variants, batch[:200], io.BytesIO())  # warm up
    wall, cpu = time.perf_counter(), time.process_time()
    write_batch(variants, batch, io.BytesIO())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(batch) / wall, len(batch) / max(cpu, 1e-9)


def forget_earlier_campaigns(engine: Engine, partner: str) -> int:
    """Empty what the earlier runs' campaigns of ``partner`` left in the campaign tables,
    vacuum them, and say how many recipients went.

    The bench database is kept between runs, and this machine's PostgreSQL runs with
    autovacuum off: every run's rows, and the row versions its updates left behind,
    stayed, and PostgreSQL's CPU per letter rose from 94 to 102-112 µs over a few runs
    (bench/HISTORY.md, 2026-12-07). Their recipients would also count for the
    frequency cap, so that after four runs in 30 days the audience would shrink. The
    campaign rows stay (as a history of the runs); bench/reports.py's campaigns are
    another partner's and are left alone.
    """
    earlier = (
        "SELECT c.id FROM campaigns c JOIN partners p ON p.id = c.partner_id"
        " WHERE p.name = :partner"
    )
    with engine.begin() as conn:
        conn.execute(
            text(f"DELETE FROM member_links WHERE campaign_id IN ({earlier})"),
            {"partner": partner},
        )
        removed: int = conn.execute(
            text(f"DELETE FROM campaign_recipients WHERE campaign_id IN ({earlier})"),
            {"partner": partner},
        ).rowcount
        conn.execute(
            text(f"DELETE FROM campaign_batches WHERE campaign_id IN ({earlier})"),
            {"partner": partner},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) member_links, campaign_recipients, campaign_batches"))
    return removed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=3_700_000)
    parser.add_argument("--recipients-post", type=int, default=300_000)
    parser.add_argument("--recipients-email", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, in order")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker process")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--smtp-pool", type=int, default=4, help="SMTP connections per process")
    parser.add_argument("--relays", type=int, default=2, help="SMTP sink processes")
    parser.add_argument("--baseline-messages", type=int, default=20_000)
    parser.add_argument("--only", choices=["post", "email"], default=None)
    parser.add_argument("--database", help="database name (default dispatch_bench_<members>)")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    _results.add_arguments(parser)
    args = parser.parse_args()
    try:
        counts = [int(w) for w in args.workers.split(",") if w]
    except ValueError:
        parser.error(f"--workers: expected counts like 1,2,4, not {args.workers!r}")
    if not counts or min(counts) < 1:
        parser.error("--workers: counts must be at least 1")

    name = args.database or f"dispatch_bench_{args.members}"
    clock = time.perf_counter()
    engine, _ = prepare(args.members, 1, True, name)
    forgotten = forget_earlier_campaigns(engine, cb.PARTNER)
    print(
        f"register ready in {time.perf_counter() - clock:.0f} s"
        f" ({forgotten:,} recipients of earlier runs removed)",
        file=sys.stderr,
    )
    tmp = Path(tempfile.mkdtemp(prefix="dispatch-bench-scale-"))
    os.environ.update(AWS)
    moto = Moto(tmp)
    env = cb.bench_env(f"{SERVER}/{name}", tmp, args.batch_size)
    env.update(AWS)
    env["DISPATCH_OUTBOX_URL"] = f"s3://{moto.bucket}/print"
    env["DISPATCH_S3_ENDPOINT_URL"] = moto.url
    os.environ.update(env)
    outbox = S3Outbox.from_url(env["DISPATCH_OUTBOX_URL"], endpoint_url=moto.url)
    done: list[Scaled] = []
    steps: dict[str, float] = {}
    try:
        version_id = cb.creative_version(engine)
        segments = {}
        for channel, wanted in (("post", args.recipients_post), ("email", args.recipients_email)):
            if args.only in (None, channel):
                clock = time.perf_counter()
                segments[channel] = cb.pick_segment(engine, tmp, channel, wanted)
                print(
                    f"{channel}: {segments[channel][0].name}, audience {segments[channel][1]:,} "
                    f"(picked in {time.perf_counter() - clock:.0f} s)",
                    file=sys.stderr,
                )
        for processes in counts:
            workers = cb.Workers(env, processes, args.threads)
            if "post" in segments:
                run = cb.Run(f"post, {processes} process{'es' if processes > 1 else ''}", "post")
                cpu0 = moto.cpu()
                campaign, scaled = measured(
                    engine, workers, run, segments["post"][0], version_id, tmp
                )
                run.relay_cpu_s = moto.cpu() - cpu0
                cb.check_outbox(engine, outbox, campaign, run)
                rates = [render_baseline(engine, campaign.id, args.batch_size) for _ in range(5)]
                run.baseline = statistics.median(r[0] for r in rates)
                scaled.baseline_cpu = statistics.median(r[1] for r in rates)
                if not steps:
                    steps = post_steps(engine, campaign.id, args.batch_size, outbox)
                done.append(scaled)
                print("\n".join(cb.describe(run)), file=sys.stderr)
            if "email" in segments:
                run = cb.Run(f"e-mail, {processes} process{'es' if processes > 1 else ''}", "email")
                relays = cb.Relays("fast", args.relays, tmp)

                def sink_baseline(relays: cb.Relays = relays) -> tuple[float, float]:
                    """The sinks' raw rate, and the CPU it took: the client's (with
                    building the messages, an upper bound) and the sinks'."""
                    cpu0, own0 = relays.cpu(), time.process_time()
                    rate = cb.smtp_baseline(relays.port, args.baseline_messages, 8)
                    return rate, relays.cpu() - cpu0 + time.process_time() - own0

                try:
                    before = sink_baseline()
                    env["DISPATCH_MAILER_URL"] = (
                        f"smtp://127.0.0.1:{relays.port}?starttls=off&pool={args.smtp_pool}"
                    )
                    os.environ["DISPATCH_MAILER_URL"] = env["DISPATCH_MAILER_URL"]
                    cpu0 = relays.cpu()
                    campaign, scaled = measured(
                        engine, workers, run, segments["email"][0], version_id, tmp
                    )
                    run.relay_cpu_s = relays.cpu() - cpu0
                    # Just before and just after the campaign, and their mean: one
                    # alone moved the ratio by 0.3 from run to run on a busy machine.
                    after = sink_baseline()
                    run.baseline = (before[0] + after[0]) / 2
                    scaled.sink_rates = (before[0], after[0])
                    scaled.baseline_cpu = (
                        2 * args.baseline_messages / max(before[1] + after[1], 1e-9)
                    )
                finally:
                    got = relays.stop()
                cb.check_mail(engine, campaign, run, got)
                done.append(scaled)
                print("\n".join(cb.describe(run)), file=sys.stderr)
    finally:
        moto.stop()
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
        if args.drop:
            drop_database(name)
    report(args, done, steps)


def report(args: argparse.Namespace, done: list[Scaled], steps: dict[str, float]) -> None:
    lines = [
        "## A campaign at the register's real size",
        "",
        _results.stamp("scale.py"),
        "",
        f"Register: {args.members:,} members in PostgreSQL on 127.0.0.1. Workers: `dispatch "
        f"worker --processes N --threads {args.threads}`, started fresh for each campaign, "
        f"Redis broker, DISPATCH_BATCH_SIZE={args.batch_size}; post to the S3 outbox (moto "
        f"server on loopback, its own process), e-mail to {args.relays} minimal SMTP sink "
        f"processes on loopback, SMTP pool {args.smtp_pool} per worker process.",
        "",
        "| campaign | snapshot | snapshot time | batches | delivered | start → completed "
        "| end to end | after snapshot | baseline (same run) | end to end / baseline "
        "| worker peak RSS | worker start | CPU: workers; their PostgreSQL backends; sink/S3 "
        "| per CPU-second: campaign, baseline, ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|",
    ]
    for s in done:
        r = s.run
        unit = "letters/s" if r.channel == "post" else "e-mails/s"
        cpu = sum(w["cpu_s"] for w in r.workers)
        lines.append(
            f"| {r.label} | {r.recipients:,} | {r.snapshot_s:.1f} s | {r.batches} | "
            f"{r.delivered:,} | {r.total_s:.1f} s | **{r.rate:,.0f} {unit}** | "
            f"{r.dispatch_rate:,.0f}/s | {r.baseline:,.0f}/s"
            + (f" ({s.sink_rates[0]:,.0f}, {s.sink_rates[1]:,.0f})" if s.sink_rates else "")
            + f" | **{r.ratio:.2f}×** | "
            + ", ".join(f"{w['hwm_mib']:.0f}" for w in r.workers)
            + f" MiB | {s.worker_start_s:.1f} s | {cpu:.0f} s "
            f"({cpu / max(r.delivered, 1) * 1e6:.0f} µs/recipient); {r.pg_cpu_s:.0f} s "
            f"({r.pg_cpu_s / max(r.delivered, 1) * 1e6:.0f} µs); {r.relay_cpu_s:.0f} s | "
            f"{s.cpu_rate:,.0f}/s, {s.baseline_cpu:,.0f}/s, "
            f"{s.cpu_rate / s.baseline_cpu if s.baseline_cpu else 0:.2f}× |"
        )
    lines += [
        "",
        "Database per campaign (growth of `pg_database_size`, and `pg_stat_database` "
        "counters across the campaign, per recipient and per batch; the bench's own status polls are subtracted, the workers' and their broker-side queries are not separable from a few of the bench's own):",
        "",
        "| campaign | growth | per recipient | transactions per batch | rows fetched per "
        "recipient | rows inserted per recipient | rows updated per recipient |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in done:
        r, st = s.run, s.stats
        n = max(r.recipients, 1)
        lines.append(
            f"| {r.label} | {s.db_growth_b / 2**20:,.1f} MiB | {s.db_growth_b / n:,.0f} B | "
            f"{(st['xact_commit'] + st['xact_rollback']) / max(r.batches, 1):,.0f} | "
            f"{st['tup_fetched'] / n:,.1f} | {st['tup_inserted'] / n:,.2f} | "
            f"{st['tup_updated'] / n:,.2f} |"
        )
    posts = [s.run for s in done if s.run.channel == "post"]
    mails = [s.run for s in done if s.run.channel == "email"]
    lines.append("")
    if posts:
        best = max(posts, key=lambda r: r.ratio)
        lines.append(
            f"Post end to end / `write_batch` alone (one batch of {args.batch_size:,} of the "
            f"campaign's letters, one thread, median of 5): best {best.ratio:.2f}× "
            f"({best.label}); target >= 0.5×: {'met' if best.ratio >= 0.5 else 'NOT met'}."
        )
    if mails:
        best = max(mails, key=lambda r: r.ratio)
        lines.append(
            f"E-mail end to end / the sinks' raw rate ({args.baseline_messages:,} prebuilt "
            f"messages, 8 connections, one process; the mean of the rates measured just before "
            f"and just after the campaign, in brackets): best {best.ratio:.2f}× ({best.label}); "
            f"target >= 0.7×: {'met' if best.ratio >= 0.7 else 'NOT met'}."
        )
    lines += [
        "",
        "The machine is shared (see the load): the workers get a fraction of the two CPUs, "
        "and started under `nice` they get less. The last column is therefore the "
        "load-independent one: recipients per CPU-second of everything the campaign runs "
        "(workers, their PostgreSQL backends, the sinks or the S3 server) against the "
        "baseline's own (post: the bench process's CPU for `write_batch`; e-mail: the "
        "client's and the sinks' CPU, building the messages included).",
    ]
    if steps:
        total = sum(steps.values())
        lines += [
            "",
            f"Where a post batch's time goes, one batch of {args.batch_size:,} letters step by "
            "step in the bench process (median of 5; a worker also claims, re-checks and "
            "records each recipient, which is in the database rows above):",
            "",
            "| step | time | share |",
            "|---|---:|---:|",
            *(f"| {k} | {v * 1000:,.0f} ms | {v / total:.0%} |" for k, v in steps.items()),
            f"| total | {total * 1000:,.0f} ms | {args.batch_size / total:,.0f} letters/s |",
        ]
    lines += ["", "Checks:", ""]
    lines += [f"- {s.run.label}: " + "; ".join(s.run.checks) for s in done]
    _results.publish(args, "scale.py", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
