"""The demo's second half: campaigns through the in-process worker, and the print house.

The demo plays every part: the campaign manager (create, approve, start), the
worker (in this process), and the print house, which runs its own tool
(``printhouse keygen|collect|ack``) as a separate program with its own key.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import Engine, select

from dispatch.campaigns import report as reports
from dispatch.campaigns import services as campaigns
from dispatch.campaigns.models import Campaign, CampaignStatus
from dispatch.campaigns.snapshot import AudienceTooSmall, segment_hash
from dispatch.cli import demo_reports
from dispatch.config import Settings
from dispatch.creatives import services as creatives
from dispatch.db.engine import session_scope
from dispatch.errors import OperationError
from dispatch.jobs import tasks, worker
from dispatch.jobs.queue import after_commit
from dispatch.transports.keys import load_or_create_signing_key


@dataclass(frozen=True)
class DemoCampaign:
    """One demo campaign: which partner's creative goes to which segment, how."""

    partner: str
    bundle: str
    segment: str
    channel: str
    holdout_percent: float = 10.0
    #: Play the partner's members buying after it (bonus purchases for the lift).
    responses: bool = False


DEMO_CAMPAIGNS = (
    # The larger audience, with a large holdout so that its lift can be measured.
    DemoCampaign(
        "Nordic Air",
        "nordic-air-spring",
        "abc-fuel-pensioners.yaml",
        "post",
        holdout_percent=30.0,
        responses=True,
    ),
    DemoCampaign("Nordic Air", "nordic-air-spring", "nordic-air-travellers.yaml", "email"),
)
#: Demo partners' codes in the bonus-purchase feed (the synthetic register's too).
BONUS_CODES = {"Nordic Air": "nordic_air"}


def printhouse(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the print house's own tool, as the print house would, and check it worked."""
    command = [sys.executable, "-m", "printhouse", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise OperationError(f"printhouse {args[0]} failed: {done.stderr.strip()}")
    return done


def print_house_key(settings: Settings, console: Console) -> Path:
    """The print house's key pair (made once with its tool); its recipient is what the
    dispatcher encrypts to (DISPATCH_PRINTHOUSE_RECIPIENT, set here if not given)."""
    folder = settings.var_dir / "printhouse"
    if not (folder / "identity.age").exists():
        printhouse("keygen", "--out", str(folder))
    if not os.environ.get("DISPATCH_PRINTHOUSE_RECIPIENT"):
        os.environ["DISPATCH_PRINTHOUSE_RECIPIENT"] = str(folder / "recipient.txt")
    console.print(f"   print house key: {folder}/identity.age (recipient.txt sent to us)")
    return folder


def run_campaigns(
    engine: Engine,
    settings: Settings,
    versions: dict[str, int],
    segments_dir: Path,
    actor: str,
    console: Console,
    approver: str,
) -> list[dict[str, Any]]:
    """Create, approve and run each demo campaign (or reuse a completed identical one).

    A partner campaign whose segment selects fewer members than the partner minimum in
    this register is not created (``dispatch campaign create`` refuses it too): the
    result says why, and the demo goes on.
    """
    results: list[dict[str, Any]] = []
    with session_scope(engine) as session:
        for name, code in BONUS_CODES.items():
            if creatives.get_partner(session, name).bonus_code != code:
                creatives.set_bonus_code(session, name, code)
    for demo in DEMO_CAMPAIGNS:
        path = segments_dir / demo.segment
        try:
            cid, reused = _create_or_reuse(engine, settings, demo, path, versions, actor, approver)
        except AudienceTooSmall as exc:
            console.print(
                f"   not running {demo.bundle} by {demo.channel} to {path.stem}: {exc.message}"
                " (seed more --members, or lower DISPATCH_MIN_PARTNER_AUDIENCE)"
            )
            results.append(
                {
                    "skipped": exc.message,
                    "campaign": {"channel": demo.channel, "segment": path.stem},
                }
            )
            continue
        verb = "reusing completed" if reused else "running"
        console.print(f"   {verb} campaign {cid}: {demo.bundle} by {demo.channel} to {path.stem}")
        if not reused:
            worker.run_inprocess()
            if demo.responses:
                bought = demo_reports.respond(
                    engine,
                    cid,
                    BONUS_CODES[demo.partner],
                    settings.var_dir / "feeds" / f"responses-{cid}",
                    settings.secret_key,
                    seed=cid,
                )
                console.print(f"   {demo.partner} reported {bought} bonus purchases since")
        with session_scope(engine) as session:
            result = reports.report(session, campaigns.get(session, cid))
        results.append({"reused": reused, **result.as_json()})
    return results


def _create_or_reuse(
    engine: Engine,
    settings: Settings,
    demo: DemoCampaign,
    path: Path,
    versions: dict[str, int],
    actor: str,
    approver: str,
) -> tuple[int, bool]:
    """The id of a completed identical campaign, or of a new one scheduled now."""
    digest = segment_hash(path.read_text(encoding="utf-8"))
    version_id = versions[demo.bundle]
    with session_scope(engine) as session:
        found = session.scalars(
            select(Campaign).where(
                Campaign.creative_version_id == version_id,
                Campaign.segment_sha256 == digest,
                Campaign.channel == demo.channel,
                Campaign.status == CampaignStatus.COMPLETED.value,
            )
        ).first()
        if found is not None:
            return found.id, True
        campaign = campaigns.create(
            session,
            partner=demo.partner,
            creative_version_id=version_id,
            segment_path=path,
            channel=demo.channel,
            actor=actor,
            min_partner_audience=settings.min_partner_audience,
            holdout_percent=demo.holdout_percent,
        )
        campaigns.approve(
            session, campaign, approver, min_partner_audience=settings.min_partner_audience
        )
        campaigns.schedule(session, campaign)
        cid = campaign.id
        after_commit(session, functools.partial(tasks.jobs().send_snapshot, cid))
    return cid, False


def print_house_round(settings: Settings, key_folder: Path, console: Console) -> dict[str, Any]:
    """The print house collects, verifies and decrypts the new batches and acknowledges
    them; then the dispatcher's upkeep deletes what was acknowledged."""
    spool = settings.var_dir / "printhouse" / "spool"
    outbox = settings.outbox_url
    # The print house holds the dispatcher's public key before any batch comes (made
    # with the first batch otherwise, so a demo whose campaigns were all too small has
    # none yet).
    load_or_create_signing_key(settings.signing_key_file)
    if outbox.startswith("file://"):
        # A demo whose campaigns handed nothing off (e.g. too small) has no outbox yet.
        Path(outbox.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    collected = json.loads(
        printhouse(
            "collect",
            "--outbox", outbox,
            "--identity", str(key_folder / "identity.age"),
            "--dispatcher-key", f"{settings.signing_key_file}.pub",
            "--spool", str(spool),
            "--json",
        ).stdout
    )  # fmt: skip
    for batch_id in collected["collected"]:
        printhouse("ack", batch_id, "--outbox", outbox)
    console.print(
        f"   print house collected and acknowledged {len(collected['collected'])} batches"
        f" into {spool}/"
    )
    worker.run_inprocess()  # the sweep's upkeep deletes acknowledged batches
    return {"spool": str(spool), **collected}
