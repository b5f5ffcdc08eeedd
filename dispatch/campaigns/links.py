"""The member links a campaign's letters and e-mails carry, issued in the batch's step.

Links of a (campaign, member) are written when the e-mail goes to the mailer or the
letter's batch is frozen, in that step's transaction (:func:`issue`); the e-mail
builder and the letter engine compute the same values from the secret
(:mod:`dispatch.register.tokens`). Looking them up, and the links made at random
(sessions, confirmations), are the member pages' side: :mod:`dispatch.members.links`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dispatch.campaigns.models import MemberLink
from dispatch.db.dialect import bigint_array, is_postgres, text_array
from dispatch.db.types import utcnow
from dispatch.register import tokens
from dispatch.register.tokens import LinkPurpose

#: How long each kind of link works. An unsubscribe link must keep working long after
#: the e-mail (a member may act on an old message); a session is a visit.
LIFETIMES: dict[LinkPurpose, dt.timedelta] = {
    LinkPurpose.UNSUBSCRIBE: dt.timedelta(days=365),
    LinkPurpose.CENTRE: dt.timedelta(days=90),
    LinkPurpose.LETTER: dt.timedelta(days=180),
    LinkPurpose.SESSION: dt.timedelta(minutes=30),
    LinkPurpose.CONFIRM: dt.timedelta(hours=48),
}
#: Links made per (campaign, member) from the secret, and checked against it again.
CAMPAIGN_LINKS = frozenset({LinkPurpose.UNSUBSCRIBE, LinkPurpose.CENTRE, LinkPurpose.LETTER})


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert link rows, leaving those that exist (a retried batch makes the same)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = make(MemberLink).on_conflict_do_nothing(index_elements=["digest"])
    session.execute(statement, rows)


def _insert_new_pg(
    session: Session,
    campaign_id: int,
    purpose: LinkPurpose,
    member_ids: Sequence[int],
    digests: list[str],
    now: dt.datetime,
) -> None:
    """The same as :func:`_insert_new` for one purpose on PostgreSQL: one statement
    over two arrays. Sent as rows, each link was a statement of its own (psycopg's
    pipelined executemany): 2,000 links took 41 ms of worker CPU and 105 ms in all;
    as one statement 17 and 57 ms (bench database, 200,000 members)."""
    given = (
        func.unnest(text_array(digests, "digests"), bigint_array(member_ids, "member_ids"))
        .table_valued("digest", "member_id")
        .render_derived()
    )
    rows = select(
        given.c.digest,
        literal(purpose.value, MemberLink.purpose.type),
        given.c.member_id,
        literal(campaign_id, MemberLink.campaign_id.type),
        literal(now, MemberLink.created_at.type),
        literal(now + LIFETIMES[purpose], MemberLink.expires_at.type),
    )
    columns = ["digest", "purpose", "member_id", "campaign_id", "created_at", "expires_at"]
    session.execute(
        pg_insert(MemberLink)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["digest"])
    )


def issue(
    session: Session,
    campaign_id: int,
    member_ids: Sequence[int],
    purposes: Sequence[LinkPurpose],
    secret: str,
    *,
    now: dt.datetime | None = None,
    values: Mapping[int, str] | None = None,
) -> None:
    """Store the campaign's links of ``purposes`` for ``member_ids``, in the caller's step.

    ``values``: the links' values by member, where the caller has made them already
    (a post batch's printed letter codes); one purpose only."""
    now = now or utcnow()
    for purpose in purposes:
        if purpose not in CAMPAIGN_LINKS:
            raise ValueError(f"{purpose} links are not made per campaign")
    if values is not None and len(purposes) != 1:
        raise ValueError("values are given for one purpose at a time")

    def value(purpose: LinkPurpose, member_id: int) -> str:
        made = values.get(member_id) if values is not None else None
        return made if made is not None else campaign_value(purpose, secret, campaign_id, member_id)

    if not member_ids:
        return
    if is_postgres(session):
        for purpose in purposes:
            digests = [tokens.digest(purpose, value(purpose, m)) for m in member_ids]
            _insert_new_pg(session, campaign_id, purpose, member_ids, digests, now)
        return
    rows = []
    for purpose in purposes:
        expires = now + LIFETIMES[purpose]
        for member_id in member_ids:
            rows.append(
                {
                    "digest": tokens.digest(purpose, value(purpose, member_id)),
                    "purpose": purpose.value,
                    "member_id": member_id,
                    "campaign_id": campaign_id,
                    "created_at": now,
                    "expires_at": expires,
                }
            )
    _insert_new(session, rows)


def campaign_value(purpose: LinkPurpose, secret: str, campaign_id: int, member_id: int) -> str:
    """The value of a campaign link, made again from the secret (never stored)."""
    if purpose == LinkPurpose.LETTER:
        return tokens.letter_code(secret, campaign_id, member_id)
    return tokens.campaign_token(secret, purpose, campaign_id, member_id)
