"""Typed settings read from ``DISPATCH_*`` environment variables.

Every setting has an embedded default so that a demo needs nothing set. A malformed
value fails at start-up with a :class:`ConfigError` that names the variable, rather
than surfacing later as a confusing failure deep inside a job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

DEFAULT_SECRET = "dev-only-secret-do-not-use-in-production"  # noqa: S105 - a marker, not a secret
#: The local ``dispatch serve`` of the demo: member links work on this machine.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEFAULT_MAILTO = "peruutus@esimerkki.fi"
DEFAULT_SENDER_NAME = "Osuuskauppa Esimerkki"
DEFAULT_SENDER_UNIT = "Kanta-asiakaspalvelu"
DEFAULT_SENDER_STREET = "PL 100"
DEFAULT_SENDER_POSTCODE = "00101"
DEFAULT_SENDER_POST_TOWN = "Helsinki"
DEFAULT_SENDER_PHONE = "010 123 4567"
DEFAULT_MAIL_FROM = "uutiset@esimerkki.fi"
DEFAULT_ENVELOPE_SENDER = "palautukset@esimerkki.fi"
_MAILTO = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
#: The demo cooperative's identity, by variable: what its letters and e-mails say
#: about who sends them. Fine for a demo, wrong anywhere else, so production refuses
#: each of them (an unset variable means its demo value).
DEMO_IDENTITY = {
    "DISPATCH_PUBLIC_URL": DEFAULT_PUBLIC_URL,
    "DISPATCH_UNSUBSCRIBE_MAILTO": DEFAULT_MAILTO,
    "DISPATCH_SENDER_NAME": DEFAULT_SENDER_NAME,
    "DISPATCH_SENDER_UNIT": DEFAULT_SENDER_UNIT,
    "DISPATCH_SENDER_STREET": DEFAULT_SENDER_STREET,
    "DISPATCH_SENDER_POSTCODE": DEFAULT_SENDER_POSTCODE,
    "DISPATCH_SENDER_POST_TOWN": DEFAULT_SENDER_POST_TOWN,
    "DISPATCH_SENDER_PHONE": DEFAULT_SENDER_PHONE,
    "DISPATCH_MAIL_FROM": DEFAULT_MAIL_FROM,
    "DISPATCH_MAIL_FROM_NAME": DEFAULT_SENDER_NAME,
    "DISPATCH_ENVELOPE_SENDER": DEFAULT_ENVELOPE_SENDER,
}


class ConfigError(ValueError):
    """A ``DISPATCH_*`` variable holds a value we cannot use."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    broker_url: str
    outbox_url: str
    mailer_url: str
    actor: str | None
    secret_key: str
    var_dir: Path
    #: The dispatcher's Ed25519 key that signs every manifest (created if absent).
    signing_key_file: Path
    #: The print house's age recipient (``age1...``) or a file holding it; unset
    #: means post campaigns cannot start.
    printhouse_recipient: str | None
    #: Recipients per batch job (one PDF or one run of e-mails).
    batch_size: int
    #: Partner campaigns with fewer recipients than this are refused.
    min_partner_audience: int
    #: At most this many marketing contacts per member per channel in 30 days.
    frequency_cap: int
    #: A batch claim not renewed for this long belongs to a dead worker.
    batch_lease_seconds: int
    #: Seconds between a long-running worker's sweeps for work left behind.
    sweep_seconds: int
    #: Days a batch may stay in the outbox unacknowledged (its delete-by time).
    outbox_retention_days: int
    s3_endpoint_url: str | None
    #: Approvals by someone other than the creator or submitter (DISPATCH_FOUR_EYES;
    #: only development may turn it off).
    four_eyes: bool = True
    #: Where members reach the service (DISPATCH_PUBLIC_URL): the base of every
    #: member link in e-mails and letters (unsubscribe, preference centre, codes).
    public_url: str = DEFAULT_PUBLIC_URL
    #: The ``mailto:`` unsubscribe address of every e-mail (DISPATCH_UNSUBSCRIBE_MAILTO).
    unsubscribe_mailto: str = DEFAULT_MAILTO
    #: The mailbox of that address that ``dispatch mailer inbound`` reads
    #: (DISPATCH_INBOUND_URL): ``maildir://PATH`` or ``imaps://user:pass@host/INBOX``.
    inbound_url: str = "maildir://./var/inbound"
    #: Who sends the letters and e-mails (the sender block, the objection notice, the
    #: e-mail footer): DISPATCH_SENDER_NAME, _UNIT ("-": none), _STREET, _POSTCODE,
    #: _POST_TOWN, _PHONE.
    sender_name: str = DEFAULT_SENDER_NAME
    sender_unit: str | None = DEFAULT_SENDER_UNIT
    sender_street: str = DEFAULT_SENDER_STREET
    sender_postcode: str = DEFAULT_SENDER_POSTCODE
    sender_post_town: str = DEFAULT_SENDER_POST_TOWN
    sender_phone: str = DEFAULT_SENDER_PHONE
    #: The e-mails' From address (DISPATCH_MAIL_FROM) and display name
    #: (DISPATCH_MAIL_FROM_NAME, default the sender's name); Message-IDs use the
    #: address's domain.
    mail_from: str = DEFAULT_MAIL_FROM
    mail_from_name: str = DEFAULT_SENDER_NAME
    #: The SMTP envelope sender (MAIL FROM, Return-Path), where bounces go.
    envelope_sender: str = DEFAULT_ENVELOPE_SENDER
    #: Partner reports (docs/reports.md): the minimum cell size k (never below 10) ...
    report_min_cell: int = 50
    #: ... each partner's privacy budget per calendar month, ε and δ ...
    report_epsilon: float = 10.0
    report_delta: float = 1e-6
    #: ... and the noise: ``laplace`` (discrete Laplace, pure ε-DP) or ``gaussian``.
    report_mechanism: str = "laplace"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _no_controls(name: str, value: str) -> None:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ConfigError(name, "must not contain control characters")


