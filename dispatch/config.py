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
    )
