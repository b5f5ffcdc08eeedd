"""Hostile DISPATCH_* values: every one fails as a ConfigError naming its variable (one
line, exit 2 from the CLI), never as a ValueError from deep inside the standard library."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from dispatch.config import ConfigError, load_settings
from tests.conftest import CliResult

SECRET = "a-test-secret-0123456789"
SOURCE = (Path(__file__).resolve().parents[1] / "dispatch" / "config.py").read_text()
#: Every variable the settings read.
VARIABLES = sorted(set(re.findall(r'"(DISPATCH_[A-Z0-9_]+)"', SOURCE)))
HOSTILE = [
    "\x01",
    "\x7f",
    "9" * 5000,
    "-1",
    "1e309",
    "nan",
    "x" * 100_000,
    "redis://[::1",
    "http://[x",
    "http://host:99999",
    "postgresql://u@h:notaport/db",
    "smtp://:@",
    "http://host/\x1b[31m",
]


@pytest.mark.parametrize("variable", VARIABLES)
def test_a_hostile_value_is_refused_or_taken_never_a_crash(variable: str) -> None:
    for value in HOSTILE:
        try:
            load_settings({"DISPATCH_SECRET_KEY": SECRET, variable: value})
        except ConfigError as exc:
            assert str(exc).startswith(f"{variable}: ")
            assert "\n" not in str(exc)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DISPATCH_BROKER_URL", "redis://[::1", "not a valid URL (Invalid IPv6 URL)"),
        ("DISPATCH_DATABASE_URL", "postgresql://h:port/db", "not a valid URL (Port could"),
        ("DISPATCH_PUBLIC_URL", "http://host:99999", "not a valid URL (Port out of range"),
        ("DISPATCH_PUBLIC_URL", "http://host/\x1b[2J", "must not contain control characters"),
        ("DISPATCH_MAILER_URL", "smtp://relay\x00", "must not contain control characters"),
    ],
)
def test_an_unreadable_url_names_its_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"DISPATCH_SECRET_KEY": SECRET, variable: value})

    assert str(caught.value).startswith(f"{variable}: {message}")


def test_a_secret_file_that_is_not_text_names_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"\xff\xfe" * 20)

    with pytest.raises(ConfigError) as caught:
        load_settings({"DISPATCH_SECRET_KEY_FILE": str(path)})

    assert str(caught.value) == f"DISPATCH_SECRET_KEY_FILE: {path} is not UTF-8 text"


def test_the_cli_reports_a_bad_setting_in_one_line_with_exit_2(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_OUTBOX_URL", "s3://[bucket")

    result = cli("campaign", "list")

    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "dispatch: error: DISPATCH_OUTBOX_URL: not a valid URL (Invalid IPv6 URL): 's3://[bucket'"
    ]
