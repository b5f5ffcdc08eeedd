"""The example segments in segments/ are valid and find people in the synthetic register."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from dispatch.db.engine import make_engine
from dispatch.register.seed import SeedOptions, seed_register
from dispatch.segmenting import services
from tests.factories import TEST_SECRET

EXAMPLES = sorted((Path(__file__).parents[2] / "segments").glob("*.yaml"))
AS_OF = dt.date(2026, 11, 15)


def test_there_are_at_least_five_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_parses_and_is_named_after_its_file(path: Path) -> None:
    assert services.check(None, path) == []
    assert services.load(path).name == path.stem


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> str:
    """A synthetic register of 5,000 members on SQLite, shared by this module's tests."""
    path = tmp_path_factory.mktemp("examples") / "seeded.db"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    seed_register(engine, SeedOptions(members=5_000, seed=1, as_of=AS_OF), secret_key=TEST_SECRET)
    engine.dispose()
    return url


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_passes_check_and_selects_members_on_the_seed(seeded: str, path: Path) -> None:
    engine = make_engine(seeded)
    try:
        with Session(engine) as session:
            assert services.check(session, path) == []
            result = services.count(session, services.load(path), as_of=AS_OF)
    finally:
        engine.dispose()

    assert result.selected > 0
    assert result.matched == result.selected + sum(result.removed.values())
