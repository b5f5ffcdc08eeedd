"""Contact flags stay in step with consent_state and suppressions after every kind of write.

The policy reads ``members.consent_flags`` and ``members.suppression_flags`` instead of
the two tables (dispatch.register.flags), so each writer must keep them in step in its
own transaction: a flag left behind would let an objector through.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.orm import Session

from dispatch.db.engine import SESSIONS, open_session
from dispatch.db.types import Channel, Decision, Purpose, SuppressionReason, utcnow
from dispatch.privacy.erasure import erase_member
from dispatch.privacy.policy import Policy
from dispatch.register import flags
from dispatch.register.feed import import_feed
from dispatch.register.models import Member, Suppression
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
    with open_session(engine) as s, s.begin():
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


# The bit positions stored in members.consent_flags and members.suppression_flags of
# every register so far. Copied here so that a change to the table in flags.py (an
# enum member inserted in the middle, a row reordered) fails this test instead of
# silently renumbering the bits already stored. Append new positions; never edit these.
STORED_CONSENT_POSITIONS = {
    ("own_marketing", "post", "granted"): 0,
    ("own_marketing", "email", "granted"): 1,
    ("own_marketing", "sms", "granted"): 2,
    ("own_marketing", "phone", "granted"): 3,
    ("partner_marketing", "post", "granted"): 4,
    ("partner_marketing", "email", "granted"): 5,
    ("partner_marketing", "sms", "granted"): 6,
    ("partner_marketing", "phone", "granted"): 7,
    ("market_research", "post", "granted"): 8,
    ("market_research", "email", "granted"): 9,
    ("market_research", "sms", "granted"): 10,
    ("market_research", "phone", "granted"): 11,
    ("profiling", "post", "granted"): 12,
    ("profiling", "email", "granted"): 13,
    ("profiling", "sms", "granted"): 14,
    ("profiling", "phone", "granted"): 15,
    ("own_marketing", "post", "refused"): 16,
    ("own_marketing", "email", "refused"): 17,
    ("own_marketing", "sms", "refused"): 18,
    ("own_marketing", "phone", "refused"): 19,
    ("partner_marketing", "post", "refused"): 20,
    ("partner_marketing", "email", "refused"): 21,
    ("partner_marketing", "sms", "refused"): 22,
    ("partner_marketing", "phone", "refused"): 23,
    ("market_research", "post", "refused"): 24,
    ("market_research", "email", "refused"): 25,
    ("market_research", "sms", "refused"): 26,
    ("market_research", "phone", "refused"): 27,
    ("profiling", "post", "refused"): 28,
    ("profiling", "email", "refused"): 29,
    ("profiling", "sms", "refused"): 30,
    ("profiling", "phone", "refused"): 31,
    ("own_marketing", "post", "objected"): 32,
    ("own_marketing", "email", "objected"): 33,
    ("own_marketing", "sms", "objected"): 34,
    ("own_marketing", "phone", "objected"): 35,
    ("own_marketing", "any", "objected"): 36,
    ("partner_marketing", "post", "objected"): 37,
    ("partner_marketing", "email", "objected"): 38,
    ("partner_marketing", "sms", "objected"): 39,
    ("partner_marketing", "phone", "objected"): 40,
    ("partner_marketing", "any", "objected"): 41,
    ("market_research", "post", "objected"): 42,
    ("market_research", "email", "objected"): 43,
    ("market_research", "sms", "objected"): 44,
    ("market_research", "phone", "objected"): 45,
    ("market_research", "any", "objected"): 46,
    ("profiling", "post", "objected"): 47,
    ("profiling", "email", "objected"): 48,
    ("profiling", "sms", "objected"): 49,
    ("profiling", "phone", "objected"): 50,
    ("profiling", "any", "objected"): 51,
    ("direct_marketing", "post", "objected"): 52,
    ("direct_marketing", "email", "objected"): 53,
    ("direct_marketing", "sms", "objected"): 54,
    ("direct_marketing", "phone", "objected"): 55,
    ("direct_marketing", "any", "objected"): 56,
}
STORED_SUPPRESSION_POSITIONS = {
    "optout_register": 0,
    "deceased": 1,
    "returned_mail": 2,
    "erased": 3,
}


def _storable_consents() -> set[tuple[str, str, str]]:
    """Every (purpose, channel, decision) that consent.record may store."""
    umbrellas = (Purpose.DIRECT_MARKETING, Channel.ANY)
    return {
        (purpose.value, channel.value, decision.value)
        for decision in Decision
        for purpose in Purpose
        for channel in Channel
        if decision == Decision.OBJECTED or (purpose not in umbrellas and channel not in umbrellas)
    }


def test_bit_positions_already_stored_never_move() -> None:
    for key, position in STORED_CONSENT_POSITIONS.items():
        assert flags.CONSENT_POSITIONS.get(key) == position, key
    for reason, position in STORED_SUPPRESSION_POSITIONS.items():
        assert flags.SUPPRESSION_POSITIONS.get(reason) == position, reason


def test_every_storable_decision_and_reason_has_its_own_bit_in_a_bigint() -> None:
    assert set(flags.CONSENT_POSITIONS) == _storable_consents()
    assert set(flags.SUPPRESSION_POSITIONS) == {r.value for r in SuppressionReason}
    for table in (flags.CONSENT_POSITIONS, flags.SUPPRESSION_POSITIONS):
        positions = list(table.values())
        assert len(set(positions)) == len(positions)  # no bit shared
        assert all(0 <= p < 62 for p in positions)  # fits a signed 64-bit column
    assert max(flags.SUPPRESSION_POSITIONS.values()) < 31  # suppression_flags is INTEGER
    assert flags.CONSENT_BITS[("profiling", "any", "objected")] == 1 << 51


def test_the_bit_tables_are_frozen() -> None:
    with pytest.raises(TypeError):
        flags.CONSENT_POSITIONS[("profiling", "post", "granted")] = 3  # type: ignore[index]
    with pytest.raises(TypeError):
        flags.SUPPRESSION_BITS["erased"] = 1  # type: ignore[index]


def test_the_refresh_hook_is_on_the_projects_sessions_only() -> None:
    assert event.contains(SESSIONS, "after_flush", flags._keep_in_step)
    assert not event.contains(Session, "after_flush", flags._keep_in_step)


def test_a_bare_session_skips_the_hook_and_a_project_session_keeps_the_flags(
    engine: Engine,
) -> None:
    with open_session(engine) as s, s.begin():
        m = member(s)
    with Session(engine) as s, s.begin():  # SQLAlchemy's own class: no project listeners
        suppress(s, m, SuppressionReason.DECEASED)
    with open_session(engine) as s:
        assert flags.drift(s) == 1
        flags.refresh_subjects(s, [m.subject_hash])
        s.commit()
    with open_session(engine) as s, s.begin():
        suppress(s, m, SuppressionReason.ERASED)
    with open_session(engine) as s:
        assert flags.drift(s) == 0
        assert _flags(s, m)[1] == flags.suppression_bits(["deceased", "erased"])
