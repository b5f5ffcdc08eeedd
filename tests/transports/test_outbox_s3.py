"""The S3 outbox against a real HTTP S3 server (moto in server mode on 127.0.0.1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dispatch import batchformat as bf
from dispatch.errors import OperationError
from dispatch.transports.factory import outbox_from_url
from dispatch.transports.outbox_s3 import S3Outbox
from tests.conftest import fake_aws_credentials, free_port, need_service
from tests.printhouse.factories import Keys, make_keys, seal
from tests.printhouse.scenario import collect, hand_off_collect_ack_delete


class S3Server:
    """A moto S3 server that a test may stop and start again on the same port."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: Any = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def restart(self) -> None:
        from moto.server import ThreadedMotoServer

        # moto keeps its buckets in process memory, so they survive a restart.
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port)
        self._server.start()


@pytest.fixture
def s3_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    fake_aws_credentials(monkeypatch)
    try:
        server = S3Server()
        server.start()
    except Exception as exc:
        need_service("moto S3 server", str(exc).splitlines()[0])
    monkeypatch.setenv("DISPATCH_S3_ENDPOINT_URL", server.endpoint)
    yield server
    server.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    import boto3

    name = f"outbox-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server.endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys")


def test_s3_hand_off_collect_ack_delete(bucket: str, keys: Keys, tmp_path: Path) -> None:
    url = f"s3://{bucket}/print/outbox"
    outbox = outbox_from_url(url)
    assert isinstance(outbox, S3Outbox)
    hand_off_collect_ack_delete(outbox, url, keys, tmp_path / "spool")


def test_s3_tampered_batch_is_refused_and_left_in_place(
    bucket: str, keys: Keys, tmp_path: Path, s3_server: S3Server
) -> None:
    import boto3

    url = f"s3://{bucket}/outbox"
    outbox = outbox_from_url(url)
    sealed = seal(keys, "b0001")
    outbox.put_batch("b0001", sealed.encrypted_pdf, sealed.manifest, sealed.signature)
    client = boto3.client("s3", endpoint_url=s3_server.endpoint)
    client.put_object(Bucket=bucket, Key="outbox/b0001/letters.pdf.age", Body=b"age junk")

    run = collect(url, keys, tmp_path / "spool")

    assert run.code == 1
    assert "refused batch b0001: letters.pdf.age checksum mismatch" in run.err
    assert outbox.list_complete() == ["b0001"]
    assert outbox.get("b0001", bf.ENCRYPTED_PDF) == b"age junk"


def test_s3_failure_mid_hand_off_leaves_no_complete_marker(
    bucket: str, keys: Keys, tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"s3://{bucket}/outbox"
    outbox = outbox_from_url(url)
    assert isinstance(outbox, S3Outbox)
    real_put = outbox._put

    def put_then_lose_the_server(key: str, body: Any) -> None:
        # The letters arrive; then the store goes away before the manifest does.
        if key.endswith(bf.MANIFEST):
            s3_server.stop()
        real_put(key, body)

    monkeypatch.setattr(outbox, "_put", put_then_lose_the_server)
    sealed = seal(keys, "b0001")
    with pytest.raises(OperationError, match="cannot write batch b0001"):
        outbox.put_batch("b0001", sealed.encrypted_pdf, sealed.manifest, sealed.signature)

    s3_server.restart()
    fresh = outbox_from_url(url)
    assert fresh.list_batches() == ["b0001"]
    assert fresh.list_complete() == []
    assert collect(url, keys, tmp_path / "spool").json()["collected"] == []


def test_s3_unreachable_endpoint_gives_a_one_line_error(
    keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    outbox = S3Outbox("outbox-closed", "x", endpoint_url=f"http://127.0.0.1:{free_port()}")
    sealed = seal(keys, "b0001")
    with pytest.raises(OperationError) as caught:
        outbox.put_batch("b0001", sealed.encrypted_pdf, sealed.manifest, sealed.signature)
    assert "s3://outbox-closed/x/" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_printhouse_collect_from_an_unreachable_s3_fails_in_one_line(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("DISPATCH_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    run = collect("s3://outbox-closed/x", keys, tmp_path / "spool")
    assert run.code == 1
    assert run.err.startswith("printhouse: s3://outbox-closed/x/: cannot list batches")
    assert len(run.err.strip().splitlines()) == 1
