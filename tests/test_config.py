"""Settings: embedded defaults, and a malformed DISPATCH_* value fails naming itself."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url

from dispatch.config import DEFAULT_SECRET, ConfigError, load_settings

GOOD_SECRET = "a-production-secret-0123456789"


def _location(url: str) -> Path:
    """Where a file-like URL points (``file://./var/x`` and ``file://var/x`` alike)."""
    parts = urlsplit(url)
    return Path(parts.netloc + parts.path)


def test_defaults_run_everything_embedded_under_var() -> None:
    settings = load_settings({})

    assert settings.env == "development"
    assert settings.is_sqlite
    assert Path(make_url(settings.database_url).database or "") == Path("var/dispatch.db")
    assert settings.broker_url == "inprocess://"
    assert urlsplit(settings.outbox_url).scheme == "file"
    assert _location(settings.outbox_url) == Path("var/outbox")
    assert urlsplit(settings.mailer_url).scheme == "maildir"
    assert _location(settings.mailer_url) == Path("var/mail")
    assert settings.actor is None
    assert settings.secret_key == DEFAULT_SECRET
    assert settings.var_dir == Path("var")


def test_var_dir_moves_every_embedded_default(tmp_path: Path) -> None:
    settings = load_settings({"DISPATCH_VAR_DIR": str(tmp_path)})

    assert make_url(settings.database_url).database == str(tmp_path / "dispatch.db")
    assert _location(settings.outbox_url) == tmp_path / "outbox"
    assert _location(settings.mailer_url) == tmp_path / "mail"


def test_blank_values_mean_the_defaults() -> None:
    blank = {name: "  " for name in ("DISPATCH_DATABASE_URL", "DISPATCH_BROKER_URL")}

    assert load_settings(blank) == load_settings({})


def test_production_services_are_accepted() -> None:
    env = {
        "DISPATCH_ENV": "production",
        "DISPATCH_SECRET_KEY": GOOD_SECRET,
        "DISPATCH_DATABASE_URL": "postgresql+psycopg://dispatch@db/dispatch",
        "DISPATCH_BROKER_URL": "redis://cache:6379/0",
        "DISPATCH_OUTBOX_URL": "s3://bucket/prefix",
        "DISPATCH_MAILER_URL": "ses://eu-north-1",
        "DISPATCH_ACTOR": "maija.staff",
    }

    settings = load_settings(env)

    assert not settings.is_sqlite
    assert (settings.env, settings.actor, settings.secret_key) == (
        "production",
        "maija.staff",
        GOOD_SECRET,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DISPATCH_ENV", "staging"),
        ("DISPATCH_DATABASE_URL", "mysql://dispatch@db/dispatch"),
        ("DISPATCH_DATABASE_URL", "var/dispatch.db"),
        ("DISPATCH_BROKER_URL", "http://broker"),
        ("DISPATCH_OUTBOX_URL", "ftp://printhouse/outbox"),
        ("DISPATCH_MAILER_URL", "imap://mail"),
        ("DISPATCH_SECRET_KEY", "too-short"),
        ("DISPATCH_SECRET_KEY_FILE", "/nonexistent/secret"),
    ],
)
def test_malformed_value_fails_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({variable: value})

    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")


@pytest.mark.parametrize("given", [{}, {"DISPATCH_SECRET_KEY": DEFAULT_SECRET}])
def test_production_refuses_the_embedded_secret(given: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"DISPATCH_ENV": "production", **given})

    assert caught.value.variable == "DISPATCH_SECRET_KEY"


def test_secret_may_come_from_a_file_which_wins(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(GOOD_SECRET + "\n", encoding="utf-8")

    settings = load_settings(
        {
            "DISPATCH_ENV": "production",
            "DISPATCH_SECRET_KEY_FILE": str(path),
            "DISPATCH_SECRET_KEY": "another-secret-0123456789",
        }
    )

    assert settings.secret_key == GOOD_SECRET


def test_settings_come_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_ACTOR", "env.staff")

    assert load_settings().actor == "env.staff"
