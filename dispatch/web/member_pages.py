"""Rendering the member's pages: their language, its switch, the session cookie, errors.

Members read Finnish or Swedish: a page is in the member's register language unless
they switched (``?lang=sv``), and every page offers the other language. An error on
a member page is a member page too, in both languages (who follows a broken link is
not known), and never the staff sign-in page.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse

from dispatch.members.texts import LANGUAGES, text
from dispatch.transports.factory import mailer_from_url
from dispatch.transports.mailer import Mailer
from dispatch.web import pages
from dispatch.web.access import MEMBER_COOKIE
from dispatch.web.problems import Problem

_MAILER_LOCK = threading.Lock()


def pick_language(request: Request, fallback: str | None = None) -> str:
    """``?lang=`` if it is fi or sv, else ``fallback``, else the browser's, else fi."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    if fallback in LANGUAGES:
        return fallback
    accepted = request.headers.get("accept-language", "").lower()
    return "sv" if accepted.startswith("sv") else "fi"


def render(
    request: Request,
    template: str,
    language: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A member page in ``language`` with a link to the same page in the other one."""
    other = "sv" if language == "fi" else "fi"
    values = {
        "lang": language,
        "t": partial(text, language),
        # Who the member deals with (DISPATCH_SENDER_NAME), not a name written in here.
        "site_name": request.app.state.settings.sender_name,
        "other_lang": other,
        "other_name": text(other, "language.name"),
        # The same path: the member's link or session stays what it was.
        "switch_url": f"{request.url.path}?lang={other}",
        **(context or {}),
    }
    return pages.render(request, f"member/{template}", values, status_code=status_code)


def render_error(request: Request, problem: Problem) -> HTMLResponse:
    """An error on a member page: what happened and what to do, in both languages."""
    key = (
        f"error.{problem.status}" if problem.status in {401, 403, 404, 410, 429} else "error.other"
    )
    if request.url.path == "/k" and problem.status in {404, 410, 429}:
        # A mistyped code: the form again, with the reason beside the field.
        language = pick_language(request)
        message = text(language, "code.unknown" if problem.status != 429 else key)
        return render(
            request, "code.html", language, {"error": message}, status_code=problem.status
        )
    messages = [(lang, text(lang, "error.title"), text(lang, key)) for lang in LANGUAGES]
    response = pages.render(
        request,
        "member/error.html",
        {"messages": messages, "status": problem.status, "lang": pick_language(request)},
        status_code=problem.status,
    )
    response.headers.update(problem.headers)
    if problem.status in {401, 410}:
        response.delete_cookie(MEMBER_COOKIE, path="/")
    return response


def set_session(request: Request, response: Response, value: str, max_age: int) -> None:
    """Give the browser its preference-centre session (nothing but a random value)."""
    response.set_cookie(
        MEMBER_COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.env != "development",
        path="/",
    )


def mailer(request: Request) -> Mailer:
    """The service's mailer (DISPATCH_MAILER_URL), made on first use."""
    state = request.app.state
    with _MAILER_LOCK:
        if getattr(state, "mailer", None) is None:
            state.mailer = mailer_from_url(state.settings.mailer_url)
        found: Mailer = state.mailer
    return found
