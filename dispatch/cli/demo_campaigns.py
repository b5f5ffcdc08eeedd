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
from dispatch.campaigns.snapshot import segment_hash
from dispatch.config import Settings
from dispatch.db.engine import session_scope
from dispatch.errors import OperationError
from dispatch.jobs import tasks, worker
from dispatch.jobs.queue import after_commit


@dataclass(frozen=True)
class DemoCampaign:
    """One demo campaign: which partner's creative goes to which segment, how."""

    partner: str
    bundle: str
    segment: str
    channel: str


DEMO_CAMPAIGNS = (
    DemoCampaign("Nordic Air", "nordic-air-spring", "abc-fuel-pensioners.yaml", "post"),
    DemoCampaign("Nordic Air", "nordic-air-spring", "nordic-air-travellers.yaml", "email"),
)


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
) -> list[dict[str, Any]]:
    """Create, approve and run each demo campaign (or reuse a completed identical one)."""
    results = []
    for demo in DEMO_CAMPAIGNS:
        path = segments_dir / demo.segment
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
            if found is None:
                campaign = campaigns.create(
                    session,
                    partner=demo.partner,
                    creative_version_id=version_id,
                    segment_path=path,
                    channel=demo.channel,
                    actor=actor,
                )
                campaigns.approve(session, campaign, actor)
                campaigns.schedule(session, campaign)
                cid = campaign.id
                after_commit(session, functools.partial(tasks.jobs().send_snapshot, cid))
                reused = False
            else:
                cid, reused = found.id, True
        verb = "reusing completed" if reused else "running"
        console.print(f"   {verb} campaign {cid}: {demo.bundle} by {demo.channel} to {path.stem}")
        if not reused:
            worker.run_inprocess()
        with session_scope(engine) as session:
            result = reports.report(session, campaigns.get(session, cid))
        results.append({"reused": reused, **result.as_json()})
    return results


def print_house_round(settings: Settings, key_folder: Path, console: Console) -> dict[str, Any]:
    """The print house collects, verifies and decrypts the new batches and acknowledges
    them; then the dispatcher's upkeep deletes what was acknowledged."""
    spool = settings.var_dir / "printhouse" / "spool"
    outbox = settings.outbox_url
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
