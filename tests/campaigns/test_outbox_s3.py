"""A post campaign into an S3 outbox (moto in server mode on 127.0.0.1)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from dispatch.campaigns.models import CampaignStatus
from dispatch.jobs import tasks
from dispatch.transports.outbox_s3 import S3Outbox
from tests.campaigns.conftest import World
from tests.conftest import fake_aws_credentials, free_port, need_service


@pytest.fixture
def s3_outbox(monkeypatch: pytest.MonkeyPatch, world: World) -> Iterator[str]:
    """A bucket on a moto server; DISPATCH_OUTBOX_URL points into it."""
    import boto3
    from moto.server import ThreadedMotoServer

    fake_aws_credentials(monkeypatch)
    port = free_port()
    server: Any = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    try:
        server.start()
    except Exception as exc:
        need_service("moto S3 server", str(exc).splitlines()[0])
    endpoint = f"http://127.0.0.1:{port}"
    bucket = f"outbox-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/print"
    monkeypatch.setenv("DISPATCH_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("DISPATCH_OUTBOX_URL", url)
    yield url
    server.stop()


def _s3(world: World) -> S3Outbox:
    outbox = tasks.runtime().outbox
    assert isinstance(outbox, S3Outbox)
    return outbox


def test_post_campaign_into_s3_delivers_each_member_once(world: World, s3_outbox: str) -> None:
    members = world.add_members(30)
    cid = world.start()
    world.run_all(cid)

    assert world.status(cid) == CampaignStatus.COMPLETED.value
    outbox = _s3(world)
    assert outbox.url == f"{s3_outbox}/"
    printed = world.printed(outbox)
    assert len(printed) == 2
    letters = Counter(m for batch in printed.values() for m in batch)
    assert set(letters) == set(members) and max(letters.values()) == 1
    assert world.report(cid).reconciled


def test_transient_s3_failure_is_retried_to_success(
    world: World, s3_outbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = world.add_members(12)
    cid = world.start()
    outbox = _s3(world)
    real_upload = outbox._client.upload_fileobj
    failures = iter([True])

    def flaky_upload(*args: Any, **kwargs: Any) -> None:
        if next(failures, False):
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        real_upload(*args, **kwargs)

    monkeypatch.setattr(outbox._client, "upload_fileobj", flaky_upload)
    world.run_all(cid)

    assert world.status(cid) == CampaignStatus.COMPLETED.value
    [batch] = world.batches(cid)
    assert batch.attempts == 2
    assert batch.last_error is None
    letters = [m for letters in world.printed(outbox).values() for m in letters]
    assert sorted(letters) == sorted(members)
    assert outbox.list_batches() == outbox.list_complete() == [batch.outbox_id]
