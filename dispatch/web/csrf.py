"""CSRF protection for every form: a token bound to a random, strict cookie.

The cookie ``dispatch_csrf`` holds a random value (SameSite=Strict, HttpOnly); each
form carries ``HMAC(secret, value)``. A cross-site form can neither read the cookie
nor compute the token, and a request without both is refused before any handler
runs (:func:`check`, a dependency of every page router).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from dispatch.web.problems import Problem

COOKIE = "dispatch_csrf"
FIELD = "csrf"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def token_for(secret_key: str, cookie_value: str) -> str:
    return hmac.new(
        secret_key.encode(), f"csrf|{cookie_value}".encode(), hashlib.sha256
    ).hexdigest()


def cookie_value(request: Request) -> str:
    """The request's CSRF cookie, or a new value (set on the response by ``render``)."""
    value = request.cookies.get(COOKIE, "")
    if len(value) < 20:
        value = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(24)
        request.state.new_csrf = value
    return value


async def check(request: Request) -> None:
    """Refuse an unsafe request whose form lacks the token for its cookie."""
    if request.method in SAFE:
        return
    cookie = request.cookies.get(COOKIE, "")
    sent = ""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        try:
            form = await request.form()
        except Exception:  # a malformed body is no token
            form = None
        value = form.get(FIELD) if form is not None else None
        sent = value if isinstance(value, str) else ""
    sent = sent or request.headers.get("x-csrf-token", "")
    secret = request.app.state.settings.secret_key
    if not cookie or not sent or not hmac.compare_digest(sent, token_for(secret, cookie)):
        raise Problem(
            403, "the form has expired or did not come from this site; reload the page and retry"
        )
