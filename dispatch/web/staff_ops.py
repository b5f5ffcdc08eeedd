"""What the staff pages and the staff API both do, so that neither repeats the other.

Each function takes the request's session and principal, calls the domain service
(the same one the CLI calls) and writes the audit entry of a staff decision in the
same transaction. Objects are found by their public ids only; a domain error that
names an object by its integer id is re-worded with the public id before it can
reach a page or a JSON document.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from dispatch.campaigns import services as campaigns
from dispatch.campaigns.models import Campaign
from dispatch.creatives import services as creatives
from dispatch.creatives.models import Creative, CreativeStatus, CreativeVersion, Partner
from dispatch.db.types import Channel
from dispatch.errors import DispatchError, InputError
from dispatch.jobs import preflight, worker
from dispatch.privacy import export
from dispatch.register import audit
from dispatch.register.hashing import normalize_card_number, subject_hash
from dispatch.register.models import AuditEntry, Member
from dispatch.web.access import Principal
from dispatch.web.problems import Problem, not_found

#: Where segment files live unless the app says otherwise (``app.state.segments_dir``).
SEGMENTS_DIR = Path("segments")
SEGMENT_SUFFIXES = (".yaml", ".yml")
_SEGMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z")
#: The shape of a public id (dispatch.db.ids): a prefix, "_", lowercase base32.
_PUBLIC_ID = re.compile(r"[a-z]{1,8}_[a-z2-7]{1,32}\Z")
#: The CLI's option names in domain errors, as the web's field names (None: no field).
_FIELDS: dict[str, str | None] = {
    "CAMPAIGN": None,
    "ID": None,
    "--as": None,
    "--creative": "creative",
    "--partner": None,
    "--segment": "segment",
    "--channel": "channel",
    "--send-at": "send_at",
    "--reason": "reason",
}
REASON_MAX = 200  # the audit log's column
CARD_MAX = 40


# --- finding things by public id ----------------------------------------------------


def find_version(session: Session, public_id: str) -> CreativeVersion:
    version = session.scalar(select(CreativeVersion).where(CreativeVersion.public_id == public_id))
    if version is None:
        raise not_found("no such creative version")
    return version


def find_campaign(session: Session, public_id: str) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.public_id == public_id))
    if campaign is None:
        raise not_found("no such campaign")
    return campaign


@contextmanager
def public_ids(*objects: CreativeVersion | Campaign) -> Iterator[None]:
    """Re-word a domain error so that it names ``objects`` by public id, CLI flags as fields."""
    try:
        yield
    except DispatchError as exc:
        message, where = exc.message, exc.where
        for obj in objects:
            label = "campaign" if isinstance(obj, Campaign) else "creative version"
            pattern = re.compile(rf"\b{label} {obj.id}\b")
            message = pattern.sub(f"{label} {obj.public_id}", message)
            where = pattern.sub(f"{label} {obj.public_id}", where) if where else where
        if where in _FIELDS:
            where = _FIELDS[where]
        exc.message, exc.where, exc.args = message, where, (message,)
        raise


# --- creatives -----------------------------------------------------------------------


def review_queue() -> Select[Any]:
    """Every version, those waiting for a decision first, then newest first."""
    waiting = case((CreativeVersion.status == CreativeStatus.SUBMITTED.value, 0), else_=1)
    return select(CreativeVersion).order_by(
        waiting, CreativeVersion.submitted_at.desc(), CreativeVersion.id.desc()
    )


def queue_size(session: Session) -> int:
    count = session.scalar(
        select(func.count()).where(CreativeVersion.status == CreativeStatus.SUBMITTED.value)
    )
    return int(count or 0)


def decide(
    request: Request,
    session: Session,
    principal: Principal,
    version: CreativeVersion,
    *,
    approve: bool,
    reason: str | None = None,
) -> CreativeVersion:
    """Approve or reject ``version`` as ``principal`` (four eyes as configured), audited."""
    four_eyes: bool = request.app.state.settings.four_eyes
    with public_ids(version):
        if approve:
            creatives.approve(session, version.id, principal.name, four_eyes=four_eyes)
        else:
            creatives.reject(session, version.id, principal.name, reason or "", four_eyes=four_eyes)
    audit.record(
        session,
        actor=principal.name,
        action="creative_approve" if approve else "creative_reject",
        member_id=None,
        reason=None if approve else (reason or "").strip()[:REASON_MAX],
        detail={"version": version.public_id},
        origin=principal.origin,
    )
    return version


def approved_versions(session: Session) -> list[CreativeVersion]:
    """What a new campaign may send: approved versions, by partner and creative."""
    return list(
        session.scalars(
            select(CreativeVersion)
            .join(Creative, Creative.id == CreativeVersion.creative_id)
            .join(Partner, Partner.id == Creative.partner_id)
            .where(CreativeVersion.status == CreativeStatus.APPROVED.value)
            .order_by(Partner.name, Creative.name, CreativeVersion.version.desc())
        )
    )


# --- segments ------------------------------------------------------------------------


def segments_dir(request: Request) -> Path:
    """The segment folder: ``app.state.segments_dir`` if set, else ``./segments``."""
    folder = getattr(request.app.state, "segments_dir", None)
    return Path(folder) if folder is not None else SEGMENTS_DIR


def segment_files(folder: Path) -> dict[str, Path]:
    """Segment name (the file name without suffix) -> file, for the files in ``folder``."""
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in SEGMENT_SUFFIXES and path.is_file() and _SEGMENT_NAME.match(path.stem):
            found.setdefault(path.stem, path)
    return found


def segment_file(folder: Path, name: str) -> Path:
    """The file of segment ``name``: only a file listed in the folder, never a path."""
    path = segment_files(folder).get(name) if _SEGMENT_NAME.match(name) else None
    if path is None:
        raise not_found("no segment file of that name in the segments folder")
    return path


# --- campaigns -----------------------------------------------------------------------


def campaign_list(status: str | None) -> Select[Any]:
    query = select(Campaign).order_by(Campaign.id.desc())
    return query.where(Campaign.status == status) if status else query


def parse_send_at(value: str | None) -> dt.datetime | None:
    """An ISO 8601 time with a zone, from a form field (empty: as soon as started)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"not an ISO 8601 time: {value[:40]!r} (e.g. 2026-12-01T09:00+02:00)", where="send_at"
        ) from None
    if moment.tzinfo is None:
        raise InputError("give a time zone, e.g. 2026-12-01T09:00+02:00", where="send_at")
    return moment


