"""The ASGI application: routers, error handlers, security headers, access log."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    engine = make_engine(settings.database_url)
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
    for exc_type in (Exception, problems.Problem, RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(exc_type, problems.handle)
    app.middleware("http")(_guard)
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


async def _guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Body size limit, security headers, and one structured access-log line."""
    started = time.perf_counter()
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        response: Response = await problems.handle(
            request, problems.Problem(413, f"the request is over {MAX_BODY // 1024 // 1024} MB")
        )
    elif _has_control(request):
        # No path id or query value has a use for one, and a NUL would reach the
        # database (PostgreSQL refuses it in text).
        response = await problems.handle(
            request, problems.Problem(400, "the address has a control character")
        )
    else:
        try:
            response = await call_next(request)
        except Exception as exc:  # an error the handlers did not see (middleware, streaming)
            response = await problems.handle(request, exc)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    route = request.scope.get("route")
    principal = getattr(request.state, "principal", None)
    # The route's template, never the path: no id, token or query string is logged.
    access_log.info(
        json.dumps(
            {
                "method": request.method,
                "route": getattr(route, "path", "(unmatched)"),
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "user": principal.user.public_id if principal else None,
            }
        )
    )
    return response


def _has_control(request: Request) -> bool:
    """Whether the decoded path or query string has a control character."""
    texts = [request.url.path, *request.query_params.keys(), *request.query_params.values()]
    return any(ord(char) < 32 or ord(char) == 127 for text in texts for char in text)
