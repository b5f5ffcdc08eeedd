"""``/healthz`` (the process answers) and ``/readyz`` (database, broker, outbox and the
configuration of the channels that active campaigns use)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from dispatch.web.routing import Router

log = logging.getLogger(__name__)
router = Router(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check_database(request: Request) -> None:
    with request.app.state.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _check_broker(request: Request) -> None:
    from dispatch.jobs.broker import is_inprocess

    url = request.app.state.settings.broker_url
    if is_inprocess(url):
        return
    if url.startswith(("redis", "rediss")):
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    else:
        import pika  # type: ignore[import-untyped]

        pika.BlockingConnection(pika.URLParameters(url)).close()


def _check_outbox(request: Request) -> None:
    from dispatch.transports.factory import outbox_from_url

    settings = request.app.state.settings
    outbox_from_url(settings.outbox_url, s3_endpoint=settings.s3_endpoint_url).list_batches()


CHECKS = {"database": _check_database, "broker": _check_broker, "outbox": _check_outbox}


def _configuration(request: Request) -> tuple[dict[str, str], bool]:
    """Each channel's state by the preflight that ``campaign start`` and ``dispatch
    worker`` share; not ready only if a channel an active campaign uses cannot work.
    The answer names the variable; the log line says what is wrong with it."""
    from dispatch.db.engine import session_scope
    from dispatch.jobs import preflight

    settings = request.app.state.settings
    with session_scope(request.app.state.engine) as session:
        in_use = preflight.channels_in_use(session)
    found = preflight.problems(settings, preflight.CHANNELS)
    states = {}
    for channel in preflight.CHANNELS:
        problem = found.get(channel)
        if problem is None:
            states[channel.value] = "ok"
            continue
        log.warning("readiness: %s", problem, extra={"check": f"configuration.{channel}"})
        used = "needed by an active campaign" if channel in in_use else "no active campaign"
        states[channel.value] = f"misconfigured: {problem.variable} ({used})"
    return states, not (in_use & found.keys())


@router.get(
    "/readyz", summary="Database, broker and outbox are reachable; active channels configured"
)
def readyz(request: Request) -> JSONResponse:
    results: dict[str, Any] = {}
    ready = True
    for name, check in CHECKS.items():
        try:
            check(request)
            results[name] = "ok"
        except Exception as exc:
            ready = False
            log.warning(
                "readiness check failed", extra={"check": name, "error": type(exc).__name__}
            )
            results[name] = f"unreachable ({type(exc).__name__})"
    configuration: dict[str, str] | str
    try:
        configuration, configured = _configuration(request)
    except Exception as exc:  # the database check above has said why
        configuration, configured = f"unknown ({type(exc).__name__})", False
    results["configuration"] = configuration
    ready = ready and configured
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": results},
        status_code=200 if ready else 503,
    )
