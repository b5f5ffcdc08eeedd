"""The mailer contract shared by every transport: results, URL choice, log privacy."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dispatch.errors import InputError
from dispatch.transports.factory import mailer_from_url
from dispatch.transports.mailer import SendResult, log_outcome, redact
from dispatch.transports.mailer_maildir import MaildirMailer
from dispatch.transports.mailer_smtp import SmtpPool


@pytest.mark.parametrize(
    ("code", "status"), [(250, "sent"), (421, "retry"), (451, "retry"), (550, "failed")]
)
def test_smtp_codes_map_onto_three_outcomes(code: int, status: str) -> None:
    assert SendResult.from_smtp_code(code, "text").status == status


def test_a_result_cannot_be_ambiguous() -> None:
    with pytest.raises(ValueError, match="unknown send status"):
        SendResult("ok", "250")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="only a sent message"):
        SendResult("failed", "550", message_id="abc")


def test_url_chooses_the_transport(tmp_path: Path) -> None:
    maildir = mailer_from_url(f"maildir://{tmp_path}")
    smtp = mailer_from_url("smtp://relay.example.fi:2525?pool=2")
    assert isinstance(maildir, MaildirMailer)
    assert isinstance(smtp, SmtpPool) and smtp.size == 2 and smtp.config.port == 2525
    with pytest.raises(InputError):
        mailer_from_url("pigeon://loft")


def test_logs_carry_counts_at_info_and_no_addresses_at_all(
    caplog: pytest.LogCaptureFixture,
) -> None:
    results = [
        SendResult.sent("250 ok"),
        SendResult.failed("550 5.1.1 <maija.meikalainen@example.fi>: user unknown"),
        SendResult.retry("451 4.3.0 try later"),
    ]
    with caplog.at_level(logging.DEBUG, logger="dispatch.transports.mailer"):
        log_outcome("smtp", results)
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert info == ["smtp: 1 sent, 1 to retry, 1 failed"]
    text = caplog.text
    assert "example.fi" not in text and "maija" not in text
    assert "550 5.1.1 <<address>>: user unknown" in text


def test_redact_keeps_the_reason_readable() -> None:
    assert (
        redact("550 5.1.1 a.b+c@x.example.fi: no such user") == "550 5.1.1 <address>: no such user"
    )
