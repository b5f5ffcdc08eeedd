"""Web service throughput: the partner dashboard and an API list beside a minimal endpoint.

    .venv/bin/python bench/serve.py [--campaigns 1000] [--clients 20] [--seconds 10]

Makes a throw-away PostgreSQL database (``DISPATCH_TEST_PG_SERVER``, default
``postgresql+psycopg://postgres@127.0.0.1:5432``; dropped at the end unless ``--keep``)
with one partner that has ``--campaigns`` campaigns (and another partner with as many,
so that the tenancy filter has something to filter), a partner editor signed in (a
session cookie) and a read token of theirs. Then it starts ``dispatch serve`` as a
separate process on loopback and drives it from this process with ``--clients``
concurrent httpx2.AsyncClient connections (``--load-processes`` of them, each with its
share of the clients), against:

- ``GET /healthz``: the framework's floor (routing, middleware, access log, JSON);
- ``GET /partner``: the partner dashboard, as the signed-in editor;
- ``GET /api/v1/campaigns?per_page=25``: the first page of the campaign list, with the
  bearer token.

Each endpoint is run ``--rounds`` times, interleaved, for ``--seconds`` each after a
warm-up; requests/s and latency percentiles are over all rounds. The load generator
shares the machine with the server (2 cores here): each request carries its credential as
a fixed header, so the client's cost differs between endpoints only by the size of the
answer it reads, and the ratio dashboard / healthz is the figure to compare (target >= 0.3).

By default the server runs one worker process per CPU, as docs/service.md advises for
production, and the load generator as many processes. With one of each, the dashboard
is held to the one core that a single Python process can use (the server's interpreter
lock), while ``/healthz``, nearly all of whose cost is the client's and uvicorn's, uses
both: the ratio then says more about the lock than about the dashboard's cost.
Appends a section to bench/RESULTS.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _database
import _results
import httpx2
from sqlalchemy import Engine, insert, text, update

from dispatch.accounts import services as accounts
from dispatch.accounts.roles import Role
from dispatch.campaigns.models import Campaign, CampaignStatus
from dispatch.campaigns.snapshot import segment_hash
from dispatch.creatives import services as creatives
from dispatch.creatives.bundle import load_bundle
from dispatch.creatives.models import CreativeStatus, CreativeVersion, Partner
from dispatch.db.engine import session_scope
from dispatch.db.ids import new_public_id
from dispatch.db.types import utcnow
from dispatch.web import csrf
from dispatch.web.access import SESSION_COOKIE

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key-0123456789"
CSRF_COOKIE = secrets.token_urlsafe(24)
#: The server's broker, as in production: with none, ``dispatch serve`` runs an
#: in-process worker, which would snapshot the seeded scheduled and dispatching
#: campaigns (and fail them) while the load runs. Nothing consumes from it here.
REDIS = os.environ.get("DISPATCH_BENCH_REDIS", "redis://127.0.0.1:6379/5")
CREATIVE = ROOT / "templates" / "creatives" / "nordic-air-spring"
SEGMENT = ROOT / "segments" / "nordic-air-travellers.yaml"
PARTNER, OTHER = "Nordic Air", "Fuel Co"
EDITOR = "nordic.editor"
#: A realistic mix: most of a partner's campaigns are finished.
STATUSES = [CampaignStatus.COMPLETED] * 7 + [
    CampaignStatus.DISPATCHING,
    CampaignStatus.SCHEDULED,
    CampaignStatus.DRAFT,
]


@dataclass
class Target:
    key: str
    name: str
    path: str
    auth: str  # "none", "cookie" or "bearer"


TARGETS = [
    Target("minimal", "minimal: GET /healthz", "/healthz", "none"),
    Target("dashboard", "dashboard: GET /partner", "/partner", "cookie"),
    Target(
        "api",
        "API list: GET /api/v1/campaigns?per_page=25",
        "/api/v1/campaigns?per_page=25",
        "bearer",
    ),
]


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    #: requests/s of each round on its own
    rounds: list[float] = field(default_factory=list)


def seed(engine: Engine, campaigns: int) -> tuple[str, str]:
    """The partners, their campaigns, and the editor's session cookie and read token."""
    source = SEGMENT.read_text(encoding="utf-8")
    digest = segment_hash(source)
    with session_scope(engine) as session:
        ids = {}
        for name in (PARTNER, OTHER):
            partner = creatives.create_partner(session, name)
            version = creatives.store_bundle(
                session, partner, load_bundle(CREATIVE), submitted_by="bench"
            )
            session.execute(
                update(CreativeVersion)
                .where(CreativeVersion.id == version.id)
                .values(status=CreativeStatus.APPROVED, decided_at=utcnow(), decided_by="bench")
            )
            ids[name] = (partner.id, version.id)
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for partner_id, version_id in ids.values():
            for i in range(campaigns):
                status = STATUSES[i % len(STATUSES)]
                created = now - dt.timedelta(hours=campaigns - i)
                done = status is CampaignStatus.COMPLETED
                rows.append(
                    {
                        "public_id": new_public_id("cp"),
                        "reference": secrets.token_hex(8),
                        "partner_id": partner_id,
                        "creative_version_id": version_id,
                        "channel": "email",
                        "purpose": "partner_marketing",
                        "segment_name": SEGMENT.stem,
                        "segment_path": str(SEGMENT),
                        "segment_source": source,
                        "segment_sha256": digest,
                        "status": status.value,
                        "created_at": created,
                        "created_by": "bench.manager",
                        "approved_at": created if status is not CampaignStatus.DRAFT else None,
                        "approved_by": "bench.approver"
                        if status is not CampaignStatus.DRAFT
                        else None,
                        "started_at": created if done else None,
                        "completed_at": created + dt.timedelta(minutes=20) if done else None,
                        "batch_count": 3 if done else 0,
                        "recipient_count": 2_000 + 37 * i if done else 0,
                    }
                )
        session.execute(insert(Campaign), rows)
        partner_id = ids[PARTNER][0]
        editor = accounts.create_user(
            session,
            username=EDITOR,
            role=Role.PARTNER_EDITOR,
            actor="bench",
            partner=session.get(Partner, partner_id),
            password=accounts.generate_password(),
        )
        cookie = accounts.open_session(session, editor, "bench", verified=True).value
        _, token = accounts.create_token(
            session, editor, name="bench", scope="read", days=1, actor="bench"
        )
    return cookie, token


