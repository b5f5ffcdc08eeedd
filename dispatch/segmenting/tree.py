"""A segment as a typed tree: the criteria, how they combine, and where each was written.

:mod:`.spec` builds it from a YAML file; :mod:`.references` and :mod:`.compiler` read
it. Every node carries its :class:`Loc`, so any later error (an unknown product group,
a sensitive one) still names the file, line and field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from dispatch.db.types import Channel, Language, Purpose
from dispatch.errors import DispatchError, InputError, Problems
from dispatch.privacy.policy import Unit

GroupOp = Literal["all", "any", "none"]
GROUP_OPS: tuple[GroupOp, ...] = ("all", "any", "none")


@dataclass(frozen=True)
class Loc:
    """Where a node is: file, 1-based line and the dotted field path."""

    source: str
    line: int
    path: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.path}"

    def error(self, message: str) -> InputError:
        return InputError(message, where=str(self))


@dataclass(frozen=True)
class Name:
    """A name written in the file (a product group code, a chain ...) and its place."""

    value: str
    loc: Loc


@dataclass(frozen=True)
class Purchased:
    loc: Loc
    group: Name
    within_months: int
    min_amount: Decimal | None
    min_count: int | None


@dataclass(frozen=True)
class Visited:
    loc: Loc
    chains: tuple[Name, ...]
    municipality: Name | None
    within_months: int
    min_visits: int


@dataclass(frozen=True)
class Browsed:
    loc: Loc
    category: Name
    within_days: int


@dataclass(frozen=True)
class Age:
    loc: Loc
    min: int | None
    max: int | None


@dataclass(frozen=True)
class LanguageIs:
    loc: Loc
    language: Language


@dataclass(frozen=True)
class Region:
    loc: Loc
    names: tuple[Name, ...]


@dataclass(frozen=True)
class Municipality:
    loc: Loc
    names: tuple[Name, ...]


@dataclass(frozen=True)
class PostcodePrefix:
    loc: Loc
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class HomeStoreChain:
    loc: Loc
    chains: tuple[Name, ...]


@dataclass(frozen=True)
class MemberSince:
    loc: Loc
    before: dt.date | None
    after: dt.date | None


Criterion = (
    Purchased
    | Visited
    | Browsed
    | Age
    | LanguageIs
    | Region
    | Municipality
    | PostcodePrefix
    | HomeStoreChain
    | MemberSince
)


@dataclass(frozen=True)
class Group:
    """``all`` (every item), ``any`` (at least one) or ``none`` (no item) of its items."""

    loc: Loc
    op: GroupOp
    items: tuple[Node, ...]


Node = Criterion | Group


@dataclass(frozen=True)
class Segment:
    name: str
    description: str
    purpose: Purpose
    channel: Channel
    unit: Unit
    where: Group
    source: str
    #: The description for members, by language (``description_fi``, ``description_sv``):
    #: what their data export says the segment is.
    member_descriptions: tuple[tuple[str, str], ...] = ()

    def description_for(self, language: str) -> str:
        """The members' description in ``language``, else the staff description."""
        return dict(self.member_descriptions).get(language) or self.description


def walk(node: Node) -> Iterable[Node]:
    """Every node of the tree, depth first, in file order."""
    yield node
    if isinstance(node, Group):
        for item in node.items:
            yield from walk(item)


def raise_problems(problems: list[DispatchError], source: str) -> None:
    """Raise nothing, the one problem, or :class:`Problems` holding them all."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise Problems(problems, summary=f"{source}: {len(problems)} problems")
