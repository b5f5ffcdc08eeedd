"""What a member can do with a link: withdraw, restrict, object, confirm, ask.

Every consent change is a ledger entry through :func:`dispatch.register.consent.record`
in the caller's transaction, with its source and the campaign the member came from;
the contact flags follow in the same transaction, so a batch that re-checks its
recipients after the commit leaves the member out (invariant 3).

Sources written here (``docs/members.md`` lists them for customer service):

``one-click``         the List-Unsubscribe POST of an e-mail (RFC 8058)
``unsubscribe-mail``  a mail to the List-Unsubscribe ``mailto:`` address
``centre:email``      the preference centre, opened from an e-mail's link
``centre:letter``     the preference centre, opened with a letter's code or QR code
``double-opt-in``     a widening the member confirmed from their registered mailbox
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.campaigns.models import Campaign, MemberLink
from dispatch.db.types import Channel, Decision, MemberStatus, Purpose, utcnow
from dispatch.errors import OperationError
from dispatch.members import choices, links, mail
from dispatch.members.choices import Pair
from dispatch.privacy import export
from dispatch.register import audit, consent
from dispatch.register.models import AuditEntry, ConsentEvent, Member
from dispatch.register.services import get_member
from dispatch.register.tokens import LinkPurpose
from dispatch.rendering.email import DEMO_EMAIL, EmailSettings

ONE_CLICK = "one-click"
UNSUBSCRIBE_MAIL = "unsubscribe-mail"
DOUBLE_OPT_IN = "double-opt-in"
#: The actor of audit entries for what members ask themselves (their name is not known
#: to the service: the link is all it has).
MEMBER_ACTOR = "member (preference centre)"
#: At most this many confirmation mails per member per hour, and one export a day.
CONFIRMATIONS_PER_HOUR = 3
EXPORT_INTERVAL = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Visit:
    """A member in the preference centre: who, from which campaign, with what link."""

    member_id: int
    campaign_id: int | None
    #: "email" (the link at the foot of an e-mail) or "letter" (the code or QR code).
    via: str
    language: str
    #: The session link's digest (to end the visit or change its language).
    digest: str = ""

    @property
    def source(self) -> str:
        return f"centre:{self.via}"


def live_member(session: Session, member_id: int) -> Member:
    """The member, locked for the change at hand; an erased member's link is dead (410)."""
    member = get_member(session, member_id, for_update=True)
    if member.status == MemberStatus.ERASED:
        raise links.LinkRefused(410, "erased")
    return member


def withdraw_email(session: Session, link: MemberLink, *, source: str) -> ConsentEvent | None:
    """Withdraw the e-mail permission for the purpose of the link's campaign.

    None when the member already receives no such e-mail (a repeated request): the
    ledger gets one entry however often the member clicks.
    """
    campaign = session.get_one(Campaign, link.campaign_id)
    member = live_member(session, link.member_id)
    purpose = Purpose(campaign.purpose)
    states = consent.current_states(session, member.id)
    if not consent.allows(states, purpose, Channel.EMAIL, on_optout_register=False):
        return None
    return consent.record(
        session,
        member.id,
        purpose,
        Channel.EMAIL,
        Decision.REFUSED,
        source=source,
        actor=None,
        campaign_id=campaign.id,
    )


def campaign_purpose(session: Session, campaign_id: int | None) -> Purpose | None:
    if campaign_id is None:
        return None
    campaign = session.get(Campaign, campaign_id)
    return Purpose(campaign.purpose) if campaign else None


def open_visit(session: Session, link: MemberLink, language: str | None) -> tuple[str, Visit]:
    """A preference-centre session opened with an e-mail's link or a letter's code."""
    member = live_member(session, link.member_id)
    via = "letter" if link.purpose == LinkPurpose.LETTER else "email"
    lang = language or member.language
    value = links.create(
        session,
        LinkPurpose.SESSION,
        member.id,
        campaign_id=link.campaign_id,
        payload={"via": via, "language": lang},
    )
    return value, Visit(member.id, link.campaign_id, via, lang)


def visit_of(link: MemberLink) -> Visit:
    payload = link.payload or {}
    return Visit(
        link.member_id,
        link.campaign_id,
        str(payload.get("via", "letter")),
        str(payload.get("language", "fi")),
        link.digest,
    )


def set_language(session: Session, visit: Visit, language: str) -> None:
    row = session.get(MemberLink, visit.digest)
    if row is not None:
        row.payload = {**(row.payload or {}), "language": language}


def end_visit(session: Session, visit: Visit) -> None:
    row = session.get(MemberLink, visit.digest)
    if row is not None:
        row.revoked_at = utcnow()


def cells(session: Session, member_id: int) -> list[choices.Cell]:
    return choices.grid(consent.current_states(session, member_id))


def objected(session: Session, member_id: int) -> bool:
    states = consent.current_states(session, member_id)
    return states.get((Purpose.DIRECT_MARKETING, Channel.ANY)) == Decision.OBJECTED


@dataclass
class Outcome:
    """What a submitted choices form did."""

    restricted: list[Pair] = field(default_factory=list)
    #: Widenings a confirmation was asked for (the mail is for the caller to send).
    pending: list[Pair] = field(default_factory=list)
    refused: list[Pair] = field(default_factory=list)
    #: Why the widenings could not be asked for: "no_email", "limit" or None.
    blocked: str | None = None
    #: The confirmation link's value, when one was made.
    confirmation: str | None = None


