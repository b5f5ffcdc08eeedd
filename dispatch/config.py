"""Typed settings read from ``DISPATCH_*`` environment variables.

Every setting has an embedded default so that a demo needs nothing set. A malformed
value fails at start-up with a :class:`ConfigError` that names the variable, rather
than surfacing later as a confusing failure deep inside a job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_SECRET = "dev-only-secret-do-not-use-in-production"  # noqa: S105 - a marker, not a secret


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

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _url(env: Mapping[str, str], name: str, default: str, schemes: set[str]) -> str:
    value = env.get(name, "").strip() or default
    scheme = urlsplit(value).scheme
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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    deployment = env.get("DISPATCH_ENV", "").strip() or "development"
    if deployment not in {"development", "production"}:
        raise ConfigError("DISPATCH_ENV", f"must be development or production, not {deployment!r}")
    var_dir = Path(env.get("DISPATCH_VAR_DIR", "").strip() or "./var")
    # Keep "./" on a relative folder: "file://var/outbox" would read "var" as a host.
    var = var_dir.as_posix() if var_dir.is_absolute() else f"./{var_dir.as_posix()}"
    return Settings(
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
    )
