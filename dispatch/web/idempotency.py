"""``Idempotency-Key`` on every create: a retried request gets the first answer again.

The first request with a key stores its status and JSON body with a hash of what was
asked (method, path, body); a retry with the same key and the same request gets that
stored answer and creates nothing; the same key with a different request is refused
(422), so a client bug cannot silently drop a create.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.accounts.models import IdempotentRequest
from dispatch.db.types import utcnow
from dispatch.web.problems import Problem

KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=100,
        description="A client-chosen unique value; a retry with the same key creates nothing",
    ),
]


async def request_hash(request: Request, payload: bytes | None = None) -> str:
    """SHA-256 of method, path and body; ``payload`` stands for a body already parsed
    as a form (an upload: the file's bytes)."""
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.url.path.encode() + b"\n")
    digest.update(await request.body() if payload is None else payload)
    return digest.hexdigest()


def replay(session: Session, user_id: int, key: str | None, digest: str) -> JSONResponse | None:
    """The stored answer for ``key``, or None when the key is new (or not given)."""
    if not key:
        return None
    if not key.isprintable() or not key.strip():
        raise Problem(422, "Idempotency-Key must be printable text")
    stored = session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.user_id == user_id, IdempotentRequest.key == key
        )
    )
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise Problem(
            422,
            "this Idempotency-Key was used for a different request; use a new key",
            title="Idempotency key reused",
        )
    return JSONResponse(
        stored.response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
    )


def remember(
    session: Session,
    user_id: int,
    key: str | None,
    digest: str,
    status: int,
    body: dict[str, Any],
) -> None:
    """Keep the answer to a create made with ``key`` (same transaction as the create)."""
    if not key:
        return
    session.add(
        IdempotentRequest(
            user_id=user_id,
            key=key,
            request_hash=digest,
            status_code=status,
            response=body,
            created_at=utcnow(),
        )
    )
    session.flush()
