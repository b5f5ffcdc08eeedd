"""Errors: RFC 9457 problem details in the API, a readable page in the portals.

A handler turns every exception into one of the two; nothing reaches the client as a
stack trace, and the detail of an unexpected error is logged, never shown.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatch.accounts.services import LoginRefused, RateLimited
from dispatch.errors import DispatchError, InputError, Problems
from dispatch.members.links import LinkRefused
from dispatch.members.requests import RequestNotFound

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Sign in required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Not ready",
}


class Problem(Exception):
    """An error with an HTTP status; ``errors`` lists per-field or per-file problems."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or TITLES.get(status, "Error")
        self.errors = errors or []
        self.headers = headers or {}

    def document(self, instance: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": f"/problems/{self.status}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors:
            doc["errors"] = self.errors
        return doc


def unauthenticated(detail: str = "sign in, or send an API token") -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="dispatch"'})


def forbidden(detail: str = "your role does not allow this") -> Problem:
    return Problem(403, detail)


def not_found(what: str = "no such thing, or not yours") -> Problem:
    return Problem(404, what)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def from_exception(exc: Exception) -> Problem:
    """The problem an exception stands for (500 for anything unexpected)."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, LinkRefused):
        headers = {"Retry-After": "600"} if exc.status == 429 else {}
        return Problem(exc.status, f"the link does not open anything ({exc.kind})", headers=headers)
    if isinstance(exc, RequestNotFound):
        return not_found(exc.message)
    if isinstance(exc, RateLimited):
        return Problem(429, exc.message, headers={"Retry-After": "600"})
    if isinstance(exc, LoginRefused):
        return Problem(401, exc.message)
    if isinstance(exc, Problems):
        errors: list[dict[str, Any]] = []
        for item in exc.problems:
            file, _, line = (item.where or "").partition(":")
            entry: dict[str, Any] = {"where": item.where, "reason": item.message}
            if file:
                entry["file"] = file
            if line.isdigit():
                entry["line"] = int(line)
            errors.append(entry)
        return Problem(422, exc.message, errors=errors)
    if isinstance(exc, InputError):
        return Problem(422, str(exc))
    if isinstance(exc, DispatchError):
        return Problem(409, str(exc))
    if isinstance(exc, RequestValidationError):
        # Field names and messages only: the offending input is not echoed back.
        fields = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "")}
            for e in exc.errors()
        ]
        return Problem(422, "the request is not valid", errors=fields)
    if isinstance(exc, StarletteHTTPException):
        return Problem(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
    if isinstance(exc, DataError | OverflowError):
        # The database refused a value the request carried (PostgreSQL takes no NUL in
        # text and no integer beyond its column; SQLite's driver no integer beyond 64
        # bits): bad input, not our fault. The value is not echoed back.
        log.warning("request value refused by the database: %s", type(exc).__name__)
        return Problem(400, "a value in the request cannot be stored (a NUL, or too large)")
    log.error("unexpected error", exc_info=exc)
    return Problem(500, "something went wrong on our side; it has been logged")


async def handle(request: Request, exc: Exception) -> Response:
    problem = from_exception(exc)
    if is_api(request) or request.url.path in {"/healthz", "/readyz"}:
        return JSONResponse(
            problem.document(request.url.path),
            status_code=problem.status,
            media_type=PROBLEM_JSON,
            headers=problem.headers,
        )
    if getattr(request.state, "member_page", False):
        from dispatch.web.member_pages import render_error

        return render_error(request, problem)
    if problem.status == 401 and request.method in {"GET", "HEAD"}:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    from dispatch.web.pages import render

    return render(
        request,
        "error.html",
        {"problem": problem},
        status_code=problem.status,
        headers=problem.headers,
    )
