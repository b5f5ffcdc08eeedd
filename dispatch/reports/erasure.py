"""The reports' part of an erasure: the member leaves every estimated audience.

Audiences are kept for the differencing guard; an erased member's row goes. Added to
:mod:`dispatch.privacy.erasure` when this package is imported, because privacy sits
below reports.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from dispatch.privacy import erasure
from dispatch.reports.models import AudienceMember


def forget_member(session: Session, member_id: int) -> None:
    session.execute(delete(AudienceMember).where(AudienceMember.member_id == member_id))


erasure.add_step("reports.audiences", forget_member)
