"""A dispatch scenario for the job tests: a register, two campaigns, and what to check.

The register is built with the named factories; every member has a unique last name
(``Testinen<id>``) and e-mail address, so what reached the print house (decrypted
letters) and the SMTP server can be counted per member.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from dispatch import batchformat as bf
from dispatch.campaigns import report as reports
from dispatch.campaigns import services as campaigns
from dispatch.campaigns.delivery import UNCONFIRMED
from dispatch.campaigns.models import (
    Campaign,
    CampaignBatch,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
)
from dispatch.campaigns.states import FINAL
from dispatch.creatives import services as creatives
from dispatch.db.engine import session_scope
from dispatch.db.types import Channel, Decision, Purpose
from dispatch.transports.outbox import Outbox
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
POST_CREATIVE = ROOT / "templates" / "creatives" / "coop-bicycles"
EMAIL_CREATIVE = ROOT / "templates" / "creatives" / "nordic-air-spring"
OWN = "Osuuskauppa"
PARTNER = "Nordic Air"

POST_SEGMENT = """\
name: jobs-post
description: Everyone in Uusimaa, by post
purpose: own_marketing
channel: post
where:
  all:
    - region: Uusimaa
"""
EMAIL_SEGMENT = """\
name: jobs-email
description: Everyone in Uusimaa, by e-mail (the policy keeps those who opted in)
purpose: partner_marketing
channel: email
where:
  all:
    - region: Uusimaa
"""
LAST_NAME = re.compile(r"Testinen(\d+)\b")


@dataclass(frozen=True)
class Register:
    """Members by id: their last name and e-mail address."""

    last_names: dict[int, str]
    emails: dict[int, str]


def seed(engine: Engine, members: int, *, email_opt_in: bool = True) -> Register:
    """``members`` deliverable adults in Uusimaa (opted in to partner e-mail, if asked)."""
    last_names: dict[int, str] = {}
    emails: dict[int, str] = {}
    with session_scope(engine) as session:
        for _ in range(members):
            m = factories.member(session)
            if email_opt_in:
                factories.set_consent(
                    session, m, Purpose.PARTNER_MARKETING, Channel.EMAIL, Decision.GRANTED
                )
            last_names[m.id] = m.last_name
            emails[m.id] = m.email or ""
    return Register(last_names, emails)


def approved_campaign(engine: Engine, tmp_path: Path, channel: str) -> int:
    """An approved campaign by ``channel`` to every member of the register."""
    post = channel == "post"
    partner, bundle = (OWN, POST_CREATIVE) if post else (PARTNER, EMAIL_CREATIVE)
    segment = tmp_path / f"jobs-{channel}.yaml"
    segment.write_text(POST_SEGMENT if post else EMAIL_SEGMENT, encoding="utf-8")
    with session_scope(engine) as session:
        if partner not in {p.name for p in creatives.list_partners(session)}:
            creatives.create_partner(session, partner, house=partner == OWN)
        version = creatives.submit(session, partner, bundle)
        creatives.approve(session, version.id, "anna")
        campaign = campaigns.create(
            session,
            partner=partner,
            creative_version_id=version.id,
            segment_path=segment,
            channel=channel,
            actor="anna",
            min_partner_audience=1,
            holdout_percent=0,  # these tests count every selected member as contacted
        )
        campaigns.approve(session, campaign, "bertil", min_partner_audience=1)
        return campaign.id


def status(engine: Engine, campaign_id: int) -> str:
    with session_scope(engine) as session:
        value: str = session.execute(
            select(Campaign.status).where(Campaign.id == campaign_id)
        ).scalar_one()
        return value


def wait_for(what: str, ready: Callable[[], bool], timeout: float, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


def wait_completed(engine: Engine, campaign_id: int, timeout: float = 90) -> None:
    wait_for(
        f"campaign {campaign_id} to complete",
        lambda: CampaignStatus(status(engine, campaign_id)) in FINAL,
        timeout,
    )
    final = report(engine, campaign_id)
    assert final.campaign["status"] == CampaignStatus.COMPLETED.value, final.as_json()


def report(engine: Engine, campaign_id: int) -> reports.Report:
    with session_scope(engine) as session:
        return reports.report(session, campaigns.get(session, campaign_id))


def outcomes(engine: Engine, campaign_id: int) -> dict[int, tuple[str, str | None]]:
    """(status, reason) per member of the campaign."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                CampaignRecipient.member_id, CampaignRecipient.status, CampaignRecipient.reason
            ).where(CampaignRecipient.campaign_id == campaign_id)
        )
        return {member: (state, reason) for member, state, reason in rows}