def start_server(url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env.update(
        {
            "DISPATCH_DATABASE_URL": url,
            "DISPATCH_SECRET_KEY": SECRET,
            "DISPATCH_VAR_DIR": str(log.parent / "var"),
            "DISPATCH_BROKER_URL": REDIS,
        }
    )
    command = [
        str(Path(sys.executable).with_name("dispatch")), "serve",
        "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    with log.open("wb") as err:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"dispatch serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx2.HTTPError:
            time.sleep(0.2)
    process.kill()
    sys.exit("dispatch serve did not answer within 60 s")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _drive(
    base: str, target: Target, headers: dict[str, str], clients: int, seconds: float,
    warmup: float,
) -> Sample:  # fmt: skip
    sample = Sample()
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:

        async def worker(until: float, record: bool) -> None:
            while time.perf_counter() < until:
                started = time.perf_counter()
                response = await client.get(target.path)
                if record:
                    sample.latencies.append(time.perf_counter() - started)
                    sample.statuses[response.status_code] = (
                        sample.statuses.get(response.status_code, 0) + 1
                    )

        warm_until = time.perf_counter() + warmup
        await asyncio.gather(*(worker(warm_until, False) for _ in range(clients)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(clients)))
        sample.seconds = time.perf_counter() - started
    return sample


def _drive_in_process(args: tuple[Any, ...]) -> Sample:
    return asyncio.run(_drive(*args))


def run_target(
    pool: Any, base: str, target: Target, cookie: str, token: str, args: argparse.Namespace
) -> Sample:
    headers = {}
    if target.auth == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    elif target.auth == "cookie":
        # A fixed Cookie header, as a browser sends after its first page (the form
        # token's cookie included, so no answer sets one): the same cost to the load
        # generator as the bearer header, where a cookie jar would parse every answer.
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}; {csrf.COOKIE}={CSRF_COOKIE}"
    shares = [
        args.clients // args.load_processes + (1 if i < args.clients % args.load_processes else 0)
        for i in range(args.load_processes)
    ]
    jobs = [(base, target, headers, n, args.seconds, args.warmup) for n in shares if n]
    merged = Sample()
    for part in pool.map(_drive_in_process, jobs):
        merged.latencies += part.latencies
        merged.seconds = max(merged.seconds, part.seconds)
        for status, n in part.statuses.items():
            merged.statuses[status] = merged.statuses.get(status, 0) + n
    return merged


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}; load {load}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--campaigns", type=int, default=1_000, help="campaigns per partner")
    parser.add_argument("--clients", type=int, default=20, help="concurrent connections")
    cores = os.cpu_count() or 1
    parser.add_argument(
        "--load-processes", type=int, default=cores, help="load generator processes (CPUs)"
    )
    parser.add_argument(
        "--workers", type=int, default=cores, help="dispatch serve --workers (CPUs)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per round")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per endpoint")
    parser.add_argument(
        "--endpoints",
        default="minimal,dashboard,api",
        help="which of minimal, dashboard, api to measure (minimal is always measured)",
    )
    parser.add_argument("--database", default=f"dispatch_bench_serve_{os.getpid()}")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    _results.add_arguments(parser)
    args = parser.parse_args()
    wanted = {"minimal", *args.endpoints.split(",")}
    targets = [t for t in TARGETS if t.key in wanted]

    # The test suite's server variable is honoured too, so one setting serves both.
    _database.SERVER = (
        os.environ.get("DISPATCH_BENCH_PG_SERVER")
        or os.environ.get("DISPATCH_TEST_PG_SERVER")
        or _database.SERVER
    )
    before = machine()
    engine, _ = _database.open_database(args.database, keep=False)
    url = engine.url.render_as_string(hide_password=False)
    folder = Path(tempfile.mkdtemp(prefix="dispatch-bench-serve-"))
    process = None
    try:
        cookie, token = seed(engine, args.campaigns)
        # Autovacuum may be off on this machine: give the planner the statistics a
        # database in service has (without them it scans all campaigns and sorts).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
        engine.dispose()
        port = free_port()
        process = start_server(url, port, args.workers, folder / "serve.log")
        base = f"http://127.0.0.1:{port}"
        samples = {t.name: Sample() for t in targets}
        ctx = mp.get_context("spawn")
        with ctx.Pool(args.load_processes) as pool:
            for _ in range(args.rounds):
                for target in targets:
                    got = run_target(pool, base, target, cookie, token, args)
                    sample = samples[target.name]
                    sample.latencies += got.latencies
                    sample.seconds += got.seconds
                    sample.rounds.append(len(got.latencies) / got.seconds)
                    for status, n in got.statuses.items():
                        sample.statuses[status] = sample.statuses.get(status, 0) + n
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        if not args.keep:
            _database.drop_database(args.database)
    bad = {n: s.statuses for n, s in samples.items() if set(s.statuses) != {200}}
    if bad:
        sys.exit(f"not every answer was 200: {bad}; see {folder / 'serve.log'}")
    report(args, targets, samples, before, machine())


