"""`dispatch demo`: the whole flow, end to end, on a small register."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult

Cli = Callable[..., CliResult]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _small_partner_audience(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # 400 members give a partner campaign a few dozen recipients, under the default 100.
    monkeypatch.setenv("DISPATCH_MIN_PARTNER_AUDIENCE", "5")


def _demo(cli: Cli, *extra: str) -> dict[str, Any]:
    result = cli(
        "demo",
        "--members",
        "400",
        "--segments",
        str(ROOT / "segments"),
        "--creatives",
        str(ROOT / "templates" / "creatives"),
        "--json",
        *extra,
    )
    assert result.code == 0, result.err
    doc = result.json()
    assert isinstance(doc, dict)
    return doc


def test_demo_seeds_counts_every_segment_and_previews_every_creative(cli: Cli) -> None:
    doc = _demo(cli)
    assert doc["register"]["seeded"] is True
    assert doc["register"]["counts"]["members"] == 400
    segments = doc["segments"]
    assert len(segments) == len(list((ROOT / "segments").glob("*.yaml")))
    for row in segments:
        assert row["ok"], row
        assert row["matched"] == row["selected"] + sum(row["removed"].values())
    bundles = sorted(p.name for p in (ROOT / "templates" / "creatives").iterdir() if p.is_dir())
    assert sorted(Path(c["bundle"]).name for c in doc["creatives"]) == bundles
    for creative in doc["creatives"]:
        assert creative["status"] == "approved"
        pdfs = [p for p in creative["previews"] if p.endswith(".pdf")]
        assert pdfs and all(Path(p).read_bytes().startswith(b"%PDF-") for p in pdfs)


def test_demo_run_twice_reuses_register_and_approved_creatives(cli: Cli) -> None:
    first = _demo(cli)
    second = _demo(cli)
    assert second["register"] == {"seeded": False}
    assert [c["version_id"] for c in second["creatives"]] == [
        c["version_id"] for c in first["creatives"]
    ]
    assert [r["selected"] for r in second["segments"]] == [r["selected"] for r in first["segments"]]


def test_demo_runs_a_post_and_an_email_campaign_to_the_print_house(
    cli: Cli, env: dict[str, str]
) -> None:
    doc = _demo(cli)

    by_channel = {c["campaign"]["channel"]: c for c in doc["campaigns"]}
    assert set(by_channel) == {"post", "email"}
    for item in by_channel.values():
        assert item["campaign"]["status"] == "completed"
        assert item["reconciled"] is True
        total = item["total"]
        assert total["snapshot"] > 0 and total["in_flight"] == 0
        assert total["snapshot"] == (
            total["delivered"] + sum(total["suppressed"].values()) + sum(total["failed"].values())
        )
    # The print house collected every post batch with its own key, as decrypted PDFs.
    post = by_channel["post"]
    batches = [b for b in post["batches"] if b["letters"]]
    assert len(doc["printhouse"]["collected"]) == len(batches)
    spool = Path(doc["printhouse"]["spool"])
    letters = 0
    for batch_id in doc["printhouse"]["collected"]:
        pdf = spool / batch_id / "letters.pdf"
        assert pdf.read_bytes().startswith(b"%PDF-")
        letters += json.loads((spool / batch_id / "manifest.json").read_text())["letter_count"]
    assert letters == post["total"]["delivered"]
    # Every delivered e-mail is one message in the maildir.
    maildir = Path(env["DISPATCH_VAR_DIR"]) / "mail" / "new"
    assert len(list(maildir.iterdir())) == by_channel["email"]["total"]["delivered"]


def test_demo_run_twice_reuses_completed_campaigns(cli: Cli) -> None:
    first = _demo(cli)
    second = _demo(cli)

    assert [c["reused"] for c in second["campaigns"]] == [True, True]
    assert [c["campaign"]["id"] for c in second["campaigns"]] == [
        c["campaign"]["id"] for c in first["campaigns"]
    ]
