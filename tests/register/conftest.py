"""A register seeded once per backend for the tests that only read it.

Seeding 2,000 members takes a few seconds; the spread tests (``test_spreads.py``)
share one seeded database per backend instead of seeding for each test.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dispatch.db.engine import make_engine
from dispatch.register.seed import SeedOptions, seed_register
from tests.conftest import empty_database
from tests.factories import TEST_SECRET

AS_OF = dt.date(2025, 5, 15)
SEEDED_MEMBERS = 2000


def _seeded(url: str) -> Engine:
    engine = make_engine(url)
    options = SeedOptions(members=SEEDED_MEMBERS, seed=11, as_of=AS_OF)
    seed_register(engine, options, secret_key=TEST_SECRET)
    return engine


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def seeded_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A register of 2,000 synthetic members as of 2025-05-15 (seed 11); read it only.

    Module-scoped: a module that uses it must not use ``db_url`` as well, whose
    per-test truncation of the shared PostgreSQL test database would empty it.
    """
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("seeded") / "seeded.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_url")
        empty_database(url)
    engine = _seeded(url)
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        empty_database(url)


@pytest.fixture
def feed_sample() -> Path:
    return Path(__file__).parent / "feed_sample"


@pytest.fixture
def feed_copy(feed_sample: Path, tmp_path: Path) -> Path:
    """A copy of the sample feed that a test may change."""
    folder = tmp_path / "feed"
    shutil.copytree(feed_sample, folder)
    return folder
