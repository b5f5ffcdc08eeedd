"""``dispatch serve``: the partner portal and API, the staff portal, under uvicorn.

uvicorn gets the app as an import string with ``factory=True`` so that every worker
process builds its own (engine, connection pool, in-process job runner) from the
same ``DISPATCH_*`` environment; one worker or several is then the same code path.
"""

from __future__ import annotations

import ipaddress
import logging
import logging.config
import sys

import click
import uvicorn

from dispatch.cli.context import AppContext, emit_json, json_option, pass_app
from dispatch.errors import OperationError
from dispatch.jobs.broker import is_inprocess
from dispatch.web.logs import logging_config

APP_FACTORY = "dispatch.web.app:create_app"
log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_to_open(host: str, port: int) -> str:
    """The address a person on this machine opens (a wildcard bind is not one)."""
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (each with its own database pool).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Lowest level written to the JSON log on stderr.",
)
@json_option
@pass_app
def group(
    app: AppContext, host: str, port: int, workers: int, log_level: str, as_json: bool
) -> None:
    """Serve the partner portal and API and the staff portal over HTTP.

    Logs one JSON line per request on stderr (method, route template, status,
    milliseconds, user id: never a query string, token or member data). Refuses an
    unmigrated database. With the embedded in-process broker the service also runs
    the campaign jobs itself; with DISPATCH_BROKER_URL they go to `dispatch worker`.
    In production (DISPATCH_ENV=production) cookies are Secure: terminate TLS in a
    reverse proxy in front (docs/service.md). With --json the line saying where it
    serves is one JSON document instead (the log stays on stderr).
    """
    settings = app.settings
    app.engine()  # NotMigratedError (exit 1) before anything listens
    app.close()
    config = logging_config(log_level)
    logging.config.dictConfig(config)
    if settings.env == "production" and not is_loopback(host):
        log.warning(
            "listening on a public address: session cookies are Secure in production, so "
            "browsers reach the service only through TLS; terminate it in a proxy in front",
            extra={"host": host},
        )
    if workers > 1 and is_inprocess(settings.broker_url):
        log.warning(
            "each worker process runs the jobs it queues itself; set DISPATCH_BROKER_URL "
            "to share them with `dispatch worker` processes",
            extra={"workers": workers},
        )
    base = url_to_open(host, port)
    if as_json:
        emit_json({"url": base, "login": f"{base}/login", "workers": workers, "env": settings.env})
        sys.stdout.flush()  # a script waiting for the document reads it before the server ends
    else:
        click.echo(
            f"dispatch: serving on {base} ({workers} worker{'s' if workers > 1 else ''}, "
            f"{settings.env}); open {base}/login  (Ctrl-C stops)"
        )
    try:
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=config,
            log_level=log_level,
            access_log=False,  # the app writes its own access log, without query strings
            server_header=False,  # say nothing about the server's software and version
            proxy_headers=True,  # client address from a proxy in FORWARDED_ALLOW_IPS
        )
    except SystemExit as exc:  # uvicorn exits on a port in use or an app that fails to load
        if exc.code not in (0, None):
            raise OperationError(
                f"the service did not start on {host}:{port} (the log line above says why)"
            ) from None
