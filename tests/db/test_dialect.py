"""PostgreSQL's side of dispatch.db.dialect: array parameters sent as text, plan settings."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import ColumnElement, create_engine, func, select
from sqlalchemy.orm import Session

from dispatch.db.dialect import bigint_array, planning_without, text_array

ODD = ["", "NULL", "null", "a,b", "{x}", '"', "\\", 'a\\"b', " spaced ", "Åsa", "x" * 300]


def unnested(pg_url: str, array: ColumnElement[Any]) -> list[object]:
    """The elements of ``array`` as PostgreSQL reads the parameter."""
    engine = create_engine(pg_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(func.unnest(array))).scalars())
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("values", [[], ["plain", "A-z_0-9="], ODD, list(reversed(ODD))])
def test_text_arrays_keep_every_element_as_it_was(pg_url: str, values: list[str]) -> None:
    assert unnested(pg_url, text_array(values)) == values


@pytest.mark.postgres
def test_bigint_arrays_keep_order_and_range(pg_url: str) -> None:
    values = [3, -1, 0, 2**63 - 1, -(2**63), 3]
    assert unnested(pg_url, bigint_array(values)) == values


@pytest.mark.postgres
def test_planning_without_switches_methods_off_and_puts_them_back_as_they_were(
    pg_url: str,
) -> None:
    engine = create_engine(pg_url)
    names = ("enable_hashjoin", "enable_mergejoin", "enable_nestloop")

    def settings(session: Session) -> tuple[str, ...]:
        return tuple(session.execute(select(*map(func.current_setting, names))).one())

    try:
        with Session(engine) as session:
            session.execute(select(func.set_config("enable_nestloop", "off", True)))
            assert settings(session) == ("on", "on", "off")
            with planning_without(session, "hashjoin", "mergejoin"):
                assert settings(session) == ("off", "off", "off")
                with planning_without(session, "hashjoin", "nestloop"):
                    assert settings(session) == ("off", "off", "off")
                assert settings(session) == ("off", "off", "off")
            assert settings(session) == ("on", "on", "off")
            session.rollback()
            assert settings(session) == ("on", "on", "on")
    finally:
        engine.dispose()
