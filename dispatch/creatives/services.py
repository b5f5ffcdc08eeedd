"""Partner and creative operations: what the CLI, the API and the renderer call.

Submission validates the bundle completely before the database is touched, so a
rejected bundle leaves no row behind. Approval and rejection are one-way steps from
``submitted``, made with a conditional UPDATE so that two staff members deciding at
once cannot both win. Anything rendered from a stored version first goes through
:func:`load_version_bundle`, which re-hashes the stored bytes.
"""

from __future__ import annotations

import hmac
import re
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.creatives.archive import content_hash, read_zip
from dispatch.creatives.bundle import Bundle, bundle_from_zip, load_bundle
from dispatch.creatives.models import Creative, CreativeStatus, CreativeVersion, Partner
from dispatch.db.types import utcnow
from dispatch.errors import InputError, OperationError

_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,80}\Z")
MAX_REASON = 500


class ContentChanged(OperationError):
    """A stored bundle no longer matches the hash recorded when it was submitted."""


# --- partners ------------------------------------------------------------------------


def create_partner(session: Session, name: str, *, house: bool = False) -> Partner:
    """Register a partner by its (unique) name; ``house``: the cooperative itself."""
    name = name.strip()
    if not _NAME.match(name):
        raise InputError("a partner name is 1-80 characters, no control characters", where="NAME")
    if session.scalar(select(Partner.id).where(Partner.name == name)) is not None:
        raise InputError(f"partner {name!r} exists already", where="NAME")
    partner = Partner(name=name, house=house, created_at=utcnow())
    session.add(partner)
    session.flush()
    return partner


def mark_house(session: Session, name: str) -> Partner:
    """Mark the partner ``name`` as the cooperative itself (see :func:`create_partner`)."""
    partner = get_partner(session, name)
    partner.house = True
    session.flush()
    return partner


_BONUS_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")


def set_bonus_code(session: Session, name: str, code: str) -> Partner:
    """Link the partner ``name`` to its code in the bonus-purchase feed (docs/feed.md)."""
    partner = get_partner(session, name)
    code = code.strip()
    if not _BONUS_CODE.fullmatch(code):
        raise InputError(
            "a bonus code is lower-case letters, digits and _, starting with a letter, "
            "at most 40 characters",
            where="CODE",
        )
    other = session.scalar(select(Partner).where(Partner.bonus_code == code))
    if other is not None and other.id != partner.id:
        raise InputError(f"bonus code {code!r} belongs to {other.name}", where="CODE")
    partner.bonus_code = code
    session.flush()
    return partner


def list_partners(session: Session) -> list[Partner]:
    return list(session.scalars(select(Partner).order_by(Partner.name)))


def get_partner(session: Session, name: str, *, where: str = "PARTNER") -> Partner:
    """The partner called ``name``; InputError at ``where`` (the option the user typed)."""
    partner = session.scalar(select(Partner).where(Partner.name == name.strip()))
    if partner is None:
        raise InputError(f"no partner named {name!r}", where=where)
    return partner


# --- creatives -----------------------------------------------------------------------


def submit(session: Session, partner_name: str, path: str | Path) -> CreativeVersion:
    """Validate the bundle at ``path`` and store it as the next version of its creative.

    Raises :class:`~dispatch.creatives.problems.BundleRejected` (with every problem)
    before anything is written when the bundle is not acceptable.
    """
    partner = get_partner(session, partner_name)
    bundle = load_bundle(path)
    return store_bundle(session, partner, bundle)


