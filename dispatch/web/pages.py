"""Server-rendered pages: one Jinja2 environment, one ``render`` every page uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dispatch.web import csrf

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.autoescape = True
#: The pages ship with the package and change only with it: no stat() of each template
#: file on every render to see whether it changed.
TEMPLATES.env.auto_reload = False


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "—"


TEMPLATES.env.filters["when"] = _when


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page ``template`` with the principal, CSRF token and settings filled in."""
    settings = request.app.state.settings
    cookie = csrf.cookie_value(request)
    values = {
        "principal": getattr(request.state, "principal", None),
        "csrf_token": csrf.token_for(settings.secret_key, cookie),
        "csrf_field": csrf.FIELD,
        "development": settings.env == "development",
        **(context or {}),
    }
    response = TEMPLATES.TemplateResponse(
        request, template, values, status_code=status_code, headers=headers
    )
    if request.cookies.get(csrf.COOKIE) != cookie:
        response.set_cookie(
            csrf.COOKIE,
            cookie,
            httponly=True,
            samesite="strict",
            secure=settings.env != "development",
            path="/",
        )
    return response
