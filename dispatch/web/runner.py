"""With the embedded in-process broker, ``dispatch serve`` runs the jobs itself.

A campaign started from the staff portal queues its jobs on the process's stub
broker; this thread works them off, as ``dispatch campaign start`` does in the CLI.
With Redis or RabbitMQ the jobs go to ``dispatch worker`` processes instead.
"""

from __future__ import annotations

import logging
import threading

from dispatch.config import Settings
from dispatch.jobs.broker import is_inprocess

log = logging.getLogger(__name__)


class InProcessRunner:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dispatch-jobs", daemon=True)

    @classmethod
    def start_if_embedded(cls, settings: Settings) -> InProcessRunner | None:
        if not is_inprocess(settings.broker_url):
            return None
        runner = cls()
        runner._thread.start()
        return runner

    def _run(self) -> None:
        from dispatch.jobs import worker

        while not self._stop.is_set():
            try:
                worker.run_inprocess(until=self._stop.is_set, poll=0.3)
            except Exception:
                log.exception("in-process jobs stopped; restarting")
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
