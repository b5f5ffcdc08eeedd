"""Mailer benchmark: SMTP pool throughput to a relay on loopback.

    .venv/bin/python bench/mailer.py --messages 20000 --connections 8

Starts aiosmtpd relays in child processes (so that the server does not share the
client's GIL; with ``--servers N`` they share one port through SO_REUSEPORT and the
kernel spreads connections over them), builds the e-mails with the real
:class:`~dispatch.rendering.EmailBuilder` first (not timed), then times
``SmtpPool.send_many`` and prints messages/s, with the same run on one connection for
comparison. The relay only counts what it accepts. Each measure runs ``--repeat`` times;
the section of bench/RESULTS.md gives median (min-max).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time
from multiprocessing.synchronize import Event
from typing import Any

import _results
from aiosmtpd.smtp import SMTP, Envelope, Session

from dispatch.rendering import EmailBuilder
from dispatch.transports.mailer_smtp import SmtpPool

SENDER = "uutiset@esimerkki.fi"


class Counter:
    def __init__(self) -> None:
        self.accepted = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.accepted += 1
        return "250 2.0.0 Ok: queued"


def relay(port: int, ready: Event) -> None:
    async def serve() -> None:
        handler = Counter()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="bench-relay"),
            "127.0.0.1",
            port,
            reuse_port=True,
        )
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def messages(n: int) -> list[tuple[str, str, bytes]]:
    builder = EmailBuilder(
        campaign_id=1,
        language="fi",
        subject="Kevään pyörätarjous",
        assets={},
        secret="bench-secret-0123456789",  # noqa: S106 - a benchmark key
        date=dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC),
    )
    body = "<p>Kevät on pyöräilyn aikaa. Kanta-asiakkaana saat nyt 20 % alennuksen.</p>" * 6
    return [
        (
            SENDER,
            f"jasen{i}@example.fi",
            builder.build(
                member_id=i,
                to_address=f"jasen{i}@example.fi",
                to_name=f"Jäsen {i}",
                html_body=body,
                text_body="Kevät on pyöräilyn aikaa.",
            ),
        )
        for i in range(n)
    ]


def timed(url: str, items: list[tuple[str, str, bytes]], connections: int) -> dict[str, Any]:
    pool = SmtpPool.from_url(url, pool_size=connections)
    cpu0, t0 = time.process_time(), time.perf_counter()
    results = pool.send_many(items)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    pool.close()
    sent = sum(r.status == "sent" for r in results)
    if sent != len(items):
        sys.exit(f"only {sent} of {len(items)} sent: {results[0].reason}")
    return {"elapsed": elapsed, "rate": len(items) / elapsed, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--servers", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measure")
    _results.add_arguments(parser)
    args = parser.parse_args()
    if args.repeat < 1 or args.messages < 1:
        parser.error("--repeat and --messages must be at least 1")

    port = free_port()
    ctx = mp.get_context("spawn")
    procs = []
    for _ in range(args.servers):
        ready = ctx.Event()
        proc = ctx.Process(target=relay, args=(port, ready), daemon=True)
        proc.start()
        if not ready.wait(30):
            sys.exit("relay did not start")
        procs.append(proc)
    url = f"smtp://127.0.0.1:{port}?starttls=off"
    pooled: list[dict[str, float]] = []
    single: list[dict[str, float]] = []
    try:
        items = messages(args.messages)
        size = sum(len(m) for _, _, m in items) / len(items)
        timed(url, items[:200], args.connections)  # warm up imports and sockets
        for _ in range(args.repeat):  # paired: the pool and one connection back to back
            pooled.append(timed(url, items, args.connections))
            single.append(timed(url, items[: max(1, args.messages // 4)], 1))
    finally:
        for proc in procs:
            proc.terminate()
            proc.join()
    ratios = [p["rate"] / s["rate"] for p, s in zip(pooled, single, strict=True)]
    lines = [
        "## Mailer",
        "",
        _results.stamp("mailer.py"),
        "",
        f"{args.messages:,} messages of {size:,.0f} B to {args.servers} aiosmtpd relay "
        "process(es) on loopback; median (min-max) of the runs.",
        "",
        f"- Pool of {args.connections} connections: "
        f"**{_results.spread([p['rate'] for p in pooled])} messages/s** (client CPU "
        f"{_results.spread([p['cpu'] / args.messages * 1e6 for p in pooled])} µs/message).",
        f"- One connection: {_results.spread([s['rate'] for s in single])} messages/s.",
        f"- Pool / one connection, median of paired runs: {statistics.median(ratios):.2f}×.",
        "",
    ]
    _results.publish(args, "mailer.py", "\n".join(lines))


if __name__ == "__main__":
    main()
