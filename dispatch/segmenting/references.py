"""What a segment names in the register: product groups, chains, places, categories.

Web categories are the register's fixed vocabulary
(:data:`dispatch.register.catalog.WEB_CATEGORIES`, which the feed importer enforces).

Product groups and stores are small tables, read once per compile into a
:class:`Catalog`; the compiler then writes their ids into the SQL as literals, so the
database never joins them at run time. Resolving a product group is also where the
special-category rule (GDPR Art. 9) is enforced: the compiler cannot produce SQL for
a segment that touches a sensitive group, whatever position it is in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from dispatch.errors import DispatchError, Problems
from dispatch.register import rollups
from dispatch.register.catalog import WEB_CATEGORIES
from dispatch.register.models import Member, ProductGroup, Store
from dispatch.segmenting import tree
from dispatch.suggest import unknown

#: The kind of store a ``visited`` criterion counts visits to.
RESTAURANT = "restaurant"
_ART9 = (
    "special-category data (GDPR Art. 9): purchases there can reveal health, "
    "and no segment may use them, not even to exclude"
)


@dataclass(frozen=True)
class GroupRow:
    id: int
    code: str
    parent_id: int | None
    sensitive: bool


@dataclass(frozen=True)
class StoreRow:
    id: int
    chain: str
    kind: str
    municipality: str


@dataclass
class Catalog:
    """The product-group tree and the stores, as of one read."""

    groups: dict[str, GroupRow]
    stores: list[StoreRow]
    #: The months of the purchase rollups' slots, oldest first (register.rollups).
    rollup_months: list[dt.date] = field(default_factory=list)
    _children: dict[int, list[GroupRow]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for group in self.groups.values():
            if group.parent_id is not None:
                self._children.setdefault(group.parent_id, []).append(group)

    @classmethod
    def load(cls, session: Session) -> Catalog:
        groups = session.execute(
            select(
                ProductGroup.id, ProductGroup.code, ProductGroup.parent_id, ProductGroup.sensitive
            )
        )
        stores = session.execute(select(Store.id, Store.chain, Store.kind, Store.municipality))
        return cls(
            groups={code: GroupRow(id_, code, parent, bool(s)) for id_, code, parent, s in groups},
            stores=[StoreRow(*row) for row in stores],
            rollup_months=rollups.window(session),
        )

    def subtree(self, group: GroupRow) -> list[GroupRow]:
        """The group and all its descendants."""
        found, todo = [], [group]
        while todo:
            current = todo.pop()
            found.append(current)
            todo.extend(self._children.get(current.id, []))
        return found

    def ancestors(self, group: GroupRow) -> list[GroupRow]:
        by_id = {g.id: g for g in self.groups.values()}
        found: list[GroupRow] = []
        parent = group.parent_id
        while parent is not None and parent in by_id and len(found) < len(by_id):
            found.append(by_id[parent])
            parent = by_id[parent].parent_id
        return found

    def group_ids(self, name: tree.Name) -> list[int]:
        """Ids of the named group and its descendants; refuses special-category data."""
        group = self.groups.get(name.value)
        if group is None:
            raise name.loc.error(unknown("product group", name.value, self.groups))
        if group.sensitive:
            raise name.loc.error(f"product group {group.code!r} is {_ART9}")
        for ancestor in self.ancestors(group):
            if ancestor.sensitive:
                raise name.loc.error(
                    f"product group {group.code!r} is inside the sensitive group "
                    f"{ancestor.code!r}, {_ART9}"
                )
        subtree = self.subtree(group)
        sensitive = sorted(g.code for g in subtree if g.sensitive)
        if sensitive:
            which = "group" if len(sensitive) == 1 else "groups"
            raise name.loc.error(
                f"product group {group.code!r} includes the sensitive {which} "
                f"{', '.join(repr(c) for c in sensitive)}, {_ART9}; name its other subgroups"
            )
        return sorted(g.id for g in subtree)

    def store_ids(
        self,
        chains: Iterable[tree.Name],
        *,
        kind: str | None = None,
        municipality: tree.Name | None = None,
    ) -> list[int]:
        """Ids of the stores of ``chains`` (of ``kind``, in ``municipality`` if given)."""
        chains = list(chains)
        kinds: dict[str, set[str]] = {}
        for store in self.stores:
            kinds.setdefault(store.chain, set()).add(store.kind)
        problems: list[DispatchError] = []
        for chain in chains:
            if chain.value not in kinds:
                known = kinds if kind is None else [c for c, k in kinds.items() if kind in k]
                what = "chain" if kind is None else f"{kind} chain"
                problems.append(chain.loc.error(unknown(what, chain.value, known)))
            elif kind is not None and kind not in kinds[chain.value]:
                actual = "/".join(sorted(kinds[chain.value]))
                problems.append(
                    chain.loc.error(
                        f"chain {chain.value!r} is a {actual} chain, not a {kind} chain"
                    )
                )
        if problems:
            tree.raise_problems(problems, chains[0].loc.source)
        wanted = {c.value for c in chains}
        stores = [s for s in self.stores if s.chain in wanted and (kind is None or s.kind == kind)]
        if municipality is not None:
            here = [s for s in stores if s.municipality == municipality.value]
            if not here:
                places = sorted({s.municipality for s in stores})
                raise municipality.loc.error(
                    unknown(
                        f"municipality for {'/'.join(sorted(wanted))}", municipality.value, places
                    )
                )
            stores = here
        return sorted(s.id for s in stores)


def catalog_problems(nodes: Iterable[tree.Node], catalog: Catalog) -> list[DispatchError]:
    """Every unknown or forbidden product group and chain (what compiling needs).

    ``nodes`` are a segment's (``tree.walk(segment.where)``), or the criteria read
    from a file that has problems elsewhere (``spec.read``).
    """
    problems: list[DispatchError] = []
    for node in nodes:
        try:
            if isinstance(node, tree.Purchased):
                catalog.group_ids(node.group)
            elif isinstance(node, tree.Visited):
                catalog.store_ids(node.chains, kind=RESTAURANT, municipality=node.municipality)
            elif isinstance(node, tree.HomeStoreChain):
                catalog.store_ids(node.chains)
            elif isinstance(node, tree.Browsed) and node.category.value not in WEB_CATEGORIES:
                category = node.category
                problems.append(
                    category.loc.error(unknown("web category", category.value, WEB_CATEGORIES))
                )
        except Problems as exc:
            problems.extend(exc.problems)
        except DispatchError as exc:
            problems.append(exc)
    return problems


#: A column or expression of text whose values members have.
_Column = ColumnElement[Any] | InstrumentedAttribute[Any]


def data_problems(session: Session, nodes: Iterable[tree.Node]) -> list[DispatchError]:
    """Regions, municipalities, postcode prefixes and languages (in ``nodes``) that no
    member has, each with the closest values members do have.

    Not needed to compile (a typo there only makes the segment empty), so checked by
    ``dispatch segment check`` rather than on every count: on a register without an
    index on the column, a name that no member has costs one full scan, and listing
    the known values for the message one more (only then).
    """
    problems: list[DispatchError] = []
    known: dict[str, list[str]] = {}

    def values(what: str, column: _Column) -> list[str]:
        if what not in known:
            rows = session.execute(select(column).where(column.is_not(None)).distinct())
            known[what] = [str(value) for value in rows.scalars()]
        return known[what]

    def check(name: tree.Name, what: str, condition: ColumnElement[bool], column: _Column) -> None:
        if not session.execute(select(exists().where(condition))).scalar():
            problems.append(
                name.loc.error(
                    unknown(what, name.value, values(what, column), lead="no member has")
                )
            )

    for node in nodes:
        if isinstance(node, tree.Region):
            for name in node.names:
                check(name, "region", Member.region == name.value, Member.region)
        elif isinstance(node, tree.Municipality):
            for name in node.names:
                check(name, "municipality", Member.municipality == name.value, Member.municipality)
        elif isinstance(node, tree.PostcodePrefix):
            for prefix in node.prefixes:
                # Prefixes are digits only (the parser checks), so LIKE needs no escaping.
                size = len(prefix)
                check(
                    tree.Name(prefix, node.loc),
                    f"{size}-digit postcode prefix",
                    Member.postcode.like(f"{prefix}%"),
                    func.substr(Member.postcode, 1, size),
                )
        elif isinstance(node, tree.LanguageIs):
            language = node.language.value
            check(
                tree.Name(language, node.loc),
                "language",
                Member.language == language,
                Member.language,
            )
    return problems
