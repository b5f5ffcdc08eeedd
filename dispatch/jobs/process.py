"""One worker process (started by ``dispatch worker``): dramatiq threads until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

import dramatiq

from dispatch.jobs import tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dispatch.jobs.process")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"
    )
    # Font subsetting logs every table of every font it subsets, per batch.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    jobs = tasks.jobs()
    # Before taking messages: the letter frames are every post batch's, not one campaign's.
    tasks.runtime().warm_up()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # A consumer whose threads are all busy backs off up to worker_timeout between
    # fetches (dramatiq's default 1 s): a thread freed after a batch would wait up to
    # that long for its next one. 100 ms keeps the gap small for a cheap poll.
    worker = dramatiq.Worker(jobs.broker, worker_threads=args.threads, worker_timeout=100)
    # Take only as many messages as there are threads (dramatiq's default is twice
    # that): a batch job takes seconds, and a message waiting in one process's
    # prefetch buffer is one the idle process next door cannot start.
    worker.queue_prefetch = args.threads
    worker.start()
    try:
        stop.wait()
    finally:
        worker.stop()
        tasks.reset_runtime()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