def create_campaign(
    session: Session,
    principal: Principal,
    folder: Path,
    *,
    creative: str,
    segment: str,
    channel: str,
    send_at: dt.datetime | None,
    min_partner_audience: int,
    holdout_percent: float = 10.0,
) -> Campaign:
    """A draft campaign of an approved creative version to a segment of the folder.

    The service refuses a send time in the past and a partner campaign whose segment
    selects fewer than ``min_partner_audience`` members now.
    """
    # Checked before the query: PostgreSQL refuses a NUL byte in a text parameter with
    # an error of its own, which must not become a 500 for any body a client sends.
    version = None
    if _PUBLIC_ID.match(creative):
        version = session.scalar(
            select(CreativeVersion).where(CreativeVersion.public_id == creative)
        )
    if version is None:
        raise InputError("no such creative version", where="creative")
    if version.status != CreativeStatus.APPROVED.value:
        raise InputError(
            f"creative version {version.public_id} is {version.status}; choose an approved one",
            where="creative",
        )
    path = segment_files(folder).get(segment) if _SEGMENT_NAME.match(segment) else None
    if path is None:
        raise InputError("no segment file of that name in the segments folder", where="segment")
    with public_ids(version):
        campaign = campaigns.create(
            session,
            partner=version.creative.partner.name,
            creative_version_id=version.id,
            segment_path=path,
            channel=channel,
            actor=principal.name,
            send_at=send_at,
            min_partner_audience=min_partner_audience,
            holdout_percent=holdout_percent,
        )
    _audit_campaign(session, principal, "campaign_create", campaign)
    return campaign


def approve_campaign(
    request: Request, session: Session, principal: Principal, campaign: Campaign
) -> None:
    settings = request.app.state.settings
    version = session.get_one(CreativeVersion, campaign.creative_version_id)
    with public_ids(campaign, version):
        campaigns.approve(
            session,
            campaign,
            principal.name,
            four_eyes=settings.four_eyes,
            min_partner_audience=settings.min_partner_audience,
        )
    _audit_campaign(session, principal, "campaign_approve", campaign)


def start_campaign(
    request: Request, session: Session, principal: Principal, campaign: Campaign
) -> campaigns.Started:
    """Schedule (or resume) the campaign; its jobs are sent when the request commits.

    First the configuration preflight of ``campaign start``: a setting the campaign's
    channel needs and cannot work (no print house key, ...) refuses the start in one
    line (409), before anything changes, rather than failing batch jobs later.
    """
    preflight.require(request.app.state.settings, [Channel(campaign.channel)])
    with public_ids(campaign):
        started = campaigns.start(session, campaign)
    worker.send_started(session, started)
    _audit_campaign(session, principal, "campaign_start", campaign)
    return started


def cancel_campaign(session: Session, principal: Principal, campaign: Campaign) -> int:
    with public_ids(campaign):
        stopped = campaigns.cancel(session, campaign, principal.name)
    _audit_campaign(session, principal, "campaign_cancel", campaign, stopped=stopped)
    return stopped


def _audit_campaign(
    session: Session, principal: Principal, action: str, campaign: Campaign, **extra: Any
) -> None:
    audit.record(
        session,
        actor=principal.name,
        action=action,
        member_id=None,
        detail={"campaign": campaign.public_id, **extra},
        origin=principal.origin,
    )


# --- one member ----------------------------------------------------------------------


def lookup_member(
    session: Session, principal: Principal, secret_key: str, card_number: str, reason: str
) -> dict[str, Any]:
    """The member's full export (as ``dispatch member export``), audited with the reason.

    The card is matched as the feed stores it (digits only); an erased member has no
    card number left, so the card's keyed hash finds them (their suppressions remain).
    A card that belongs to no member reads nobody's data and, as in the CLI, leaves no
    audit entry.
    """
    reason = reason.strip()
    if not reason:
        raise InputError("say why you look this member up", where="reason")
    if len(reason) > REASON_MAX:
        raise InputError(f"a reason is at most {REASON_MAX} characters", where="reason")
    digits = normalize_card_number(card_number)
    if not digits or len(card_number) > CARD_MAX:
        raise InputError("a card number is its digits (spaces allowed)", where="card_number")
    member_id = session.scalar(select(Member.id).where(Member.card_number == digits))
    if member_id is None:
        member_id = session.scalar(
            select(Member.id)
            .where(Member.subject_hash == subject_hash(secret_key, digits))
            .order_by(Member.id)
            .limit(1)
        )
    if member_id is None:
        raise Problem(404, "no member with that card number")
    return export.export_member(
        session,
        member_id,
        actor=principal.name,
        reason=reason,
        destination="web",
        origin=principal.origin,
    )


# --- the audit log -------------------------------------------------------------------


def audit_log(action: str | None) -> Select[Any]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    return query.where(AuditEntry.action == action) if action else query


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