def round_ratios(targets: list[Target], samples: dict[str, Sample]) -> str:
    """Each round's ratio to the minimal endpoint's round just before it, which shows how
    far the machine's load moved the figures during the run."""
    minimal = samples[TARGETS[0].name].rounds
    parts = []
    for target in targets[1:]:
        ratios = [r / m for r, m in zip(samples[target.name].rounds, minimal, strict=True)]
        listed = ", ".join(f"{r:.2f}" for r in ratios)
        parts.append(f"{target.key} {listed} (median {statistics.median(ratios):.2f})")
    return (
        "Round by round, each against the minimal endpoint's round before it: "
        + "; ".join(parts)
        + "."
    )


def report(
    args: argparse.Namespace,
    targets: list[Target],
    samples: dict[str, Sample],
    before: str,
    after: str,
) -> None:
    rps = {name: len(s.latencies) / s.seconds for name, s in samples.items()}
    minimal = rps[TARGETS[0].name]
    lines = [
        "## Web service",
        "",
        _results.stamp("serve.py"),
        "",
        f"{args.campaigns:,} campaigns of the partner (and as many of another).",
        f"Server: `dispatch serve --workers {args.workers}` (uvicorn, JSON access log to a "
        f"file), PostgreSQL on 127.0.0.1 ({_database.SERVER.rsplit('@', 1)[-1]}). Load: "
        f"{args.clients} concurrent keep-alive connections from httpx2.AsyncClient in "
        f"{args.load_processes} process(es) on the same machine, {args.rounds} interleaved "
        f"rounds of {args.seconds:g} s per endpoint after {args.warmup:g} s of warm-up.",
        "",
        "| endpoint | requests | requests/s | p50 | p99 | / minimal |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for target in targets:
        s = samples[target.name]
        lines.append(
            f"| {target.name} | {len(s.latencies):,} | {rps[target.name]:,.0f} | "
            f"{percentile(s.latencies, 0.5) * 1000:.1f} ms | "
            f"{percentile(s.latencies, 0.99) * 1000:.1f} ms | {rps[target.name] / minimal:.2f} |"
        )
    ratios = {t.key: rps[t.name] / minimal for t in targets}
    summary = []
    if "dashboard" in ratios:
        met = "met" if ratios["dashboard"] >= 0.3 else "NOT met"
        summary.append(
            f"Dashboard / minimal throughput: {ratios['dashboard']:.2f} (target >= 0.3: {met})"
        )
    if "api" in ratios:
        summary.append(f"API list / minimal: {ratios['api']:.2f}")
    lines += ["", "; ".join([*summary, "every answer was 200"]) + ".", ""]
    if args.rounds > 1:
        lines += [round_ratios(targets, samples), ""]
    _results.publish(args, "serve.py", "\n".join(lines))


if __name__ == "__main__":
    main()
