"""Keep the signed-in user readable after a failed request's rollback.

A handler that raises rolls the request's transaction back, and a rollback expires
every object of the session, the principal's user too. What runs after the session
has closed still reads that user: the error page names them in its header and the
access log records their public id; an expired, detached user raises there instead
(a 500 in place of the real 403/404/409/422). Taking the user out of the session
while it can still load keeps the attributes already loaded.

A router dependency of the staff pages and the staff API. The same holds for every
router; the general fix belongs in :func:`dispatch.web.access.db_session`.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request

from dispatch.web.access import DB


def keep_principal(request: Request, session: DB) -> Iterator[None]:
    try:
        yield
    except Exception:
        principal = getattr(request.state, "principal", None)
        if principal is not None and principal.user in session:
            _ = principal.user.partner  # loaded while the session can still load it
            session.expunge(principal.user)
        raise
