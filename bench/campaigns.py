"""End-to-end dispatch throughput: campaign start to completed, with real workers.

    .venv/bin/python bench/campaigns.py --recipients-post 200000 --recipients-email 100000 [--keep]

Builds (or, with ``--keep``, reuses) a register in the PostgreSQL database
``dispatch_bench_dispatch_<members>``, then runs, each with freshly started workers
(``dispatch worker --processes 2 --threads 2`` as a subprocess, Redis db 5 as the
broker, flushed first):

- a small post campaign (``--recipients-post-small``, for the memory comparison),
- a post campaign of at least ``--recipients-post`` letters to a local outbox,
- an e-mail campaign of at least ``--recipients-email`` messages to SMTP relays on
  loopback that accept and record every recipient, once per ``--sinks`` entry:
  ``fast`` (a minimal asyncio SMTP server here, nearly free, like a relay on another
  host) and ``aiosmtpd`` (whose Python per-message work competes for the same cores).

Each campaign is timed from the moment it is scheduled (its snapshot message sent)
to ``completed_at``; the snapshot's share is reported separately. The peak RSS
(VmHWM) of each worker process is read before the workers are stopped. Afterwards
it checks that the delivered count is the snapshot minus the suppressed and failed,
that every batch with letters is complete in the outbox with a manifest of the
right letter count, and that the relays got each delivered recipient's address
exactly once. Baselines measured in the same run, so that the noise of a shared
machine shows: ``write_batch`` alone on one thread with the campaign's own variants,
and the relays' raw throughput from one process (``SmtpPool.send_many``, prebuilt
messages).

Each campaign runs ``--repeat`` times, each run paired with its baseline measured in
the same minutes; the section gives every run, and per kind the median (min-max) and
the median ratio of the paired runs. PostgreSQL CPU is that of the workers' own
backends (they connect with ``application_name=dispatch-bench-worker``), as a delta
across the campaign, so the bench's seeding, polling and VACUUM do not count.

Segments are bench-only files (own marketing, all members from some age up) written
to a temp folder; the age is chosen so that the policy-filtered audience reaches the
asked size. Own marketing is the cooperative's alone, so the bench partner is the
house. Campaigns keep the default holdout; held-out members are counted as such.
The bench replaces its section of bench/RESULTS.md (see bench/_results.py).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import io
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import _results
from _database import SERVER, drop_database, open_database
from _results import spread
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine, select, text

from dispatch import batchformat as bf
from dispatch.campaigns import services as cs
from dispatch.campaigns.content import CampaignContent, content_for
from dispatch.campaigns.delivery import letter_for, recipient_columns
from dispatch.campaigns.delivery.steps import STEP
from dispatch.campaigns.models import Campaign
from dispatch.creatives import services as cr
from dispatch.creatives.models import Creative, CreativeVersion, Partner
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.register.models import Member, Store
from dispatch.register.seed import SeedOptions, seed_register
from dispatch.rendering import EmailBuilder, Letter, write_batch
from dispatch.segmenting import services as segments
from dispatch.transports.mailer_smtp import SmtpPool
from dispatch.transports.outbox import LocalOutbox, Outbox

ROOT = Path(__file__).resolve().parent.parent
REDIS = os.environ.get("DISPATCH_BENCH_REDIS", "redis://127.0.0.1:6379/5")
SECRET = "bench-secret-key-0123456789"
SEED_AS_OF = dt.date(2026, 11, 15)
CREATIVE = ROOT / "templates" / "creatives" / "nordic-air-spring"
PARTNER = "Nordic Air"
BASELINE_DOMAIN = "baseline.invalid"


# -- the SMTP relays ----------------------------------------------------------------


class Recorder:
    """Accepts every message and records its recipients."""

    def __init__(self) -> None:
        self.rcpts: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.rcpts.extend(envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued"


class FastSink(asyncio.Protocol):
    """A minimal SMTP server (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that accepts
    everything and records the recipients: what a real relay on another host costs
    this machine, i.e. nearly nothing, unlike aiosmtpd's per-message Python work."""

    def __init__(self, rcpts: list[str]) -> None:
        self.rcpts = rcpts
        self.pending: list[str] = []
        self.buf = bytearray()
        self.in_data = False
        self.scan = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(b"220 bench-sink ESMTP\r\n")  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        buf = self.buf
        buf += data
        out: list[bytes] = []
        while True:
            if self.in_data:
                if buf.startswith(b".\r\n"):
                    end, skip = 0, 3
                else:
                    end = buf.find(b"\r\n.\r\n", max(0, self.scan - 4))
                    skip = 5
                if end < 0:
                    self.scan = len(buf)
                    break
                del buf[: end + skip]
                self.in_data, self.scan = False, 0
                self.rcpts.extend(self.pending)
                self.pending = []
                out.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            end = buf.find(b"\r\n")
            if end < 0:
                break
            line = bytes(buf[:end])
            del buf[: end + 2]
            verb = line[:4].upper()
            if verb == b"EHLO":
                out.append(b"250-bench-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"MAIL" or verb == b"RSET":
                self.pending = []
                out.append(b"250 2.1.0 Ok\r\n")
            elif verb == b"RCPT":
                start, stop = line.find(b"<"), line.rfind(b">")
                self.pending.append(line[start + 1 : stop].decode("utf-8", "replace"))
                out.append(b"250 2.1.5 Ok\r\n")
            elif verb == b"DATA":
                self.in_data, self.scan = True, 0
                out.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                out.append(b"221 Bye\r\n")
                self.transport.write(b"".join(out))
                self.transport.close()
                return
            else:  # HELO, NOOP and anything else
                out.append(b"250 Ok\r\n")
        if out:
            self.transport.write(b"".join(out))


def relay(kind: str, port: int, ready: Event, stop: Event, out: str) -> None:
    async def serve() -> None:
        handler = Recorder()
        loop = asyncio.get_running_loop()
        factory: Any = (
            (lambda: FastSink(handler.rcpts))
            if kind == "fast"
            else (lambda: SMTP(handler, hostname="bench-relay"))
        )
        server = await loop.create_server(factory, "127.0.0.1", port, reuse_port=True)
        ready.set()
        async with server:
            while not stop.is_set():
                await asyncio.sleep(0.2)
        Path(out).write_text("\n".join(handler.rcpts), encoding="utf-8")

    asyncio.run(serve())


class Relays:
    def __init__(self, kind: str, count: int, folder: Path) -> None:
        self.kind = kind
        self.port = free_port()
        self.folder = folder
        ctx = mp.get_context("spawn")
        self.stop_event = ctx.Event()
        self.procs = []
        for i in range(count):
            ready = ctx.Event()
            proc = ctx.Process(
                target=relay,
                args=(kind, self.port, ready, self.stop_event, str(folder / f"{kind}-{i}.txt")),
                daemon=True,
            )
            proc.start()
            if not ready.wait(30):
                raise SystemExit("relay did not start")
            self.procs.append(proc)

    def cpu(self) -> float:
        """CPU seconds the relay processes have used so far."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for proc in self.procs:
            stat = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(stat[11]) + int(stat[12])) / tick
        return total

    def stop(self) -> collections.Counter[str]:
        self.stop_event.set()
        got: collections.Counter[str] = collections.Counter()
        for i, proc in enumerate(self.procs):
            proc.join(30)
            path = self.folder / f"{self.kind}-{i}.txt"
            if path.exists():
                got.update(line for line in path.read_text(encoding="utf-8").split("\n") if line)
        return got


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- the register -------------------------------------------------------------------


def prepare(members: int, keep: bool, name: str | None = None) -> tuple[Engine, str, bool]:
    name = name or f"dispatch_bench_dispatch_{members}"
    engine, have = open_database(name, keep=keep)
    reused = have == members
    if not reused:
        print(f"seeding {members:,} members into {name} ...", file=sys.stderr)
        started = time.perf_counter()
        seed_register(
            engine,
            SeedOptions(members=members, seed=1, as_of=SEED_AS_OF),
            secret_key=SECRET,
            replace=True,
        )
        print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    else:
        print(f"reusing {name} ({members:,} members)", file=sys.stderr)
        # Earlier runs' campaigns would count towards the frequency cap and slow the
        # snapshot down: start from none.
        with engine.begin() as conn:
            conn.execute(
                text(
                    "TRUNCATE campaign_recipients, campaign_batches, campaigns,"
                    " creative_versions, creatives, partners CASCADE"
                )
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
    return engine, name, reused


def segment_file(folder: Path, channel: str, min_age: int) -> Path:
    path = folder / f"bench-{channel}-{min_age}.yaml"
    path.write_text(
        f"name: bench-{channel}-{min_age}\n"
        f"description: bench, everyone from {min_age} up\n"
        "purpose: own_marketing\n"
        f"channel: {channel}\n"
        "where:\n"
        "  all:\n"
        f"    - age: {{min: {min_age}}}\n",
        encoding="utf-8",
    )
    return path


def pick_segment(engine: Engine, folder: Path, channel: str, wanted: int) -> tuple[Path, int]:
    """The segment (oldest minimum age) whose audience is at least ``wanted``."""

    def count(age: int) -> int:
        with session_scope(engine) as session:
            seg = segments.load(segment_file(folder, channel, age))
            return segments.count(session, seg).selected

    lo, hi = 18, 100  # count(lo) is the most there is
    most = count(lo)
    if most < wanted:
        print(f"only {most:,} {channel} recipients pass the policy; using all", file=sys.stderr)
        return segment_file(folder, channel, lo), most
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count(mid) >= wanted:
            lo = mid
        else:
            hi = mid
    return segment_file(folder, channel, lo), count(lo)


# -- workers ------------------------------------------------------------------------


@dataclass
class Workers:
    env: dict[str, str]
    processes: int
    threads: int
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    base: dict[int, float] = field(default_factory=dict)
    start_s: float = 0.0  # from Popen until every process fetches from the broker

    def start(self, log: Path) -> None:
        import redis

        r = redis.Redis.from_url(REDIS)
        r.flushdb()
        self.log = log
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dispatch"),
                "worker",
                "--processes",
                str(self.processes),
                "--threads",
                str(self.threads),
            ],
            env=self.env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        # Ready when every process has registered with the broker (dramatiq's
        # heartbeat set), i.e. its imports are done and it is fetching.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if r.zcard("dramatiq:__heartbeats__") >= self.processes:
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"worker exited: see {log}")
            time.sleep(0.1)
        else:
            raise SystemExit(f"workers did not come up: see {log}")
        r.close()
        self.start_s = time.monotonic() - (deadline - 60)
        # CPU spent on imports and start-up is not the campaign's.
        self.base = {}
        self.base = {int(w["pid"]): w["cpu_s"] for w in self.usage()}

    def children(self) -> list[int]:
        assert self.proc is not None
        pid = self.proc.pid
        kids: list[int] = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            raw = (task / "children").read_text().split()
            kids.extend(int(k) for k in raw)
        return kids

    def usage(self) -> list[dict[str, float]]:
        """Peak RSS (MiB) and CPU seconds (since ready) of each worker process."""
        out = []
        tick = os.sysconf("SC_CLK_TCK")
        for pid in self.children():
            status = Path(f"/proc/{pid}/status").read_text()
            hwm = next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")
            )
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu = (int(stat[11]) + int(stat[12])) / tick
            out.append({"pid": pid, "hwm_mib": hwm / 1024, "cpu_s": cpu - self.base.get(pid, 0.0)})
        return out

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


# -- campaigns ----------------------------------------------------------------------


@dataclass
class Run:
    label: str
    channel: str
    recipients: int = 0
    delivered: int = 0
    suppressed: int = 0
    failed: int = 0
    held_out: int = 0
    batches: int = 0
    total_s: float = 0.0
    snapshot_s: float = 0.0
    workers: list[dict[str, float]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    load_before: str = ""
    load_after: str = ""
    relay_cpu_s: float = 0.0
    pg_cpu_s: float = 0.0
    polls: int = 0  # status queries of the bench while the campaign ran
    baseline: float = 0.0  # the paired baseline's rate (letters/s or messages/s)
    #: Per job step, summed over the batches: wall-clock and job-thread CPU seconds.
    steps: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.rate / self.baseline if self.baseline else 0.0

    @property
    def rate(self) -> float:
        return self.delivered / self.total_s if self.total_s else 0.0

    @property
    def dispatch_rate(self) -> float:
        span = self.total_s - self.snapshot_s
        return self.delivered / span if span > 0 else 0.0


def creative_version(engine: Engine, partner: str = PARTNER) -> int:
    """The bench partner's approved creative version (made on first use)."""
    with session_scope(engine) as session:
        found = session.scalars(
            select(CreativeVersion.id)
            .join(Creative, Creative.id == CreativeVersion.creative_id)
            .join(Partner, Partner.id == Creative.partner_id)
            .where(Partner.name == partner)
            .order_by(CreativeVersion.id.desc())
            .limit(1)
        ).first()
        if found is not None:
            return found
        # The bench's segments are own marketing (everyone from some age up), which only
        # the cooperative itself may send: the bench partner is the house.
        cr.create_partner(session, partner, house=True)
        version = cr.submit(session, partner, CREATIVE)
        cr.approve(session, version.id, "anna")
        return version.id


#: The workers connect under this application name, so that the PostgreSQL CPU of the
#: campaign is theirs alone (not the bench's own seeding, polling and VACUUM).
WORKER_APP = "dispatch-bench-worker"


def worker_database_url(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={WORKER_APP}"


def postgres_cpu(engine: Engine) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend the workers hold (by pid).

    Read on the database server's /proc, which is this machine's (PostgreSQL on
    127.0.0.1); the campaign's cost is the delta between two readings.
    """
    with engine.connect() as conn:
        pids = conn.scalars(
            text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = :app"
            ),
            {"app": WORKER_APP},
        ).all()
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(stat[11]) + int(stat[12])) / tick
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the backends used between two readings (a backend new since counts whole;
    one that closed in between is lost, which the workers' long-lived pools avoid)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_campaign(
    engine: Engine,
    workers: Workers,
    run: Run,
    segment: Path,
    version_id: int,
    logs: Path,
    partner: str = PARTNER,
) -> Campaign:
    from dispatch.jobs import tasks
    from dispatch.jobs.queue import after_commit

    with session_scope(engine) as session:
        campaign = cs.create(
            session,
            partner=partner,
            creative_version_id=version_id,
            segment_path=segment,
            channel=run.channel,
            actor="anna",
            min_partner_audience=1,
        )
        cs.approve(session, campaign, "bob", min_partner_audience=1)
        cid = campaign.id
    workers.start(logs / f"worker-{run.label}.log")
    run.load_before = loadavg()
    jobs = tasks.jobs()
    pg_before = postgres_cpu(engine)
    started = utcnow()
    with session_scope(engine) as session:
        cs.schedule(session, cs.get(session, cid))
        after_commit(session, lambda: jobs.send_snapshot(cid))
    try:
        # One connection in autocommit: each poll is exactly one transaction, which the
        # scale bench subtracts from the database's transaction count.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            while True:
                time.sleep(0.2)
                run.polls += 1
                status = conn.scalars(select(Campaign.status).where(Campaign.id == cid)).one()
                if status in ("completed", "failed", "cancelled"):
                    break
                if workers.proc is not None and workers.proc.poll() is not None:
                    raise SystemExit("the worker supervisor exited")
        run.workers = workers.usage()
        run.pg_cpu_s = cpu_delta(pg_before, postgres_cpu(engine))
    finally:
        workers.stop()
    run.load_after = loadavg()
    if workers.log is not None:
        run.steps = job_steps(workers.log, cid)
    with session_scope(engine) as session:
        campaign = session.get_one(Campaign, cid)
        session.expunge(campaign)
    if campaign.status != "completed":
        raise SystemExit(f"campaign {cid} ended {campaign.status}: {campaign.failure}")
    assert campaign.completed_at is not None and campaign.snapshot_at is not None
    run.total_s = (campaign.completed_at - started).total_seconds()
    run.snapshot_s = (campaign.snapshot_at - started).total_seconds()
    run.recipients = campaign.recipient_count
    run.batches = campaign.batch_count
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                text(
                    "SELECT status, count(*) FROM campaign_recipients"
                    " WHERE campaign_id = :c GROUP BY status"
                ),
                {"c": cid},
            ).all()
        )
    run.delivered = counts.pop("delivered", 0)
    run.suppressed = counts.pop("suppressed", 0)
    run.failed = counts.pop("failed", 0)
    run.held_out = counts.pop("held_out", 0)  # the campaign's default holdout
    if counts:
        raise SystemExit(f"recipients left without an outcome: {counts}")
    if run.delivered != run.recipients - run.suppressed - run.failed - run.held_out:
        raise SystemExit("delivered != snapshot - suppressed - failed - held out")
    run.checks.append(
        f"delivered {run.delivered:,} = snapshot {run.recipients:,} - suppressed "
        f"{run.suppressed:,} - failed {run.failed:,} - held out {run.held_out:,}"
    )
    return campaign


def job_steps(log: Path, campaign_id: int) -> dict[str, list[float]]:
    """Sum the batch jobs' step lines (dispatch/campaigns/delivery/steps.py) of one
    campaign from the workers' log: {step: [wall s, CPU s]}."""
    marker = f"campaign {campaign_id} batch "
    steps: dict[str, list[float]] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if marker not in line or " steps: " not in line:
            continue
        for name, wall, cpu in STEP.findall(line.split(" steps: ", 1)[1]):
            total = steps.setdefault(name, [0.0, 0.0])
            total[0] += int(wall) / 1000
            total[1] += int(cpu) / 1000
    return steps


def check_outbox(engine: Engine, outbox: Outbox, campaign: Campaign, run: Run) -> None:
    with engine.connect() as conn:
        batches = conn.execute(
            text("SELECT outbox_id, status, letters FROM campaign_batches WHERE campaign_id = :c"),
            {"c": campaign.id},
        ).all()
    complete = {b for b in outbox.list_complete() if b.startswith(campaign.reference)}
    with_letters = {b.outbox_id: b.letters for b in batches if b.letters}
    if any(b.status != "done" for b in batches):
        raise SystemExit("a batch is not done")
    if complete != set(with_letters):
        raise SystemExit(
            f"outbox has {len(complete)} complete batches, expected {len(with_letters)}"
        )
    letters = 0
    for batch_id, expected in with_letters.items():
        manifest = bf.Manifest.parse(outbox.get(batch_id, bf.MANIFEST))
        if manifest.letter_count != expected:
            raise SystemExit(
                f"{batch_id}: manifest says {manifest.letter_count}, expected {expected}"
            )
        letters += expected
    if letters != run.delivered:
        raise SystemExit(f"outbox letters {letters} != delivered {run.delivered}")
    run.checks.append(
        f"{len(complete)} complete outbox batches, manifests total {letters:,} letters"
    )


def check_mail(engine: Engine, campaign: Campaign, run: Run, got: collections.Counter[str]) -> None:
    with engine.connect() as conn:
        expected = collections.Counter(
            conn.scalars(
                text(
                    "SELECT m.email FROM campaign_recipients r JOIN members m ON m.id = r.member_id"
                    " WHERE r.campaign_id = :c AND r.status = 'delivered'"
                ),
                {"c": campaign.id},
            )
        )
    got = collections.Counter({k: v for k, v in got.items() if not k.endswith(BASELINE_DOMAIN)})
    if got != expected:
        missing = sum((expected - got).values())
        extra = sum((got - expected).values())
        raise SystemExit(f"relays got the wrong recipients: {missing} missing, {extra} extra")
    run.checks.append(
        f"relays got {sum(got.values()):,} messages, one per delivered recipient "
        f"({len(got):,} distinct addresses)"
    )


# -- baselines ----------------------------------------------------------------------


def campaign_letters(
    engine: Engine, campaign_id: int, letters: int, offset: int = 0
) -> tuple[CampaignContent, list[Letter]]:
    """The campaign's content and ``letters`` of its letters from the register, in
    presort order from ``offset``, built as a batch job builds them."""
    with session_scope(engine) as session:
        campaign = session.get_one(Campaign, campaign_id)
        version = session.get_one(CreativeVersion, campaign.creative_version_id)
        content = content_for(campaign_id, version, SECRET)
        rows = session.execute(
            select(Member.id.label("member_id"), *recipient_columns())
            .outerjoin(Store, Store.id == Member.home_store_id)
            .where(Member.street != "", Member.postcode != "")
            .order_by(Member.postcode, Member.id)
            .offset(offset)
            .limit(letters)
        ).all()
    return content, [letter_for(content, row) for row in rows]


def render_baseline(engine: Engine, campaign_id: int, letters: int) -> float:
    """write_batch alone, one thread, the campaign's own variants: letters/s."""
    content, batch = campaign_letters(engine, campaign_id, letters)
    variants = content.variants({letter.key for letter in batch})
    write_batch(variants, batch[:200], io.BytesIO())  # warm up
    started = time.perf_counter()
    write_batch(variants, batch, io.BytesIO())
    return len(batch) / (time.perf_counter() - started)


def smtp_baseline(port: int, messages: int, connections: int) -> float:
    """The relays' raw throughput from one client process, prebuilt messages."""
    builder = EmailBuilder(
        campaign_id=1,
        language="fi",
        subject="Kevään lentotarjous",
        assets={},
        secret=SECRET,
        date=dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC),
    )
    body = "<p>Asiakasomistajana saat Nordic Airin kevätlennoista 15 % alennuksen.</p>" * 6
    items = [
        (
            "kampanjat@osuuskauppa.example",
            f"m{i}@{BASELINE_DOMAIN}",
            builder.build(
                member_id=i,
                to_address=f"m{i}@{BASELINE_DOMAIN}",
                to_name=f"Jäsen {i}",
                html_body=body,
                text_body="Kevät kutsuu.",
            ),
        )
        for i in range(messages)
    ]
    pool = SmtpPool.from_url(f"smtp://127.0.0.1:{port}?starttls=off", pool_size=connections)
    pool.send_many(items[:200])
    started = time.perf_counter()
    results = pool.send_many(items)
    elapsed = time.perf_counter() - started
    pool.close()
    if any(r.status != "sent" for r in results):
        raise SystemExit("baseline: a message was not accepted")
    return messages / elapsed


# -- report -------------------------------------------------------------------------


def describe(run: Run) -> list[str]:
    peak = ", ".join(f"{w['hwm_mib']:.0f}" for w in run.workers)
    cpu = sum(w["cpu_s"] for w in run.workers)
    unit = "letters" if run.channel == "post" else "e-mails"
    relay = f"; relays {run.relay_cpu_s:.1f} s" if run.relay_cpu_s else ""
    relay += f"; PostgreSQL {run.pg_cpu_s:.1f} s ({run.pg_cpu_s / max(run.delivered, 1) * 1e6:.0f} µs/recipient)"
    base = f"{run.baseline:,.0f}/s, **{run.ratio:.2f}×**" if run.baseline else ""
    return [
        f"| {run.label} | {run.recipients:,} | {run.batches} | {run.delivered:,} | "
        f"{run.total_s:.1f} s | {run.snapshot_s:.1f} s | **{run.rate:,.0f} {unit}/s** | "
        f"{run.dispatch_rate:,.0f}/s | {base} | {peak} MiB | {cpu:.1f} s "
        f"({run.delivered / cpu if cpu else 0:,.0f}/CPU-s){relay} | {run.load_before} → {run.load_after} |"
    ]


TABLE_HEAD = [
    "| campaign | snapshot | batches | delivered | start → completed | of it snapshot "
    "| end to end | after snapshot | paired baseline, end to end / baseline | worker peak RSS "
    "| CPU: workers (per CPU-s); relays; PostgreSQL, workers' backends only | load before → after |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|",
]


def summary(runs: list[Run]) -> list[str]:
    """Per campaign kind: median (min-max) of the rates and of the paired ratios."""
    lines = []
    for label in dict.fromkeys(r.label for r in runs):
        same = [r for r in runs if r.label == label]
        unit = "letters/s" if same[0].channel == "post" else "e-mails/s"
        line = f"- {label}: end to end {spread([r.rate for r in same])} {unit}"
        ratios = [r.ratio for r in same if r.baseline]
        if ratios:
            line += (
                f"; baseline {spread([r.baseline for r in same if r.baseline])}/s; "
                f"median ratio of paired runs **{statistics.median(ratios):.2f}×** "
                f"({min(ratios):.2f}-{max(ratios):.2f})"
            )
        pg = [r.pg_cpu_s / max(r.delivered, 1) * 1e6 for r in same]
        line += f"; PostgreSQL (workers' backends) {spread(pg)} µs/recipient"
        lines.append(line)
    return lines


def where_the_time_goes(runs: list[Run]) -> list[str]:
    """Per campaign kind, the medians over its runs of each batch-job step (summed over
    the campaign's batches) and of the rest of the end-to-end time."""
    lines = [
        "Where the time goes: each batch job logs wall-clock and its own thread's CPU per "
        "step (dispatch/campaigns/delivery/steps.py); per campaign the steps are summed "
        "over its batches (jobs run 4 at a time, so the sums exceed the elapsed time), "
        "medians over the runs. A step's wall-clock beyond its CPU is waiting: for "
        "PostgreSQL, the mailer, or the other threads of its process (one GIL per "
        "process). The e-mail sends run on the SMTP pool's threads, whose CPU the "
        "`wait_for_mailer` step does not include. Not in any step: the snapshot (its own "
        "column above), the queue between jobs, and PostgreSQL's own CPU (the column "
        "above; per-statement shares are in bench/HISTORY.md).",
        "",
        "| campaign | step | wall (sum) | CPU (sum) | CPU per recipient |",
        "|---|---|---:|---:|---:|",
    ]
    for label in dict.fromkeys(r.label for r in runs):
        same = [r for r in runs if r.label == label and r.steps]
        if not same:
            continue
        delivered = statistics.median(r.delivered for r in same) or 1
        for name in dict.fromkeys(n for r in same for n in r.steps):
            wall = statistics.median(r.steps.get(name, [0.0, 0.0])[0] for r in same)
            cpu = statistics.median(r.steps.get(name, [0.0, 0.0])[1] for r in same)
            lines.append(
                f"| {label} | {name} | {wall:.2f} s | {cpu:.2f} s | {cpu / delivered * 1e6:.0f} µs |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=400_000)
    parser.add_argument("--recipients-post", type=int, default=200_000)
    parser.add_argument("--recipients-post-small", type=int, default=50_000)
    parser.add_argument("--recipients-email", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--smtp-pool", type=int, default=4, help="SMTP connections per worker process"
    )
    parser.add_argument("--relays", type=int, default=2, help="SMTP relay processes")
    parser.add_argument(
        "--sinks",
        default="fast,aiosmtpd",
        help="SMTP servers to run the e-mail campaign against, in order: fast (a minimal "
        "asyncio SMTP sink) and/or aiosmtpd",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each campaign, each paired with its baseline right after (or before)",
    )
    parser.add_argument(
        "--baseline-messages", type=int, default=20_000, help="messages of the raw SMTP baseline"
    )
    parser.add_argument("--only", choices=["post", "email"], default=None)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the bench database")
    parser.add_argument(
        "--database", help="database name (default dispatch_bench_dispatch_<members>)"
    )
    _results.add_arguments(parser)
    args = parser.parse_args()
    sinks = [k for k in args.sinks.split(",") if k]
    if any(k not in ("fast", "aiosmtpd") for k in sinks):
        parser.error("--sinks takes fast and/or aiosmtpd")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    load_start = _results.load()
    engine, db_name, _ = prepare(args.members, args.keep, args.database)
    tmp = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    env = bench_env(f"{SERVER}/{db_name}", tmp, args.batch_size)
    env["DISPATCH_OUTBOX_URL"] = f"file://{tmp / 'outbox'}"
    os.environ.update(env)
    runs: list[Run] = []
    try:
        version_id = creative_version(engine)
        workers = Workers(env, args.processes, args.threads)
        outbox = LocalOutbox(tmp / "outbox")
        if args.only in (None, "post"):
            sizes = [("post-small", args.recipients_post_small), ("post", args.recipients_post)]
            for label, wanted in sizes:
                segment, audience = pick_segment(engine, tmp, "post", wanted)
                print(f"{label}: {segment.name}, audience {audience:,}", file=sys.stderr)
                for _ in range(args.repeat):
                    run = Run(label, "post")
                    campaign = run_campaign(engine, workers, run, segment, version_id, tmp)
                    check_outbox(engine, outbox, campaign, run)
                    run.baseline = render_baseline(engine, campaign.id, min(20_000, audience))
                    runs.append(run)
                    print("\n".join(describe(run)), file=sys.stderr)
        if args.only in (None, "email"):
            segment, audience = pick_segment(engine, tmp, "email", args.recipients_email)
            print(f"email: {segment.name}, audience {audience:,}", file=sys.stderr)
            for kind in sinks:
                for _ in range(args.repeat):
                    run = Run(f"email ({kind})", "email")
                    run_email(engine, workers, run, segment, version_id, tmp, kind, args)
                    runs.append(run)
                    print("\n".join(describe(run)), file=sys.stderr)
    finally:
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)  # the outbox: hundreds of MB
        if not args.keep:
            drop_database(db_name)
    report(args, runs, load_start)


def bench_env(database_url: str, tmp: Path, batch_size: int) -> dict[str, str]:
    """The workers' (and this process's) settings; the outbox and mailer come later."""
    _identity, recipient = bf.generate_identity()
    return {
        **os.environ,
        "DISPATCH_DATABASE_URL": worker_database_url(database_url),
        "DISPATCH_BROKER_URL": REDIS,
        "DISPATCH_VAR_DIR": str(tmp / "var"),
        "DISPATCH_SECRET_KEY": SECRET,
        "DISPATCH_PRINTHOUSE_RECIPIENT": recipient,
        "DISPATCH_BATCH_SIZE": str(batch_size),
        "DISPATCH_FREQUENCY_CAP": "1000",
    }


def run_email(
    engine: Engine,
    workers: Workers,
    run: Run,
    segment: Path,
    version_id: int,
    tmp: Path,
    kind: str,
    args: argparse.Namespace,
) -> Campaign:
    """One e-mail campaign to fresh relays, paired with the relays' raw rate just before."""
    relays = Relays(kind, args.relays, tmp)
    try:
        run.baseline = smtp_baseline(relays.port, args.baseline_messages, 8)
        workers.env["DISPATCH_MAILER_URL"] = (
            f"smtp://127.0.0.1:{relays.port}?starttls=off&pool={args.smtp_pool}"
        )
        os.environ["DISPATCH_MAILER_URL"] = workers.env["DISPATCH_MAILER_URL"]
        cpu0 = relays.cpu()
        campaign = run_campaign(engine, workers, run, segment, version_id, tmp)
        run.relay_cpu_s = relays.cpu() - cpu0
    finally:
        got = relays.stop()
    check_mail(engine, campaign, run, got)
    return campaign


def report(args: argparse.Namespace, runs: list[Run], load_start: str) -> None:
    lines = [
        "## Dispatch",
        "",
        _results.stamp("campaigns.py", load_start),
        "",
        f"Register: {args.members:,} members. Workers: `dispatch worker --processes "
        f"{args.processes} --threads {args.threads}`, Redis broker, PostgreSQL on 127.0.0.1, "
        f"DISPATCH_BATCH_SIZE={args.batch_size}, local outbox, {args.relays} SMTP relay "
        f"processes per sink, SMTP pool {args.smtp_pool} per worker process; each campaign "
        f"{args.repeat}× with freshly started workers.",
        "",
        "Baselines, each measured in the same minutes as the campaign it is paired with: "
        "post, `write_batch` alone on one thread in the bench process with the campaign's own "
        "variants (up to 20,000 letters, after the campaign); e-mail, the same relays' raw "
        f"throughput from one process (8 connections, {args.baseline_messages:,} prebuilt "
        "messages, before the campaign). PostgreSQL CPU counts only the backends of the "
        "workers' connections (application_name), as a delta across the campaign.",
        "",
        *TABLE_HEAD,
    ]
    for run in runs:
        lines += describe(run)
    lines += ["", "Medians (min-max) over the runs:", "", *summary(runs)]
    lines += ["", *where_the_time_goes(runs)]
    lines += ["", "Checks:", ""]
    for run in runs:
        lines += [f"- {run.label}: " + "; ".join(run.checks)]
    _results.publish(args, "campaigns.py", "\n".join(lines) + "\n")
    print(json.dumps([run.__dict__ for run in runs], default=str), file=sys.stderr)


if __name__ == "__main__":
    main()