def batches(engine: Engine, campaign_id: int) -> list[CampaignBatch]:
    with session_scope(engine) as session:
        rows = list(
            session.scalars(
                select(CampaignBatch)
                .where(CampaignBatch.campaign_id == campaign_id)
                .order_by(CampaignBatch.number)
            )
        )
        session.expunge_all()
        return rows


def assert_reconciled(engine: Engine, campaign_id: int) -> reports.Report:
    """The staff report adds up, and nothing is left in flight (the campaign is done)."""
    result = report(engine, campaign_id)
    assert result.finished, result.campaign["status"]
    assert result.reconciled, result.as_json()
    assert result.total.in_flight == 0
    assert result.total.snapshot == result.campaign["recipients"] > 0
    return result


def outbox_letters(outbox: Outbox, identity: str) -> Counter[int]:
    """How many letters each member has in the outbox's complete batches.

    Every batch is decrypted with the print house's identity and checked against its
    manifest: one member name per letter, pages as the manifest says.
    """
    import pypdfium2

    found: Counter[int] = Counter()
    for batch_id in outbox.list_complete():
        manifest = bf.Manifest.parse(outbox.get(batch_id, bf.MANIFEST))
        pdf = bf.decrypt(outbox.get(batch_id, bf.ENCRYPTED_PDF), identity)
        pages = manifest.pages_per_letter
        per_letter = list(pages) if isinstance(pages, tuple) else [pages] * manifest.letter_count
        document = pypdfium2.PdfDocument(pdf)
        try:
            assert len(document) == sum(per_letter), batch_id
            page = 0
            for count in per_letter:
                text = "".join(
                    document[page + i].get_textpage().get_text_range() for i in range(count)
                )
                page += count
                names = {int(n) for n in LAST_NAME.findall(text)}
                assert len(names) == 1, (batch_id, names)
                found.update(names)
        finally:
            document.close()
    return found


def assert_post_exactly_once(
    engine: Engine, campaign_id: int, outbox: Outbox, identity: str
) -> None:
    """Every delivered member is in exactly one complete outbox batch, nobody else is,
    and each batch's letters match its delivered recipients and sequence numbers."""
    final = outcomes(engine, campaign_id)
    delivered = {m for m, (state, _) in final.items() if state == RecipientStatus.DELIVERED.value}
    assert delivered, final
    letters = outbox_letters(outbox, identity)
    twice = {m: n for m, n in letters.items() if n > 1}
    assert not twice, f"members with more than one letter: {twice}"
    assert set(letters) == delivered
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                CampaignRecipient.batch_no,
                CampaignRecipient.sequence_no,
                CampaignRecipient.member_id,
            ).where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.status == RecipientStatus.DELIVERED.value,
            )
        )
        per_batch: dict[int, list[int]] = {}
        for batch_no, sequence_no, _member in rows:
            assert sequence_no is not None
            per_batch.setdefault(batch_no, []).append(sequence_no)
    for batch in batches(engine, campaign_id):
        numbers = sorted(per_batch.get(batch.number, []))
        assert numbers == list(range(1, len(numbers) + 1)), batch.number
        assert (batch.letters or 0) == len(numbers), batch.number


def assert_email_exactly_once(
    engine: Engine, campaign_id: int, register: Register, received: list[str]
) -> None:
    """No address reached the SMTP server twice; every delivered member reached it; an
    address that reached it and is not delivered is an in-doubt one (failed as
    unconfirmed, never sent again)."""
    counts = Counter(received)
    twice = {a: n for a, n in counts.items() if n > 1}
    assert not twice, f"addresses that got the e-mail more than once: {twice}"
    final = outcomes(engine, campaign_id)
    for member, (state, reason) in final.items():
        address = register.emails[member]
        if state == RecipientStatus.DELIVERED.value:
            assert address in counts, (member, state)
        elif address in counts:
            assert (state, reason) == (RecipientStatus.FAILED.value, UNCONFIRMED), (member, state)
    members = {register.emails[m] for m in final}
    assert set(counts) <= members