def apply_choices(session: Session, visit: Visit, wanted: set[Pair]) -> Outcome:
    """Record the restrictions of a submitted form; make a confirmation for widenings."""
    member = live_member(session, visit.member_id)
    plan = choices.plan(cells(session, member.id), wanted)
    outcome = Outcome(refused=plan.refused)
    for purpose, channel in plan.restrict:
        consent.record(
            session,
            member.id,
            purpose,
            channel,
            Decision.REFUSED,
            source=visit.source,
            actor=None,
            campaign_id=visit.campaign_id,
        )
        outcome.restricted.append((purpose, channel))
    if not plan.widen:
        return outcome
    if not member.email:
        outcome.blocked = "no_email"
        return outcome
    if _recent_confirmations(session, member.id) >= CONFIRMATIONS_PER_HOUR:
        outcome.blocked = "limit"
        return outcome
    outcome.pending = plan.widen
    outcome.confirmation = links.create(
        session,
        LinkPurpose.CONFIRM,
        member.id,
        campaign_id=visit.campaign_id,
        payload={"grants": [[p.value, c.value] for p, c in plan.widen], "via": visit.via},
    )
    return outcome


def _recent_confirmations(session: Session, member_id: int) -> int:
    since = utcnow() - dt.timedelta(hours=1)
    count = session.scalar(
        select(func.count())
        .select_from(MemberLink)
        .where(
            MemberLink.member_id == member_id,
            MemberLink.purpose == LinkPurpose.CONFIRM.value,
            MemberLink.created_at > since,
        )
    )
    return count or 0


def grants_of(link: MemberLink) -> list[Pair]:
    return [(Purpose(p), Channel(c)) for p, c in (link.payload or {}).get("grants", [])]


def confirm(session: Session, link: MemberLink) -> list[Pair]:
    """Apply a confirmed widening (double opt-in) and spend the link; what was granted.

    A cell that an objection covers by now stays off: a later objection wins.
    """
    links.use(session, link)
    member = live_member(session, link.member_id)
    locked = {(c.purpose, c.channel) for c in cells(session, member.id) if c.locked}
    granted = []
    for purpose, channel in grants_of(link):
        if (purpose, channel) in locked:
            continue
        consent.record(
            session,
            member.id,
            purpose,
            channel,
            Decision.GRANTED,
            source=DOUBLE_OPT_IN,
            actor=None,
            campaign_id=link.campaign_id,
        )
        granted.append((purpose, channel))
    return granted


def object_all(session: Session, visit: Visit) -> ConsentEvent | None:
    """The member forbids all direct marketing (GDPR Art. 21(2)); None if already."""
    member = live_member(session, visit.member_id)
    if objected(session, member.id):
        return None
    return consent.record(
        session,
        member.id,
        Purpose.DIRECT_MARKETING,
        Channel.ANY,
        Decision.OBJECTED,
        source=visit.source,
        actor=None,
        campaign_id=visit.campaign_id,
    )


def export_allowed(session: Session, member_id: int) -> bool:
    """One export a day: the mail carries everything, and a link holder could spam it."""
    since = utcnow() - EXPORT_INTERVAL
    count = session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.member_id == member_id,
            AuditEntry.action == "member.export",
            AuditEntry.actor == MEMBER_ACTOR,
            AuditEntry.at > since,
        )
    )
    return not count


class ExportRefused(OperationError):
    """The export cannot be sent: ``kind`` is "no_email" or "limit"."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"export not sent: {kind}")
        self.kind = kind


def export_message(
    session: Session, visit: Visit, settings: EmailSettings = DEMO_EMAIL
) -> tuple[str, bytes]:
    """The member's data export as a mail to their registered address, audited.

    Returns (address, message); the caller hands it to the mailer and rolls back if
    the mailer does not take it, so the audit entry says what was really sent.
    """
    member = live_member(session, visit.member_id)
    if not member.email:
        raise ExportRefused("no_email")
    if not export_allowed(session, member.id):
        raise ExportRefused("limit")
    document = export.export_member(
        session,
        member.id,
        actor=MEMBER_ACTOR,
        reason=f"the member's own request ({visit.source})",
        destination="email",
    )
    return member.email, mail.export(session, document, member.email, visit.language, settings)


def revoke_links(session: Session, member_id: int, *, actor: str, reason: str | None) -> int:
    """Customer service revoke every link of the member (a lost or stolen letter),
    audited as ``member.links_revoked``; how many links were live."""
    member = get_member(session, member_id, for_update=True)
    count = links.revoke_member(session, member.id)
    audit.record(
        session,
        actor=actor,
        action="member.links_revoked",
        member_id=member.id,
        reason=reason,
        detail={"revoked": count},
    )
    return count


def ledger_of(session: Session, member_id: int) -> list[dict[str, Any]]:
    """The member's ledger entries, newest first (tests and customer service)."""
    rows = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.member_id == member_id)
        .order_by(ConsentEvent.id.desc())
    )
    return [
        {
            "purpose": r.purpose,
            "channel": r.channel,
            "decision": r.decision,
            "source": r.source,
            "campaign_id": r.campaign_id,
        }
        for r in rows
    ]
