"""Pagination for every list: ``?page=N&per_page=M``, newest first, no totals.

A page says whether another follows (one extra row is fetched) rather than how
many there are in all, which keeps lists cheap and says nothing about volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import CompoundSelect, Row, Select
from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int


async def page_request(
    page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1")] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="Items per page")] = 25,
) -> PageRequest:
    return PageRequest(page, per_page)


Paging = Annotated[PageRequest, Depends(page_request)]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    page: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def column_rows(
    session: Session,
    statement: Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]],
    params: dict[str, Any] | None = None,
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The rows of a query of columns (no ORM objects), run on the session's connection:
    the ORM's execution path for such a query costs more than running it."""
    return session.connection().execute(statement, params).all()


def paginate(
    session: Session,
    query: Select[*tuple[Any, ...]],
    request: PageRequest,
    *,
    rows: bool = False,
) -> Page[Any]:
    """One page of ``query`` (which must be ordered): its objects, or with ``rows`` its
    whole rows (a query of several columns)."""
    paged = query.offset((request.page - 1) * request.per_page).limit(request.per_page + 1)
    found = list(column_rows(session, paged) if rows else session.scalars(paged))
    return Page(
        found[: request.per_page], request.page, request.per_page, len(found) > request.per_page
    )


class PageInfo(BaseModel):
    page: int
    per_page: int
    has_next: bool


def page_info(page: Page[Any]) -> PageInfo:
    return PageInfo(page=page.page, per_page=page.per_page, has_next=page.has_next)
