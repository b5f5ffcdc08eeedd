"""A worker process lays out the letter frames before it takes messages, where post is
configured; the first post batch then finds them laid out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatch import batchformat as bf
from dispatch.config import load_settings
from dispatch.db.types import Language
from dispatch.jobs.tasks import Runtime
from dispatch.rendering import variant


@pytest.fixture
def empty_frame_cache() -> Iterator[None]:
    variant._frame_graphs.cache_clear()
    yield
    variant._frame_graphs.cache_clear()


def _runtime(tmp_path: Path, recipient: str) -> Runtime:
    return Runtime(
        load_settings(
            {"DISPATCH_VAR_DIR": str(tmp_path / "var"), "DISPATCH_PRINTHOUSE_RECIPIENT": recipient}
        )
    )


@pytest.mark.usefixtures("empty_frame_cache")
def test_a_post_worker_lays_out_every_languages_frame_before_its_first_batch(
    tmp_path: Path,
) -> None:
    _, recipient = bf.generate_identity()
    rt = _runtime(tmp_path, recipient)

    rt.warm_up()

    assert variant._frame_graphs.cache_info().currsize == len(Language)
    for language in Language:  # what a batch asks for is there: no miss
        variant._frame_graphs(language.value, rt.links.sender())
    assert variant._frame_graphs.cache_info().misses == len(Language)


@pytest.mark.usefixtures("empty_frame_cache")
def test_a_worker_without_post_configured_lays_out_nothing(tmp_path: Path) -> None:
    rt = _runtime(tmp_path, "")

    rt.warm_up()

    assert variant._frame_graphs.cache_info().currsize == 0
