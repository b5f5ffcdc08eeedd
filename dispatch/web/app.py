"""The ASGI application: routers, error handlers, security headers, access log."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy import make_url
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.config import Settings, load_settings
from dispatch.creatives.archive import MAX_ARCHIVE_BYTES
from dispatch.db.engine import bound_sessions, make_engine
from dispatch.db.migrate import ensure_current
from dispatch.migrations import all_models  # noqa: F401  (every table known to the ORM)
from dispatch.web import (
    auth,
    health,
    member_centre,
    members,
    partner,
    partner_api,
    problems,
    staff,
    staff_api,
)
from dispatch.web.access import DB_SLOTS, read_sessions

access_log = logging.getLogger("dispatch.web.access")
#: Largest request body accepted: a bundle at its limit plus the form around it.
MAX_BODY = MAX_ARCHIVE_BYTES + 64 * 1024
SECURITY_HEADERS = {
    # Pages use no script of their own and nothing from elsewhere.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service for ``settings`` (default: the ``DISPATCH_*`` environment)."""
    settings = settings or load_settings()
    engine = make_engine(settings.database_url, **_pool_for(settings.database_url))
    ensure_current(engine)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from dispatch.web.runner import InProcessRunner

        runner = InProcessRunner.start_if_embedded(settings)
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            if getattr(_app.state, "mailer", None) is not None:
                _app.state.mailer.close()  # made on first use by a member page
            engine.dispose()

    app = FastAPI(
        title="dispatch",
        summary="Partner and staff API of the loyalty-card direct-marketing dispatcher",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = bound_sessions(engine)
    app.state.read_sessions = read_sessions(engine)
    app.state.db_slots = anyio.Semaphore(DB_SLOTS)
    for exc_type in (Exception, problems.Problem, RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(exc_type, problems.handle)
    app.add_middleware(_Guard)
    app.mount(
        "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
    for router in (
        health.router,
        auth.router,
        auth.api,
        partner.router,
        partner_api.router,
        staff.router,
        staff_api.router,
        members.unsubscribe_router,
        members.router,
        member_centre.router,
    ):
        app.include_router(router)
    return app


def _pool_for(url: str) -> dict[str, int]:
    """Room in the connection pool for every admitted request (see ``DB_SLOTS``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        return {}  # one connection shared by all, in a pool that takes no sizes
    # A little over for /readyz, which checks the database outside a request's session.
    return {"pool_size": 2 * DB_SLOTS, "max_overflow": 4}


class _Guard:
    """Body size limit, security headers, and one structured access-log line.

    A plain ASGI middleware (Starlette's ``BaseHTTPMiddleware`` would run every request
    in a task group of its own with memory streams between the two halves, a cost the
    dashboard paid on each view): it refuses an oversized or control-character request
    before the app, adds the headers to the response's start, and logs when it ends.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope)
        status = 500
        response_started = False

        async def send_guarded(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        refusal = _refusal(request)
        try:
            if refusal is not None:
                await (await problems.handle(request, refusal))(scope, receive, send_guarded)
            else:
                await self.app(scope, receive, send_guarded)
        except Exception as exc:  # an error the handlers did not see (middleware, streaming)
            if response_started:
                raise  # too late for an error page: the client sees a cut-off answer
            await (await problems.handle(request, exc))(scope, receive, send_guarded)
        finally:
            _log_access(request, status, started)


def _refusal(request: Request) -> problems.Problem | None:
    """Why a request is refused before the app sees it, if it is."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        return problems.Problem(413, f"the request is over {MAX_BODY // 1024 // 1024} MB")
    if _has_control(request):
        # No path id or query value has a use for one, and a NUL would reach the
        # database (PostgreSQL refuses it in text).
        return problems.Problem(400, "the address has a control character")
    return None


def _route_template(scope: Scope) -> str:
    """The template of the route a request matched, never its path: no id, token or
    query string is logged. A mounted app (the static files) sets no route, but its
    mount point is the scope's ``root_path``."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    if "endpoint" in scope and scope.get("root_path"):
        return f"{scope['root_path']}/{{path}}"
    return "(unmatched)"


def _log_access(request: Request, status: int, started: float) -> None:
    principal = getattr(request.state, "principal", None)
    access_log.info(
        json.dumps(
            {
                "method": request.method,
                "route": _route_template(request.scope),
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "user": principal.identity.public_id if principal else None,
            }
        )
    )


def _has_control(request: Request) -> bool:
    """Whether the decoded path or query string has a control character."""
    texts = [request.url.path, *request.query_params.keys(), *request.query_params.values()]
    return any(ord(char) < 32 or ord(char) == 127 for text in texts for char in text)
