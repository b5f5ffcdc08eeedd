"""bench/render.py end to end at a tiny size."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.conftest import run_bench


@pytest.mark.bench
@pytest.mark.slow
def test_render_bench_measures_every_figure(tmp_path: Path) -> None:
    ran = run_bench(
        "render.py", "--sizes", "20", "--letters", "20", "--repeat", "1", "--naive-sample", "1",
        "--emails", "20", "--memory-sizes", "20",
        results=tmp_path / "RESULTS.md",
    )  # fmt: skip
    section = ran.section
    assert "| 20 | " in section and "letters/s" in section  # warm and cold rates
    assert "warm, per CPU-second" in section and "(per CPU-second: " in section
    for baseline in ("as first written", "reused font config and fetcher", "full_fonts=True"):
        assert baseline in section
    assert "Against the fastest naive baseline (" in section
    assert "| 20 | stream |" in section and "| 20 | sort |" in section
    assert "messages/s" in section


@pytest.mark.bench
def test_presorted_letters_stay_in_presort_order_past_99999() -> None:
    """Past 99,999 letters postcodes repeat; the generator still yields presort order."""
    import itertools
    import sys

    from tests.bench.conftest import BENCH

    sys.path.insert(0, str(BENCH))
    import render

    from dispatch.rendering.postal import presort_key

    n = 250_000
    letters = render.presorted_letters(n)
    # Look at the start and a stretch in the middle (the whole run is the bench's job).
    head = list(itertools.islice(letters, 3000))
    keys = [presort_key(letter.recipient) for letter in head]
    assert keys == sorted(keys)
    assert len({k[0] for k in keys}) < len(keys)  # postcodes do repeat
