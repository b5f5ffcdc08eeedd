"""Fixtures for the job tests: the three brokers, an SMTP server, S3, worker processes.

Redis and RabbitMQ come from ``DISPATCH_TEST_REDIS_URL`` and ``DISPATCH_TEST_AMQP_URL``
(defaults: the local servers); like PostgreSQL they skip locally when absent and fail
in CI. Every test shares the queue name ``dispatch``, so a broker fixture empties the
queues before and after its test: no run sees another's messages.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine

from dispatch import batchformat as bf
from dispatch.db.engine import make_engine
from dispatch.jobs import tasks
from dispatch.transports.factory import outbox_from_url
from dispatch.transports.keys import load_or_create_signing_key
from dispatch.transports.outbox import Outbox
from tests.conftest import fake_aws_credentials, need_service, redis_test_url

REDIS_URL = redis_test_url()
AMQP_URL = os.environ.get("DISPATCH_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
#: The queue and dramatiq's delay and dead-letter queues beside it.
QUEUES = (tasks.QUEUE, f"{tasks.QUEUE}.DQ", f"{tasks.QUEUE}.XQ")


#: For the dispatch tests: worker processes share one database, so PostgreSQL only
#: (SQLite is the embedded single-process default). Use as ``pytestmark``.
ON_POSTGRESQL = [
    pytest.mark.postgres,
    pytest.mark.parametrize("db_url", ["postgresql"], indirect=True),
]


# -- brokers --------------------------------------------------------------------------


def _purge_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.flushdb()
    finally:
        client.close()


def _purge_rabbitmq(url: str) -> None:
    import pika
    from pika.exceptions import ChannelClosedByBroker

    params = pika.URLParameters(url)
    params.socket_timeout = 3
    params.blocked_connection_timeout = 3
    connection = pika.BlockingConnection(params)
    try:
        for queue in QUEUES:
            channel = connection.channel()
            try:
                channel.queue_purge(queue)
            except ChannelClosedByBroker:
                continue  # 404: not declared yet, so nothing in it
            channel.close()
    finally:
        connection.close()


def _forget_jobs() -> None:
    """Drop this process's broker and runtime, so the next test declares its own."""
    tasks.reset_runtime()
    if tasks._JOBS is not None:
        tasks._JOBS.broker.close()
        tasks._JOBS = None


