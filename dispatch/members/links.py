"""Checking member links: unguessable, single-purpose, expiring, revocable.

Links of a (campaign, member) are issued with the letters and e-mails that carry them
(:func:`dispatch.campaigns.links.issue`); sessions and confirmations are made here at
random (:func:`create`). A look-up (:func:`look_up`) finds the row by the value's
digest, checks the HMAC once more against the row's campaign and member, and refuses
what is unknown (404) or expired, revoked, used or of an erased member (410).
Look-ups that find nothing are counted per origin: too many in :data:`FAILURE_WINDOW`
and the origin is refused for a while (429), so that guessing codes is hopeless even
before the 60 bits of a code are counted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from dispatch.campaigns import links as campaign_links
from dispatch.campaigns.models import MemberLink
from dispatch.db.engine import open_session
from dispatch.db.types import MemberStatus, utcnow
from dispatch.errors import OperationError
from dispatch.members.models import LinkFailure
from dispatch.register import tokens
from dispatch.register.models import Member
from dispatch.register.tokens import LinkPurpose

FAILURE_LIMIT = 30
FAILURE_WINDOW = dt.timedelta(minutes=10)


class LinkRefused(OperationError):
    """The link does not open anything: ``status`` 404 (unknown), 410 (no longer), 429."""

    def __init__(self, status: int, kind: str) -> None:
        super().__init__(f"member link refused: {kind}")
        self.status = status
        self.kind = kind


def look_up(
    session: Session, purpose: LinkPurpose, value: str, secret: str, *, origin: str | None
) -> MemberLink:
    """The live link ``value`` for ``purpose``, or :class:`LinkRefused`.

    A letter code is read as typed (:func:`tokens.read_code`). Failures are counted
    against ``origin`` (an address on the web); an origin over the limit is refused
    before the look-up. ``None`` is the service itself (the unsubscribe mailbox).
    """
    if origin is not None and rate_limited(session, origin):
        raise LinkRefused(429, "too many attempts")
    if purpose == LinkPurpose.LETTER:
        value = tokens.read_code(value) or ""
    row = session.get(MemberLink, tokens.digest(purpose, value)) if value else None
    if row is None or row.purpose != purpose.value or not _genuine(row, value, secret):
        if origin is not None:
            _failed(session, origin)
        raise LinkRefused(404, "unknown")
    now = utcnow()
    if row.revoked_at is not None:
        raise LinkRefused(410, "revoked")
    if row.used_at is not None:
        raise LinkRefused(410, "used")
    if row.expires_at <= now:
        raise LinkRefused(410, "expired")
    status = session.scalar(select(Member.status).where(Member.id == row.member_id))
    if status == MemberStatus.ERASED:
        raise LinkRefused(410, "erased")
    return row


def _genuine(row: MemberLink, value: str, secret: str) -> bool:
    """A campaign link must still be the HMAC of its row's campaign and member."""
    purpose = LinkPurpose(row.purpose)
    if purpose not in campaign_links.CAMPAIGN_LINKS:
        return True  # random values: the digest is all there is
    if row.campaign_id is None:
        return False
    return tokens.same(
        campaign_links.campaign_value(purpose, secret, row.campaign_id, row.member_id), value
    )


def rate_limited(session: Session, origin: str) -> bool:
    since = utcnow() - FAILURE_WINDOW
    count = session.scalar(
        select(func.count())
        .select_from(LinkFailure)
        .where(LinkFailure.origin == origin, LinkFailure.at > since)
    )
    return (count or 0) >= FAILURE_LIMIT


def _failed(session: Session, origin: str) -> None:
    """Count a failed look-up in a transaction of its own: the caller's is rolled back
    when the refusal reaches the client, and the count must stay."""
    bind = session.get_bind()
    failure = LinkFailure(origin=origin[:64], at=utcnow())
    if not isinstance(bind, Engine):  # a session on one connection: its transaction
        session.add(failure)
        session.flush()
        return
    with open_session(bind) as own, own.begin():
        own.add(failure)


def create(
    session: Session,
    purpose: LinkPurpose,
    member_id: int,
    *,
    campaign_id: int | None,
    payload: dict[str, Any] | None = None,
) -> str:
    """A new random link (a session or a confirmation); returns its value, shown once."""
    if purpose in campaign_links.CAMPAIGN_LINKS:
        raise ValueError(f"{purpose} links are made per campaign, not at random")
    value = tokens.random_token()
    now = utcnow()
    session.add(
        MemberLink(
            digest=tokens.digest(purpose, value),
            purpose=purpose.value,
            member_id=member_id,
            campaign_id=campaign_id,
            created_at=now,
            expires_at=now + campaign_links.LIFETIMES[purpose],
            payload=payload,
        )
    )
    session.flush()
    return value


def use(session: Session, link: MemberLink) -> None:
    """Spend a single-use link; a second use finds it used (410)."""
    done = session.execute(
        update(MemberLink)
        .where(MemberLink.digest == link.digest, MemberLink.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkRefused(410, "used")  # a concurrent request spent it first


def revoke(session: Session, value: str, purpose: LinkPurpose) -> None:
    """Revoke one link by its value (e.g. a confirmation whose mail did not go)."""
    session.execute(
        update(MemberLink)
        .where(MemberLink.digest == tokens.digest(purpose, value))
        .values(revoked_at=utcnow())
    )


def revoke_member(session: Session, member_id: int) -> int:
    """Revoke every live link of the member (customer service, erasure); how many."""
    done = session.execute(
        update(MemberLink)
        .where(MemberLink.member_id == member_id, MemberLink.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


def purge(session: Session, *, now: dt.datetime | None = None) -> int:
    """Delete links that expired a week ago and old failure counts; how many links."""
    now = now or utcnow()
    done = session.execute(
        delete(MemberLink).where(MemberLink.expires_at < now - dt.timedelta(days=7))
    )
    session.execute(delete(LinkFailure).where(LinkFailure.at < now - FAILURE_WINDOW))
    return int(done.rowcount)  # type: ignore[attr-defined]