def _split(name: str, value: str) -> SplitResult:
    """``urlsplit(value)``, refusing what it cannot read and control characters."""
    _no_controls(name, value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise ConfigError(name, f"not a valid URL ({exc}): {value!r}") from None
    return parts


def _url(env: Mapping[str, str], name: str, default: str, schemes: set[str]) -> str:
    value = env.get(name, "").strip() or default
    scheme = _split(name, value).scheme
    base = scheme.split("+", 1)[0]
    if base not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise ConfigError(
            name, f"unsupported scheme {scheme or '(none)'!r} in {value!r}; use {allowed}"
        )
    return value


def _secret(env: Mapping[str, str], deployment: str) -> str:
    path = env.get("DISPATCH_SECRET_KEY_FILE", "").strip()
    if path:
        try:
            secret = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                "DISPATCH_SECRET_KEY_FILE", f"cannot read {path}: {exc.strerror}"
            ) from exc
        except UnicodeDecodeError:
            raise ConfigError("DISPATCH_SECRET_KEY_FILE", f"{path} is not UTF-8 text") from None
    else:
        secret = env.get("DISPATCH_SECRET_KEY", "").strip() or DEFAULT_SECRET
    if deployment == "production" and secret == DEFAULT_SECRET:
        raise ConfigError(
            "DISPATCH_SECRET_KEY", "the embedded development secret is refused in production"
        )
    if len(secret) < 16:
        variable = "DISPATCH_SECRET_KEY_FILE" if path else "DISPATCH_SECRET_KEY"
        raise ConfigError(variable, "must be at least 16 characters")
    return secret


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(name, f"must be between {minimum} and {maximum}, not {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low:g} and {high:g}, not {value:g}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}, not {value!r}")
    return value


