"""The SES mailer against moto's SES server (a real HTTP server on loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends

from dispatch.transports.factory import mailer_from_url
from dispatch.transports.mailer_ses import SesMailer, _classify
from tests.transports.test_mailer_smtp import SENDER, free_port, marketing_email

REGION = "eu-north-1"


@pytest.fixture
def ses_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server with SENDER verified; DISPATCH_SES_ENDPOINT_URL points at it."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("DISPATCH_SES_ENDPOINT_URL", endpoint)
    client = boto3.client("sesv2", region_name=REGION, endpoint_url=endpoint)
    client.create_email_identity(EmailIdentity=SENDER)
    client.close()
    try:
        yield endpoint
    finally:
        server.stop()
        ses_backends[DEFAULT_ACCOUNT_ID][REGION].reset()


def test_message_is_handed_to_ses_unchanged(ses_endpoint: str) -> None:
    message = marketing_email()
    mailer = mailer_from_url(f"ses://{REGION}")
    try:
        result = mailer.send(SENDER, "maija@example.fi", message)
    finally:
        mailer.close()
    assert result.status == "sent", result.reason
    assert result.message_id
    [sent] = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    assert sent.id == result.message_id
    assert sent.source == SENDER
    assert "maija@example.fi" in sent.destinations
    assert sent.raw_data.encode() == message


def test_send_many_sends_concurrently_in_order(ses_endpoint: str) -> None:
    mailer = SesMailer.from_url(f"ses://{REGION}", workers=4)
    items = [(SENDER, f"m{i}@example.fi", marketing_email(member_id=i)) for i in range(12)]
    try:
        results = mailer.send_many(items)
    finally:
        mailer.close()
    assert [r.status for r in results] == ["sent"] * 12
    sent = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    assert {m.id for m in sent} == {r.message_id for r in results}


def test_rejected_message_fails_with_the_ses_reason(ses_endpoint: str) -> None:
    mailer = SesMailer.from_url(f"ses://{REGION}")
    try:
        result = mailer.send("unverified@elsewhere.fi", "maija@example.fi", marketing_email())
    finally:
        mailer.close()
    assert result.status == "failed"
    assert result.reason.startswith("MessageRejected: ")


def test_ses_unreachable_is_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("DISPATCH_SES_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    mailer = SesMailer.from_url(f"ses://{REGION}", max_attempts=1, timeout=2)
    try:
        result = mailer.send(SENDER, "maija@example.fi", marketing_email())
    finally:
        mailer.close()
    assert result.status == "retry"
    assert result.reason.startswith("SES unreachable")


@pytest.mark.parametrize(
    ("code", "http_status", "status"),
    [
        ("TooManyRequestsException", 429, "retry"),
        ("Throttling", 400, "retry"),
        ("SendingPausedException", 400, "retry"),
        ("InternalFailure", 500, "retry"),
        ("MessageRejected", 400, "failed"),
        ("BadRequestException", 400, "failed"),
    ],
)
def test_ses_errors_map_onto_retry_or_failed(code: str, http_status: int, status: str) -> None:
    # botocore's own exception, built as botocore builds it from an error response.
    error = ClientError(
        {
            "Error": {"Code": code, "Message": "reason given"},
            "ResponseMetadata": {"HTTPStatusCode": http_status},
        },
        "SendEmail",
    )
    result = _classify(error)
    assert (result.status, result.reason) == (status, f"{code}: reason given")
