"""Settings: embedded defaults, and a malformed DISPATCH_* value fails naming itself."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url

from dispatch.cli import run
from dispatch.config import (
    DEFAULT_ENVELOPE_SENDER,
    DEFAULT_SECRET,
    DEMO_IDENTITY,
    ConfigError,
    load_settings,
)

GOOD_SECRET = "a-production-secret-0123456789"
#: A production deployment's own identity: every DEMO_IDENTITY variable, set.
OWN_IDENTITY = {
    "DISPATCH_PUBLIC_URL": "https://jasen.pohjantahti.fi",
    "DISPATCH_UNSUBSCRIBE_MAILTO": "pois@pohjantahti.fi",
    "DISPATCH_SENDER_NAME": "Osuuskunta Pohjantähti",
    "DISPATCH_SENDER_UNIT": "-",
    "DISPATCH_SENDER_STREET": "Satamakatu 7",
    "DISPATCH_SENDER_POSTCODE": "90100",
    "DISPATCH_SENDER_POST_TOWN": "Oulu",
    "DISPATCH_SENDER_PHONE": "08 765 4321",
    "DISPATCH_MAIL_FROM": "tarjoukset@pohjantahti.fi",
    "DISPATCH_MAIL_FROM_NAME": "Pohjantähti",
    "DISPATCH_ENVELOPE_SENDER": "palautus@pohjantahti.fi",
}
PRODUCTION = {"DISPATCH_ENV": "production", "DISPATCH_SECRET_KEY": GOOD_SECRET, **OWN_IDENTITY}


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
        **PRODUCTION,
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
            **PRODUCTION,
            "DISPATCH_SECRET_KEY_FILE": str(path),
            "DISPATCH_SECRET_KEY": "another-secret-0123456789",
        }
    )

    assert settings.secret_key == GOOD_SECRET


def test_settings_come_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_ACTOR", "env.staff")

    assert load_settings().actor == "env.staff"


def test_member_links_default_to_the_local_service_and_are_checked() -> None:
    settings = load_settings({})
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.unsubscribe_mailto == "peruutus@esimerkki.fi"
    assert settings.envelope_sender == DEFAULT_ENVELOPE_SENDER
    sender = load_settings({"DISPATCH_ENVELOPE_SENDER": "palautukset@osuuskauppa.fi"})
    assert sender.envelope_sender == "palautukset@osuuskauppa.fi"
    assert _location(settings.inbound_url) == Path("var/inbound")
    given = load_settings({"DISPATCH_PUBLIC_URL": "https://jasen.example.fi/"})
    assert given.public_url == "https://jasen.example.fi"


@pytest.mark.parametrize(
    ("env", "variable", "complaint"),
    [
        ({"DISPATCH_PUBLIC_URL": "jasen.example.fi"}, "DISPATCH_PUBLIC_URL", "expected http(s)"),
        ({"DISPATCH_PUBLIC_URL": "https://x.fi/?a=1"}, "DISPATCH_PUBLIC_URL", "query"),
        (
            {**PRODUCTION, "DISPATCH_PUBLIC_URL": "http://x.fi"},
            "DISPATCH_PUBLIC_URL",
            "https in production",
        ),
        (
            {"DISPATCH_ENVELOPE_SENDER": "kampanjat at osuuskauppa"},
            "DISPATCH_ENVELOPE_SENDER",
            "not an e-mail address",
        ),
        (
            {"DISPATCH_UNSUBSCRIBE_MAILTO": "not an address"},
            "DISPATCH_UNSUBSCRIBE_MAILTO",
            "not an",
        ),
        ({"DISPATCH_INBOUND_URL": "pop3://x"}, "DISPATCH_INBOUND_URL", "unsupported scheme"),
    ],
)
def test_a_bad_member_link_setting_names_itself(
    env: dict[str, str], variable: str, complaint: str
) -> None:
    with pytest.raises(ConfigError) as failed:
        load_settings(env)

    assert failed.value.variable == variable and complaint in str(failed.value)


def test_the_demo_identity_is_the_embedded_default() -> None:
    settings = load_settings({})

    assert (settings.sender_name, settings.sender_unit, settings.sender_phone) == (
        "Osuuskauppa Esimerkki",
        "Kanta-asiakaspalvelu",
        "010 123 4567",
    )
    assert (settings.mail_from, settings.mail_from_name) == (
        "uutiset@esimerkki.fi",
        "Osuuskauppa Esimerkki",
    )
    assert settings.envelope_sender == DEMO_IDENTITY["DISPATCH_ENVELOPE_SENDER"]


def test_the_identity_settings_are_read() -> None:
    settings = load_settings(PRODUCTION)

    assert settings.sender_name == "Osuuskunta Pohjantähti"
    assert settings.sender_unit is None  # "-": no unit line
    assert (settings.sender_street, settings.sender_postcode, settings.sender_post_town) == (
        "Satamakatu 7",
        "90100",
        "Oulu",
    )
    assert settings.sender_phone == "08 765 4321"
    assert (settings.mail_from, settings.mail_from_name) == (
        "tarjoukset@pohjantahti.fi",
        "Pohjantähti",
    )
    assert settings.envelope_sender == "palautus@pohjantahti.fi"
    assert settings.unsubscribe_mailto == "pois@pohjantahti.fi"


def test_the_from_name_defaults_to_the_senders_name() -> None:
    settings = load_settings({"DISPATCH_SENDER_NAME": "Osuuskunta Pohjantähti"})

    assert settings.mail_from_name == "Osuuskunta Pohjantähti"


@pytest.mark.parametrize("variable", sorted(DEMO_IDENTITY))
def test_production_refuses_each_demo_identity_value_naming_it(variable: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({**PRODUCTION, variable: DEMO_IDENTITY[variable]})

    assert str(refused.value) == (
        f"{variable}: the demo cooperative's value is refused in production; set it"
    )


def test_production_names_every_identity_variable_left_unset() -> None:
    env = {"DISPATCH_ENV": "production", "DISPATCH_SECRET_KEY": GOOD_SECRET}
    unset = [name for name in DEMO_IDENTITY if name != "DISPATCH_MAIL_FROM_NAME"]

    with pytest.raises(ConfigError) as refused:
        load_settings({**env, "DISPATCH_SENDER_UNIT": "Asiakaspalvelu"})

    message = str(refused.value)
    assert message.startswith(", ".join(n for n in unset if n != "DISPATCH_SENDER_UNIT") + ":")
    assert message.endswith("set each of them")
    assert "DISPATCH_MAIL_FROM_NAME" not in message  # it follows DISPATCH_SENDER_NAME


def test_dispatch_in_production_with_demo_identity_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in {**PRODUCTION, "DISPATCH_SENDER_PHONE": "010 123 4567"}.items():
        monkeypatch.setenv(key, value)

    code = run(["campaign", "list", "--json"])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [
        "dispatch: error: DISPATCH_SENDER_PHONE: the demo cooperative's value is refused in "
        "production; set it"
    ]


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("DISPATCH_MAIL_FROM", "uutiset at example.fi", "not an e-mail address"),
        ("DISPATCH_ENVELOPE_SENDER", "bounces", "not an e-mail address"),
        ("DISPATCH_SENDER_NAME", "Osuuskunta\x00", "one line"),
        ("DISPATCH_SENDER_STREET", "x" * 81, "at most 80 characters"),
        ("DISPATCH_SENDER_POSTCODE", "1234567890123", "at most 12 characters"),
    ],
)
def test_a_bad_identity_setting_names_itself(variable: str, value: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as failed:
        load_settings({variable: value})

    assert failed.value.variable == variable and complaint in str(failed.value)
