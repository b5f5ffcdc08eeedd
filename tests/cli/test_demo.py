"""`dispatch demo`: the whole flow of this stage, end to end, on a small register."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import CliResult

Cli = Callable[..., CliResult]
ROOT = Path(__file__).resolve().parents[2]


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
