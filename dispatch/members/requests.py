"""Members' requests that wait for customer service: erasure, and "my data" by post.

A member asks in the preference centre; the request waits in a staff queue
(``/staff/erasures``, ``/staff/exports``), is handled once, and every step is audited:
the member's request (actor :data:`~dispatch.members.services.MEMBER_ACTOR`), each
download of a postal export's letter, and the decision.

A postal export is for a member the service cannot mail: no e-mail address in the
register, or the mailer refused that address for good. Its letter holds why the member
was chosen for each campaign and their purchases, so it never goes through the print
house, which may learn name and address only (DESIGN.md invariant 6): customer service
print it and post it themselves, within the month GDPR Art. 12(3) allows.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from dispatch.db.types import MemberStatus, utcnow
from dispatch.errors import OperationError
from dispatch.members import letter
from dispatch.members.models import (
    ErasureRequest,
    MemberRequest,
    PostalExportRequest,
    RequestStatus,
)
from dispatch.members.services import EXPORT_INTERVAL, MEMBER_ACTOR, Visit, live_member
from dispatch.privacy import export
from dispatch.register import audit
from dispatch.register.models import Member
from dispatch.rendering.layout import SenderInfo

#: Why a postal export was asked for instead of an e-mail.
CAUSES = ("no_email", "undeliverable")
#: The audit actions' middle word per kind ("member.export_declined").
_NOUNS = {ErasureRequest: "erasure", PostalExportRequest: "export"}

R = TypeVar("R", bound=MemberRequest)


class RequestNotFound(OperationError):
    """No request of that kind has this public id (the service answers 404)."""


class RequestConflict(OperationError):
    """The request cannot take this step now: handled already, nothing printed (409)."""


def due_date(requested_at: dt.datetime) -> dt.date:
    """The last day to answer: one calendar month after the request (Art. 12(3)).

    The 31 January's month ends on the last day of February.
    """
    day = requested_at.date()
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def request_erasure(session: Session, visit: Visit, origin: str) -> ErasureRequest | None:
    """Queue the member's erasure request for customer service; None if one is open."""
    member = live_member(session, visit.member_id)
    if _open_one(session, ErasureRequest, member.id) is not None:
        return None
    request = ErasureRequest(member_id=member.id, source=visit.source, language=visit.language)
    _queue(session, request, origin)
    return request


@dataclass(frozen=True)
class PostalAnswer:
    """What became of a member's request for their data by post."""

    #: "queued" (a new request), "open" (one is waiting already) or "limit" (one
    #: was made within the last day).
    state: str
    #: When customer service will have posted it at the latest.
    due: dt.date


def request_postal_export(session: Session, visit: Visit, origin: str, cause: str) -> PostalAnswer:
    """Queue "my data" by post for customer service, at most once a day, audited.

    ``cause`` says why not by e-mail (:data:`CAUSES`). A request while another one
    waits adds nothing: the letter printed then holds everything kept by then.
    """
    if cause not in CAUSES:
        raise ValueError(f"unknown cause {cause!r}")
    member = live_member(session, visit.member_id)
    recent = session.scalar(
        select(func.max(PostalExportRequest.requested_at)).where(
            PostalExportRequest.member_id == member.id,
            PostalExportRequest.requested_at > utcnow() - EXPORT_INTERVAL,
        )
    )
    waiting = _open_one(session, PostalExportRequest, member.id)
    if waiting is not None:
        return PostalAnswer("open", due_date(waiting.requested_at))
    if recent is not None:
        return PostalAnswer("limit", due_date(recent))
    request = PostalExportRequest(
        member_id=member.id, source=visit.source, language=visit.language, cause=cause
    )
    _queue(session, request, origin, destination="post", cause=cause)
    return PostalAnswer("queued", due_date(request.requested_at))


