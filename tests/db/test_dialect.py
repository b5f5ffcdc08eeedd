"""Array parameters sent as the text of PostgreSQL's array literal come back whole."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select

from dispatch.db.dialect import bigint_array, text_array

ODD = ["", "NULL", "null", "a,b", "{x}", '"', "\\", 'a\\"b', " spaced ", "Åsa", "x" * 300]


@pytest.mark.postgres
@pytest.mark.parametrize("values", [[], ["plain", "A-z_0-9="], ODD, list(reversed(ODD))])
def test_text_arrays_keep_every_element_as_it_was(pg_url: str, values: list[str]) -> None:
    engine = create_engine(pg_url)
    try:
        with engine.connect() as connection:
            got = connection.execute(select(func.unnest(text_array(values)))).scalars().all()
    finally:
        engine.dispose()
    assert got == values


@pytest.mark.postgres
def test_bigint_arrays_keep_order_and_range(pg_url: str) -> None:
    values = [3, -1, 0, 2**63 - 1, -(2**63), 3]
    engine = create_engine(pg_url)
    try:
        with engine.connect() as connection:
            got = connection.execute(select(func.unnest(bigint_array(values)))).scalars().all()
    finally:
        engine.dispose()
    assert got == values