def store_bundle(
    session: Session, partner: Partner, bundle: Bundle, *, submitted_by: str | None = None
) -> CreativeVersion:
    """Store a validated bundle as a new version (1 for a new creative name).

    ``submitted_by``: the personal account that uploaded it (None from the staff CLI).
    """
    name = bundle.manifest.name
    creative = session.scalar(
        select(Creative).where(Creative.partner_id == partner.id, Creative.name == name)
    )
    if creative is None:
        creative = Creative(partner_id=partner.id, name=name)
        session.add(creative)
        session.flush()
    latest = session.scalar(
        select(func.max(CreativeVersion.version)).where(CreativeVersion.creative_id == creative.id)
    )
    version = CreativeVersion(
        creative_id=creative.id,
        version=(latest or 0) + 1,
        status=CreativeStatus.SUBMITTED,
        content_hash=bundle.content_hash,
        bundle=bundle.to_zip(),
        manifest=bundle.manifest.as_json(),
        submitted_at=utcnow(),
        submitted_by=submitted_by,
    )
    session.add(version)
    try:
        session.flush()
    except IntegrityError as exc:  # the unique (creative, version) lost a race
        raise OperationError(f"creative {name!r} was submitted concurrently; submit again") from exc
    return version


def list_versions(session: Session, partner_name: str | None = None) -> list[CreativeVersion]:
    """Every version, newest creative first, optionally of one partner."""
    query = (
        select(CreativeVersion)
        .join(Creative, Creative.id == CreativeVersion.creative_id)
        .join(Partner, Partner.id == Creative.partner_id)
        .order_by(Partner.name, Creative.name, CreativeVersion.version)
    )
    if partner_name is not None:
        query = query.where(Partner.id == get_partner(session, partner_name, where="--partner").id)
    return list(session.scalars(query))


def get_version(session: Session, version_id: int, *, where: str = "ID") -> CreativeVersion:
    """One creative version by id; InputError at ``where`` when there is none."""
    version = session.get(CreativeVersion, version_id)
    if version is None:
        raise InputError(f"no creative version {version_id}", where=where)
    return version


def approve(
    session: Session, version_id: int, actor: str, *, four_eyes: bool = True
) -> CreativeVersion:
    """Approve a submitted version (staff only; records who and when).

    With ``four_eyes`` (the default) the person who uploaded it cannot approve it.
    """
    return _decide(session, version_id, CreativeStatus.APPROVED, actor, None, four_eyes)


def reject(
    session: Session, version_id: int, actor: str, reason: str, *, four_eyes: bool = True
) -> CreativeVersion:
    """Reject a submitted version with a reason the partner will see."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InputError(f"a reason of 1-{MAX_REASON} characters is required", where="--reason")
    return _decide(session, version_id, CreativeStatus.REJECTED, actor, reason, four_eyes)


def _decide(
    session: Session,
    version_id: int,
    status: CreativeStatus,
    actor: str,
    reason: str | None,
    four_eyes: bool,
) -> CreativeVersion:
    actor = actor.strip()
    if not actor or len(actor) > 80:
        raise InputError("say who decides with --as NAME (1-80 characters)", where="--as")
    version = get_version(session, version_id)
    if four_eyes and version.submitted_by is not None and version.submitted_by == actor:
        raise OperationError(
            f"creative version {version_id} was uploaded by {actor}; another person decides on it",
            where="ID",
        )
    if status is CreativeStatus.APPROVED:
        verify_content(version)
    # Conditional UPDATE: only one decision can ever move a version out of "submitted".
    result = session.execute(
        update(CreativeVersion)
        .where(
            CreativeVersion.id == version_id,
            CreativeVersion.status == CreativeStatus.SUBMITTED,
        )
        .values(status=status, decided_at=utcnow(), decided_by=actor, reason=reason)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.refresh(version)
        raise OperationError(
            f"creative version {version_id} is {version.status}; only a submitted version "
            "can be approved or rejected",
            where="ID",
        )
    session.refresh(version)
    return version


def verify_content(version: CreativeVersion) -> None:
    """Raise :class:`ContentChanged` unless the stored bundle still has its recorded hash."""
    files, problems = read_zip(version.bundle, check_ratio=False)
    actual = content_hash(files) if not problems else ""
    if problems or not hmac.compare_digest(actual, version.content_hash):
        raise ContentChanged(
            f"creative version {version.id}: stored bundle does not match its content hash"
        )


def load_version_bundle(version: CreativeVersion) -> Bundle:
    """The stored bundle of a version, after verifying its content hash."""
    verify_content(version)
    return bundle_from_zip(version.bundle)