def _queue(session: Session, request: MemberRequest, origin: str, **detail: str) -> None:
    """Add the member's request, audited as ``member.<noun>_requested`` by the member."""
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=MEMBER_ACTOR,
        action=f"member.{_NOUNS[type(request)]}_requested",
        member_id=request.member_id,
        detail={"request": request.public_id, "source": request.source, **detail},
        origin=origin,
    )


def queue(kind: type[R]) -> Select[R]:
    """A queue's requests: open ones first, oldest (the nearest deadline) first."""
    return select(kind).order_by(kind.status != RequestStatus.OPEN.value, kind.requested_at)


def _open_one(session: Session, kind: type[R], member_id: int) -> R | None:
    return session.scalar(
        select(kind)
        .where(kind.member_id == member_id, kind.status == RequestStatus.OPEN.value)
        .order_by(kind.requested_at)
        .limit(1)
    )


def open_request(session: Session, kind: type[R], public_id: str) -> R:
    """The request ``public_id`` of ``kind``, locked, if it is still open."""
    found = session.scalar(select(kind).where(kind.public_id == public_id).with_for_update())
    if found is None:
        raise RequestNotFound(f"no such {_NOUNS[kind]} request")
    if found.status != RequestStatus.OPEN.value:
        raise RequestConflict(f"this request was already handled ({found.status})")
    return found


def close(found: MemberRequest, status: RequestStatus, actor: str, note: str) -> None:
    """Record the decision on the request itself (the caller audits it)."""
    found.status, found.handled_at = status.value, utcnow()
    found.handled_by, found.note = actor, note


def decline(
    session: Session, found: MemberRequest, *, actor: str, reason: str, origin: str | None
) -> None:
    """Decline a request (not the member's, not confirmed, cannot be posted): audited."""
    audit.record(
        session,
        actor=actor,
        action=f"member.{_NOUNS[type(found)]}_declined",
        member_id=found.member_id,
        reason=reason,
        detail={"request": found.public_id},
        origin=origin,
    )
    close(found, RequestStatus.DECLINED, actor, reason)


def export_letter(
    session: Session,
    found: PostalExportRequest,
    sender: SenderInfo,
    *,
    actor: str,
    reason: str,
    origin: str | None,
) -> bytes:
    """The postal export's letter as PDF bytes, made now, audited as ``member.export``.

    Every download is an access to everything kept about the member: the entry names
    the staff member, their reason with the request id, and the client's address.
    The PDF is never written anywhere; the caller streams it.
    """
    member = session.get_one(Member, found.member_id)
    if member.status == MemberStatus.ERASED:
        raise RequestConflict("the member was erased: decline the request")
    if not (member.street and member.postcode and member.post_town):
        raise RequestConflict("the register has no postal address for the member")
    document = export.export_member(
        session,
        member.id,
        actor=actor,
        reason=f"{reason} ({found.public_id})",
        destination="post",
        origin=origin,
    )
    found.downloads += 1
    language = found.language or member.language
    request = (found.public_id, found.requested_at)
    return letter.render(session, document, language, sender, request)


def mark_posted(
    session: Session, found: PostalExportRequest, *, actor: str, note: str, origin: str | None
) -> None:
    """The letter is in the post: audited as ``member.export_posted``.

    Only after its letter was downloaded at least once: what was not printed cannot
    have been posted.
    """
    if found.downloads < 1:
        raise RequestConflict("download and print the letter before marking it posted")
    audit.record(
        session,
        actor=actor,
        action="member.export_posted",
        member_id=found.member_id,
        reason=note,
        detail={"request": found.public_id, "downloads": found.downloads},
        origin=origin,
    )
    close(found, RequestStatus.POSTED, actor, note)


def open_counts(session: Session) -> dict[str, int]:
    """Open requests per kind ("erasure", "postal_export"), for the staff overview."""
    rows = session.execute(
        select(MemberRequest.kind, func.count())
        .where(MemberRequest.status == RequestStatus.OPEN.value)
        .group_by(MemberRequest.kind)
    ).all()
    return {str(kind): int(count) for kind, count in rows}