@pytest.fixture(params=["inprocess", "redis", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each broker in turn; the real ones emptied before and after the test."""
    kind: str = request.param
    purge: Callable[[str], None] | None
    if kind == "inprocess":
        url, purge = "inprocess://", None
    elif kind == "redis":
        url, purge = REDIS_URL, _purge_redis
    elif kind == "rabbitmq":
        url, purge = AMQP_URL, _purge_rabbitmq
    else:
        raise ValueError(kind)
    if purge is not None:
        try:
            purge(url)
        except Exception as exc:
            need_service(kind, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    yield url
    _forget_jobs()
    if purge is not None:
        purge(url)


# -- the deployment: settings shared by this process and the worker processes ----------


@dataclass
class Deployment:
    """A DISPATCH_* environment (also set in ``os.environ``), its database and outbox."""

    env: dict[str, str]
    engine: Engine
    identity: str
    var_dir: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def outbox(self) -> Outbox:
        """The outbox the workers hand batches to (the local folder unless configured)."""
        url = self.env.get("DISPATCH_OUTBOX_URL", f"file://{self.var_dir}/outbox")
        return outbox_from_url(url, s3_endpoint=self.env.get("DISPATCH_S3_ENDPOINT_URL"))

    @property
    def inprocess(self) -> bool:
        return self.env["DISPATCH_BROKER_URL"].startswith("inprocess:")

    def configure(self, **settings: object) -> None:
        """Set ``DISPATCH_<NAME>`` for this process and workers started afterwards."""
        for name, value in settings.items():
            key = f"DISPATCH_{name.upper()}"
            self.env[key] = str(value)
            self.monkeypatch.setenv(key, str(value))


@pytest.fixture
def deployment(
    env: dict[str, str], broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    identity, recipient = bf.generate_identity()
    var_dir = Path(env["DISPATCH_VAR_DIR"])
    # Created once here rather than by several worker processes at the same moment.
    load_or_create_signing_key(var_dir / "keys" / "dispatch-signing.pem")
    engine = make_engine(env["DISPATCH_DATABASE_URL"])
    found = Deployment(dict(env), engine, identity, var_dir, monkeypatch)
    # Small test audiences: a partner campaign's minimum is not what these tests are about.
    found.configure(broker_url=broker_url, printhouse_recipient=recipient, min_partner_audience=1)
    yield found
    engine.dispose()


# -- worker processes -----------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """Live child process ids of ``pid`` (from /proc; psutil is not a dependency)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


@dataclass
class Workers:
    """``dispatch worker --processes N --threads M`` as a subprocess."""

    process: subprocess.Popen[bytes]
    log: Path
    processes: int

    def children(self) -> list[int]:
        return _children(self.process.pid)

    def wait_ready(self, timeout: float = 30) -> list[int]:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, self.output()
            children = self.children()
            if len(children) == self.processes:
                return children
            assert time.monotonic() < deadline, "worker processes did not start"
            time.sleep(0.1)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker did not stop on SIGTERM\n{self.output()}") from None

    def kill(self) -> None:
        """SIGKILL the supervisor's process group (it and its workers)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@pytest.fixture
def start_workers(deployment: Deployment, tmp_path: Path) -> Iterator[Callable[..., Workers]]:
    """Start ``dispatch worker`` with the deployment's environment; killed at teardown
    if the test did not stop it."""
    started: list[Workers] = []

    def start(processes: int = 2, threads: int = 2) -> Workers:
        log = tmp_path / f"worker-{len(started)}.log"
        command = [
            sys.executable, "-c", "from dispatch.cli import main; main()",
            "worker", "--processes", str(processes), "--threads", str(threads),
        ]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                env={**os.environ, **deployment.env, "PYTHONUNBUFFERED": "1"},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: teardown can kill it and its workers
            )
        workers = Workers(process, log, processes)
        started.append(workers)
        return workers

    yield start
    for workers in started:
        workers.kill()


# -- an SMTP server -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Recorder:
    """Records the recipients of every accepted message.

    ``delay`` slows each message down (to catch a worker in the middle of a batch);
    ``defer`` answers 451 to an address that many times before accepting it.
    """

    delay: float = 0.0
    defer: dict[str, int] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)
    deferred: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            if self.defer.get(address, 0) > 0:
                self.defer[address] -= 1
                self.deferred += 1
                return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.received.extend(envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued"


class SmtpServer:
    """An aiosmtpd server on a fixed port that a test may stop and start again."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.port = free_port()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        # One connection per worker process keeps the order of events readable.
        return f"smtp://127.0.0.1:{self.port}?starttls=off&timeout=5&pool=1"

    @property
    def received(self) -> list[str]:
        with self.recorder.lock:
            return list(self.recorder.received)

    def start(self) -> None:
        controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp(deployment: Deployment) -> Iterator[SmtpServer]:
    """A running SMTP server that the deployment's mailer sends to."""
    server = SmtpServer()
    server.start()
    deployment.configure(mailer_url=server.url)
    yield server
    server.stop()


class S3Endpoint:
    """A moto S3 server on a fixed port that a test may stop and start again (moto
    keeps its buckets in process memory, so they survive a restart)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@pytest.fixture
def s3(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Endpoint]:
    """A running S3 endpoint with a bucket that the deployment's outbox is in."""
    fake_aws_credentials(monkeypatch)
    endpoint = S3Endpoint()
    try:
        endpoint.start()
    except Exception as exc:
        need_service("moto S3 server", str(exc).splitlines()[0])
    import boto3

    # moto keeps every bucket in this process's memory: a fresh one per test.
    bucket = f"outbox-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint.url).create_bucket(Bucket=bucket)
    deployment.configure(outbox_url=f"s3://{bucket}/print", s3_endpoint_url=endpoint.url)
    yield endpoint
    endpoint.stop()
