"""Contact flags stay in step with consent_state and suppressions after every kind of write.

The policy reads ``members.consent_flags`` and ``members.suppression_flags`` instead of
the two tables (dispatch.register.flags), so each writer must keep them in step in its
own transaction: a flag left behind would let an objector through.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from dispatch.db.types import Channel, Decision, Purpose, SuppressionReason, utcnow
from dispatch.privacy.erasure import erase_member
from dispatch.privacy.models import Suppression
from dispatch.privacy.policy import Policy
from dispatch.register import flags
from dispatch.register.feed import import_feed
from dispatch.register.models import Member
from dispatch.register.seed import SeedOptions, seed_register
from tests.factories import TEST_SECRET, member, set_consent, suppress

ANNA = "9246000000000011"


def _flags(session: Session, m: Member) -> tuple[int, int]:
    row = session.execute(
        select(Member.consent_flags, Member.suppression_flags).where(Member.id == m.id)
    ).one()
    return row[0], row[1]


def _rule(session: Session, m: Member, purpose: Purpose, channel: Channel) -> str | None:
    return Policy(purpose, channel).member_rule(session, m.id)


def test_every_key_has_its_own_bit_within_64_bits() -> None:
    bits = list(flags.CONSENT_BITS.values())
    assert len(set(bits)) == len(bits) == 57  # 16 granted + 16 refused + 25 objected
    assert max(bits) < 1 << 63
    assert flags.consent_bits([("own_marketing", "email", "granted")]) == flags.consent_bit(
        Purpose.OWN_MARKETING, Channel.EMAIL, Decision.GRANTED
    )


def test_recorded_consent_changes_the_flags_in_the_same_flush(session: Session) -> None:
    m = member(session)
    assert _flags(session, m) == (0, 0)
    assert _rule(session, m, Purpose.OWN_MARKETING, Channel.EMAIL) == "no_opt_in"

    set_consent(session, m, Purpose.OWN_MARKETING, Channel.EMAIL, Decision.GRANTED)
    granted = flags.consent_bit(Purpose.OWN_MARKETING, Channel.EMAIL, Decision.GRANTED)
    assert _flags(session, m) == (granted, 0)
    assert _rule(session, m, Purpose.OWN_MARKETING, Channel.EMAIL) is None

    # A later decision on the same pair replaces the bit; an objection adds its own.
    set_consent(session, m, Purpose.OWN_MARKETING, Channel.EMAIL, Decision.REFUSED)
    set_consent(session, m, Purpose.DIRECT_MARKETING, Channel.ANY, Decision.OBJECTED)
    refused = flags.consent_bit(Purpose.OWN_MARKETING, Channel.EMAIL, Decision.REFUSED)
    objected = flags.consent_bit(Purpose.DIRECT_MARKETING, Channel.ANY, Decision.OBJECTED)
    assert _flags(session, m) == (refused | objected, 0)
    assert _rule(session, m, Purpose.PARTNER_MARKETING, Channel.POST) == "objection"
    assert flags.drift(session) == 0


def test_a_suppression_added_through_the_session_sets_its_bit(session: Session) -> None:
    m = member(session)
    suppress(session, m, SuppressionReason.OPTOUT_REGISTER)

    assert _flags(session, m) == (0, flags.SUPPRESSION_BITS["optout_register"])
    assert _rule(session, m, Purpose.PARTNER_MARKETING, Channel.POST) == "optout_register"
    assert _rule(session, m, Purpose.OWN_MARKETING, Channel.POST) is None
    assert flags.drift(session) == 0


def test_drift_sees_a_core_write_that_skipped_the_refresh(session: Session) -> None:
    """The check the other tests rely on can fail: a bare Core insert leaves drift."""
    m = member(session)
    session.execute(
        insert(Suppression),
        [{"subject_hash": m.subject_hash, "reason": "deceased", "created_at": utcnow(),
          "source": "test"}],
    )  # fmt: skip
    assert flags.drift(session) == 1
    assert _rule(session, m, Purpose.OWN_MARKETING, Channel.POST) is None  # the danger

    flags.refresh_subjects(session, [m.subject_hash])
    assert flags.drift(session) == 0
    assert _rule(session, m, Purpose.OWN_MARKETING, Channel.POST) == "suppressed"


def test_erasure_and_reimport_keep_the_flags_in_step(engine: Engine, tmp_path: Path) -> None:
    sample = Path(__file__).parent / "feed_sample"
    folder = tmp_path / "feed"
    shutil.copytree(sample, folder)
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok
    with Session(engine) as s:
        assert flags.drift(s) == 0  # consents, suppressions and members from the feed
        anna = s.scalars(select(Member).where(Member.card_number == ANNA)).one()
    with Session(engine) as s, s.begin():
        erase_member(s, anna.id, actor="dpo", reason="member asked")

    # The card comes back in the feed: a new member row, suppressed from its insert.
    for name in ("consents.csv", "suppressions.csv", "purchases.csv", "restaurant_visits.csv",
                 "web_interests.csv"):  # fmt: skip
        (folder / name).unlink()
    assert import_feed(engine, folder, secret_key=TEST_SECRET).ok
    with Session(engine) as s:
        assert flags.drift(s) == 0
        back = s.scalars(select(Member).where(Member.card_number == ANNA)).one()
        assert back.id != anna.id
        assert back.suppression_flags & flags.SUPPRESSION_BITS["erased"]
        assert _rule(s, back, Purpose.OWN_MARKETING, Channel.POST) == "suppressed"


def test_a_seeded_register_has_its_flags_in_step(engine: Engine) -> None:
    options = SeedOptions(members=400, seed=3, as_of=dt.date(2025, 5, 15))
    seed_register(engine, options, secret_key=TEST_SECRET)

    with Session(engine) as s:
        assert flags.drift(s) == 0
        flagged = s.scalar(
            select(Member.id).where(Member.consent_flags != 0, Member.suppression_flags != 0)
        )
        assert flagged is not None  # the seed does write both kinds
