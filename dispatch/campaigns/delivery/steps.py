"""Where a batch job's time goes: wall-clock and thread CPU per named step.

Each job keeps a :class:`StepClock`; :func:`~dispatch.campaigns.delivery.batches.run_batch`
logs it in one line when the job ends (``campaign 3 batch 7 steps: render=812/790 ...``,
milliseconds of wall-clock/CPU), which ``bench/campaigns.py`` sums into the "where
the time goes" table of bench/RESULTS.md. CPU is this thread's own
(:func:`time.thread_time`): a step's wall-clock beyond it is waiting, for the database,
the mailer, or this process's other threads (the GIL).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: The log line's own pattern, for whoever reads it back (the bench).
STEP = re.compile(r"(\w+)=(\d+)/(\d+)")


class StepClock:
    """Wall-clock and thread-CPU seconds per step of one job, in the order first seen."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
            self.cpu[name] = self.cpu.get(name, 0.0) + time.thread_time() - cpu

    def summary(self) -> str:
        """``name=WALL/CPU`` per step, in milliseconds."""
        return " ".join(
            f"{name}={self.wall[name] * 1000:.0f}/{self.cpu[name] * 1000:.0f}" for name in self.wall
        )