def _four_eyes(env: Mapping[str, str], deployment: str) -> bool:
    raw = env.get("DISPATCH_FOUR_EYES", "").strip().lower() or "on"
    if raw not in {"on", "off"}:
        raise ConfigError("DISPATCH_FOUR_EYES", f"must be on or off, not {raw!r}")
    if raw == "off" and deployment == "production":
        raise ConfigError("DISPATCH_FOUR_EYES", "cannot be off in production")
    return raw == "on"


def _public_url(env: Mapping[str, str], deployment: str) -> str:
    """The members' base URL: http(s), a host, no query; https in production unless it
    is this machine (where the tokens never cross a network)."""
    name = "DISPATCH_PUBLIC_URL"
    value = env.get(name, "").strip().rstrip("/") or DEFAULT_PUBLIC_URL
    parts = _split(name, value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(name, f"expected http(s)://HOST[:PORT][/PATH], not {value!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(name, "must not carry a query, fragment or credentials")
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if deployment == "production" and parts.scheme != "https" and not loopback:
        raise ConfigError(name, "must be https in production (member links carry tokens)")
    return value


def _address(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not _MAILTO.match(value):
        raise ConfigError(name, f"not an e-mail address: {value!r}")
    return value


def _line(env: Mapping[str, str], name: str, default: str, max_len: int = 80) -> str:
    """One printed line of the sender block or a header: no control characters."""
    value = " ".join(env.get(name, "").split()) or default
    if len(value) > max_len or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(name, f"must be one line of at most {max_len} characters")
    return value


def _demo_identity(env: Mapping[str, str], settings: Settings) -> None:
    """Refuse the demo cooperative's identity in production, naming every variable
    that still has it (one line: the operator fixes them all in one go)."""
    used = {
        "DISPATCH_PUBLIC_URL": settings.public_url,
        "DISPATCH_UNSUBSCRIBE_MAILTO": settings.unsubscribe_mailto,
        "DISPATCH_SENDER_NAME": settings.sender_name,
        "DISPATCH_SENDER_UNIT": settings.sender_unit,
        "DISPATCH_SENDER_STREET": settings.sender_street,
        "DISPATCH_SENDER_POSTCODE": settings.sender_postcode,
        "DISPATCH_SENDER_POST_TOWN": settings.sender_post_town,
        "DISPATCH_SENDER_PHONE": settings.sender_phone,
        "DISPATCH_MAIL_FROM": settings.mail_from,
        # The display name defaults to the sender's own name, which is checked above.
        "DISPATCH_MAIL_FROM_NAME": env.get("DISPATCH_MAIL_FROM_NAME", "").strip() or None,
        "DISPATCH_ENVELOPE_SENDER": settings.envelope_sender,
    }
    demo = [name for name, value in used.items() if value == DEMO_IDENTITY[name]]
    if demo:
        raise ConfigError(
            demo[0] if len(demo) == 1 else ", ".join(demo),
            "the demo cooperative's value is refused in production; set "
            + ("it" if len(demo) == 1 else "each of them"),
        )


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    deployment = env.get("DISPATCH_ENV", "").strip() or "development"
    if deployment not in {"development", "production"}:
        raise ConfigError("DISPATCH_ENV", f"must be development or production, not {deployment!r}")
    _no_controls("DISPATCH_VAR_DIR", env.get("DISPATCH_VAR_DIR", ""))
    var_dir = Path(env.get("DISPATCH_VAR_DIR", "").strip() or "./var")
    # Keep "./" on a relative folder: "file://var/outbox" would read "var" as a host.
    var = var_dir.as_posix() if var_dir.is_absolute() else f"./{var_dir.as_posix()}"
    sender_name = _line(env, "DISPATCH_SENDER_NAME", DEFAULT_SENDER_NAME)
    unit = _line(env, "DISPATCH_SENDER_UNIT", DEFAULT_SENDER_UNIT)
    settings = Settings(
        env=deployment,
        database_url=_url(
            env,
            "DISPATCH_DATABASE_URL",
            f"sqlite:///{var_dir / 'dispatch.db'}",
            {"sqlite", "postgresql"},
        ),
        # An empty broker URL means the in-process worker (embedded mode).
        broker_url=_url(
            env,
            "DISPATCH_BROKER_URL",
            "inprocess://",
            {"inprocess", "redis", "rediss", "amqp", "amqps"},
        ),
        outbox_url=_url(env, "DISPATCH_OUTBOX_URL", f"file://{var}/outbox", {"file", "s3"}),
        mailer_url=_url(
            env,
            "DISPATCH_MAILER_URL",
            f"maildir://{var}/mail",
            {"maildir", "smtp", "smtps", "ses"},
        ),
        actor=env.get("DISPATCH_ACTOR", "").strip() or None,
        secret_key=_secret(env, deployment),
        var_dir=var_dir,
        signing_key_file=Path(
            env.get("DISPATCH_SIGNING_KEY_FILE", "").strip()
            or var_dir / "keys" / "dispatch-signing.pem"
        ),
        printhouse_recipient=env.get("DISPATCH_PRINTHOUSE_RECIPIENT", "").strip() or None,
        batch_size=_int(env, "DISPATCH_BATCH_SIZE", 1000, 1, 100_000),
        min_partner_audience=_int(env, "DISPATCH_MIN_PARTNER_AUDIENCE", 100, 1, 10_000_000),
        frequency_cap=_int(env, "DISPATCH_FREQUENCY_CAP", 4, 1, 1000),
        batch_lease_seconds=_int(env, "DISPATCH_BATCH_LEASE_SECONDS", 600, 1, 86_400),
        sweep_seconds=_int(env, "DISPATCH_SWEEP_SECONDS", 30, 1, 3600),
        outbox_retention_days=_int(env, "DISPATCH_OUTBOX_RETENTION_DAYS", 14, 1, 365),
        s3_endpoint_url=env.get("DISPATCH_S3_ENDPOINT_URL", "").strip() or None,
        four_eyes=_four_eyes(env, deployment),
        public_url=_public_url(env, deployment),
        unsubscribe_mailto=_address(env, "DISPATCH_UNSUBSCRIBE_MAILTO", DEFAULT_MAILTO),
        sender_name=sender_name,
        sender_unit=None if unit == "-" else unit,
        sender_street=_line(env, "DISPATCH_SENDER_STREET", DEFAULT_SENDER_STREET),
        sender_postcode=_line(env, "DISPATCH_SENDER_POSTCODE", DEFAULT_SENDER_POSTCODE, 12),
        sender_post_town=_line(env, "DISPATCH_SENDER_POST_TOWN", DEFAULT_SENDER_POST_TOWN),
        sender_phone=_line(env, "DISPATCH_SENDER_PHONE", DEFAULT_SENDER_PHONE, 40),
        mail_from=_address(env, "DISPATCH_MAIL_FROM", DEFAULT_MAIL_FROM),
        mail_from_name=_line(env, "DISPATCH_MAIL_FROM_NAME", sender_name),
        envelope_sender=_address(env, "DISPATCH_ENVELOPE_SENDER", DEFAULT_ENVELOPE_SENDER),
        inbound_url=_url(
            env, "DISPATCH_INBOUND_URL", f"maildir://{var}/inbound", {"maildir", "imap", "imaps"}
        ),
        report_min_cell=_int(env, "DISPATCH_REPORT_MIN_CELL", 50, 10, 100_000),
        report_epsilon=_float(env, "DISPATCH_REPORT_EPSILON", 10.0, 0.1, 100.0),
        report_delta=_float(env, "DISPATCH_REPORT_DELTA", 1e-6, 0.0, 1e-3),
        report_mechanism=_choice(
            env, "DISPATCH_REPORT_MECHANISM", "laplace", ("laplace", "gaussian")
        ),
    )
    if deployment == "production":
        _demo_identity(env, settings)
    return settings
