"""The maildir mailer: the embedded default writes one file per message."""

from __future__ import annotations

import mailbox
import os
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from dispatch.transports.factory import mailer_from_url
from dispatch.transports.mailer_maildir import MaildirMailer
from tests.transports.test_mailer_smtp import SENDER, marketing_email


def test_message_round_trips_through_the_maildir(tmp_path: Path) -> None:
    message = marketing_email()
    mailer = mailer_from_url(f"maildir://{tmp_path / 'mail'}")
    result = mailer.send(SENDER, "maija@example.fi", message)
    mailer.close()

    assert result.status == "sent" and result.message_id
    [stored] = (tmp_path / "mail" / "new").iterdir()
    assert stored.name == result.message_id
    data = stored.read_bytes()
    assert (
        data
        == b"Return-Path: <"
        + SENDER.encode()
        + b">\r\nDelivered-To: maija@example.fi\r\n"
        + message
    )
    parsed = message_from_bytes(data, policy=policy.default)
    assert parsed["Delivered-To"] == "maija@example.fi"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert list((tmp_path / "mail" / "tmp").iterdir()) == []  # written, then renamed


def test_each_message_is_its_own_file_readable_by_mailbox(tmp_path: Path) -> None:
    mailer = MaildirMailer(tmp_path)
    items = [(SENDER, f"m{i}@example.fi", marketing_email(member_id=i)) for i in range(5)]
    results = mailer.send_many(items)
    assert [r.status for r in results] == ["sent"] * 5
    box = mailbox.Maildir(tmp_path, create=False)
    assert sorted(m["Delivered-To"] for m in box) == [f"m{i}@example.fi" for i in range(5)]


def test_relative_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mailer = mailer_from_url("maildir://./var/mail")
    assert mailer.send(SENDER, "maija@example.fi", marketing_email()).status == "sent"
    assert len(os.listdir(tmp_path / "var" / "mail" / "new")) == 1


def test_header_injection_through_the_envelope_is_refused(tmp_path: Path) -> None:
    mailer = MaildirMailer(tmp_path)
    result = mailer.send(SENDER, "a@example.fi\r\nBcc: x@example.fi", marketing_email())
    assert result.status == "failed"
    assert list((tmp_path / "new").iterdir()) == []


def test_unwritable_folder_is_a_retry(tmp_path: Path) -> None:
    mailer = MaildirMailer(tmp_path)
    (tmp_path / "tmp").rmdir()
    (tmp_path / "tmp").write_text("not a folder")
    result = mailer.send(SENDER, "maija@example.fi", marketing_email())
    assert result.status == "retry"
    assert "maildir write failed" in result.reason
