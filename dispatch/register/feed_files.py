"""Feed files, part one: the shared machinery and the files that describe who and where.

Each :class:`FeedFile` parses a row on its own (:meth:`FeedFile.parse`, no database),
then loads a batch (:meth:`FeedFile.load`): it resolves references (card numbers,
product-group codes, store ids) with one query per batch, rejects the rows whose
references fail, and writes the rest. A row's every problem is reported, not only the
first: parsing goes on past a bad cell (:class:`~dispatch.register.feed_fields.Cells`),
and the references of a row rejected at parsing are still checked
(:meth:`FeedFile.unresolved`). The format is documented in ``docs/feed.md``;
what members did (purchases, visits, browsing, consents, suppressions) is in
:mod:`dispatch.register.feed_activity`.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch import suggest
from dispatch.db.types import AddressStatus, HouseholdKind, Language, MemberStatus, utcnow
from dispatch.register import catalog, flags, rollups
from dispatch.register import feed_fields as f
from dispatch.register.feed_fields import Bad
from dispatch.register.hashing import subject_hash
from dispatch.register.models import Household, Member, ProductGroup, Store

Parsed = tuple[int, Any]  # (line, what parse() returned)
_IN_CHUNK = 500  # values per IN (...) list: well under SQLite's parameter limit


def table_of(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


@dataclass
class Outcome:
    """What loading one batch did."""

    loaded: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, Bad]] = field(default_factory=list)


class FeedFile(ABC):
    """One file of the feed. Subclasses declare their columns and how rows load."""

    name: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, secret_key: str, columns: Sequence[str]) -> None:
        self.secret_key = secret_key
        self.columns = frozenset(columns)

    def begin(self, session: Session) -> None:  # noqa: B027 - optional hook
        """Read the small lookup tables this file checks references against."""

    @abstractmethod
    def parse(self, row: dict[str, str]) -> Any:
        """Check one row on its own; raise :class:`Bad` or return what :meth:`load` takes."""

    @abstractmethod
    def load(self, session: Session, rows: list[Parsed]) -> Outcome:
        """Resolve references, reject what does not resolve, write the rest."""

    def unresolved(self, session: Session, rows: list[tuple[int, f.Row]]) -> list[tuple[int, Bad]]:
        """The references that fail in rows already rejected at parsing (raw cells),
        so that the row's report is complete; nothing by default."""
        return []


def upsert(session: Session, table: Table, rows: list[dict[str, Any]], key: Sequence[str]) -> None:
    """Insert rows, replacing the non-key columns of rows whose key already exists."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    changed = [c for c in rows[0] if c not in key]
    upsert = (
        stmt.on_conflict_do_update(
            index_elements=list(key), set_={c: stmt.excluded[c] for c in changed}
        )
        if changed
        else stmt.on_conflict_do_nothing(index_elements=list(key))
    )
    session.execute(upsert, rows)


def last_per_key(rows: list[Parsed], key: Any) -> list[Parsed]:
    """Keep the last row of each key: a later row in the feed replaces an earlier one."""
    latest: dict[Any, Parsed] = {}
    for line, row in rows:
        latest.pop(key(row), None)
        latest[key(row)] = (line, row)
    return list(latest.values())


def chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = sorted(set(values))
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i : i + _IN_CHUNK]


def member_ids(session: Session, cards: Iterable[str]) -> dict[str, int]:
    """Card number to member id, for the cards that belong to a member."""
    found: dict[str, int] = {}
    for chunk in chunks(cards):
        rows = session.execute(
            select(Member.card_number, Member.id).where(Member.card_number.in_(chunk))
        )
        found.update({card: member_id for card, member_id in rows if card is not None})
    return found


_NO_CARD = Bad("card_number", "no member has this card number")


def _quiet(rows: list[tuple[int, f.Row]]) -> Iterable[tuple[int, f.Row]]:
    """Rows whose card number cell parses (a bad one is reported already)."""
    for line, row in rows:
        try:
            f.card_number(row)
        except Bad:
            continue
        yield line, row


def existing(session: Session, column: Any, values: Iterable[Any]) -> set[Any]:
    found: set[Any] = set()
    for chunk in chunks(values):
        found.update(session.scalars(select(column).where(column.in_(chunk))))
    return found


class MemberRows(FeedFile):
    """A file whose rows belong to a member named by card number."""

    def unresolved(self, session: Session, rows: list[tuple[int, f.Row]]) -> list[tuple[int, Bad]]:
        cards = {line: f.card_number(row) for line, row in _quiet(rows)}
        ids = member_ids(session, cards.values())
        return [(line, _NO_CARD) for line, card in cards.items() if card not in ids]

    def resolve(self, session: Session, rows: list[Parsed], out: Outcome) -> list[Parsed]:
        """Rows with ``member_id`` set; rows for unknown cards are rejected."""
        ids = member_ids(session, (row["card_number"] for _, row in rows))
        kept: list[Parsed] = []
        for line, row in rows:
            member_id = ids.get(row["card_number"])
            if member_id is None:
                out.rejected.append((line, _NO_CARD))
            else:
                kept.append((line, {**row, "member_id": member_id}))
        return kept


class StoresFile(FeedFile):
    name = "stores.csv"
    required = ("store_id", "name", "chain", "kind", "municipality", "region")

    def parse(self, row: dict[str, str]) -> dict[str, Any]:
        cells = f.Cells(row)
        values = {
            "id": cells(f.integer, "store_id", 1, 2**31 - 1),
            "name": cells(f.text, "name", 120),
            "chain": cells(f.text, "chain", 40),
            "kind": cells(f.choice, "kind", catalog.STORE_KINDS),
            "municipality": cells(f.text, "municipality", 60),
            "region": cells(f.text, "region", 60),
        }
        cells.done()
        return values

    def load(self, session: Session, rows: list[Parsed]) -> Outcome:
        latest = last_per_key(rows, lambda r: r["id"])
        upsert(session, table_of(Store), [r for _, r in latest], ["id"])
        return Outcome(loaded=len(rows))


@dataclass
class _Group:
    id: int
    parent: str | None
    sensitive: bool


class ProductGroupsFile(FeedFile):
    name = "product_groups.csv"
    required = ("code", "parent_code", "name_fi", "name_sv", "sensitive")

    def begin(self, session: Session) -> None:
        rows = session.execute(
            select(
                ProductGroup.id, ProductGroup.code, ProductGroup.parent_id, ProductGroup.sensitive
            )
        ).all()
        codes = {group_id: code for group_id, code, _, _ in rows}
        self.groups = {
            code: _Group(group_id, codes.get(parent) if parent else None, bool(flag))
            for group_id, code, parent, flag in rows
        }
        self.next_id = max((g.id for g in self.groups.values()), default=0) + 1

    def parse(self, row: dict[str, str]) -> dict[str, Any]:
        cells = f.Cells(row)
        values = {
            "code": cells(f.code, "code"),
            "parent": cells(f.if_given(f.code), "parent_code"),
            "name_fi": cells(f.text, "name_fi", 120),
            "name_sv": cells(f.text, "name_sv", 120),
            "sensitive": cells(f.boolean, "sensitive"),
        }
        cells.done()
        return values

    def _check(self, row: dict[str, Any]) -> None:
        """Against the groups so far (the register's and this file's earlier rows)."""
        code, parent = row["code"], row["parent"]
        problems = []
        current = self.groups.get(code)
        if current is not None and current.sensitive and not row["sensitive"]:
            problems.append(
                Bad(
                    "sensitive",
                    f"{code!r} is sensitive (GDPR Art. 9); the feed may not clear that flag",
                )
            )
        if parent is not None and parent not in self.groups:
            unknown = suggest.unknown("product group", parent, self.groups)
            problems.append(Bad("parent_code", f"{unknown} (list parents first)"))
        elif parent is not None:
            ancestor: str | None = parent
            while ancestor is not None:
                if ancestor == code:
                    problems.append(
                        Bad("parent_code", f"{parent!r} is {code!r} or below it: a cycle")
                    )
                    break
                ancestor = self.groups[ancestor].parent
            cleared = current is not None and current.sensitive  # said above, once is enough
            if self.groups[parent].sensitive and not row["sensitive"] and not cleared:
                problems.append(
                    Bad("sensitive", f"must be true: its parent {parent!r} is sensitive")
                )
        if problems:
            raise f.rejection(problems)

    def load(self, session: Session, rows: list[Parsed]) -> Outcome:
        out = Outcome()
        table = table_of(ProductGroup)
        moved = False
        for line, row in rows:
            try:
                self._check(row)
            except Bad as bad:
                out.rejected.append((line, bad))
                continue
            code, parent = row["code"], row["parent"]
            values = {
                "parent_id": self.groups[parent].id if parent else None,
                "name_fi": row["name_fi"],
                "name_sv": row["name_sv"],
                "sensitive": row["sensitive"],
            }
            current = self.groups.get(code)
            if current is None:
                if self.next_id > 32767:
                    out.rejected.append((line, Bad("code", "no product-group ids left")))
                    continue
                current = self.groups[code] = _Group(self.next_id, parent, row["sensitive"])
                self.next_id += 1
                session.execute(insert(table).values(id=current.id, code=code, **values))
            else:
                moved = moved or current.parent != parent
                current.parent, current.sensitive = parent, row["sensitive"]
                session.execute(update(table).where(table.c.id == current.id).values(**values))
            out.loaded += 1
        self._inherit_sensitivity(session)
        if moved:  # its purchases now count towards other ancestors
            rollups.rebuild(session)
        return out

    def _inherit_sensitivity(self, session: Session) -> None:
        """Everything below a sensitive group is sensitive too (a group may become one)."""
        table = table_of(ProductGroup)
        for group in self.groups.values():
            ancestor = group.parent
            while not group.sensitive and ancestor is not None:
                if self.groups[ancestor].sensitive:
                    group.sensitive = True
                    session.execute(
                        update(table).where(table.c.id == group.id).values(sensitive=True)
                    )
                ancestor = self.groups[ancestor].parent


class HouseholdsFile(FeedFile):
    name = "households.csv"
    required = ("household_id", "kind")

    def parse(self, row: dict[str, str]) -> dict[str, Any]:
        cells = f.Cells(row)
        values = {
            "id": cells(f.integer, "household_id", 1, 2**62),
            "kind": cells(f.choice, "kind", [k.value for k in HouseholdKind]),
        }
        cells.done()
        return values

    def load(self, session: Session, rows: list[Parsed]) -> Outcome:
        latest = last_per_key(rows, lambda r: r["id"])
        upsert(session, table_of(Household), [r for _, r in latest], ["id"])
        return Outcome(loaded=len(rows))


class MembersFile(FeedFile):
    """Upsert by card number. A column left out of the header is left as it is."""

    name = "members.csv"
    required = ("card_number", "first_name", "last_name", "language")
    optional = (
        "address_extra", "street", "postcode", "post_town", "municipality", "region",
        "birth_year", "email", "phone", "household_id", "home_store_id", "member_since",
        "status", "address_status",
    )  # fmt: skip
    _TEXT: ClassVar[dict[str, int]] = {
        "address_extra": 120, "street": 120, "post_town": 60, "municipality": 60, "region": 60,
    }  # fmt: skip
    # Erasure is not something the feed can do: it goes through `dispatch member erase`.
    _STATUSES = (MemberStatus.ACTIVE.value, MemberStatus.DECEASED.value)

    def begin(self, session: Session) -> None:
        self.stores = set(session.scalars(select(Store.id)))
        self.today = dt.date.today()

    def parse(self, row: dict[str, str]) -> dict[str, Any]:
        cells = f.Cells(row)
        values: dict[str, Any] = {
            "card_number": cells(f.card_number, "card_number"),
            "first_name": cells(f.text, "first_name", 80),
            "last_name": cells(f.text, "last_name", 80),
            "language": cells(f.choice, "language", [x.value for x in Language]),
        }
        optional_text = f.if_given(f.text)
        optional_int = f.if_given(f.integer)
        parsed: dict[str, Callable[[], Any]] = {
            "postcode": lambda: cells(f.if_given(f.postcode), "postcode"),
            "email": lambda: cells(f.if_given(f.email), "email"),
            "phone": lambda: cells(f.if_given(f.phone), "phone"),
            "birth_year": lambda: cells(optional_int, "birth_year", 1900, self.today.year),
            "household_id": lambda: cells(optional_int, "household_id", 1, 2**62),
            "home_store_id": lambda: cells(optional_int, "home_store_id", 1, 2**31 - 1),
            "member_since": lambda: cells(f.if_given(f.date), "member_since"),
        }
        for name, length in self._TEXT.items():
            if name in self.columns:
                values[name] = cells(optional_text, name, length)
        for name, parse in parsed.items():
            if name in self.columns:
                values[name] = parse()
        if values.get("member_since") and values["member_since"] > self.today:
            cells.bad("member_since", "is in the future")
        if values.get("home_store_id") and values["home_store_id"] not in self.stores:
            cells.bad("home_store_id", "no such store")
        # status and address_status cannot be NULL: an empty cell keeps the current value
        # (or the default, active and deliverable, for a new member).
        optional_choice = f.if_given(f.choice)
        status = cells(optional_choice, "status", self._STATUSES)
        if status is not None:
            values["status"] = status
        address = cells(optional_choice, "address_status", [s.value for s in AddressStatus])
        if address is not None:
            values["address_status"] = address
        cells.done()
        return values

    def unresolved(self, session: Session, rows: list[tuple[int, f.Row]]) -> list[tuple[int, Bad]]:
        """Households named by rows rejected at parsing (their stores are checked there)."""
        if "household_id" not in self.columns:
            return []
        named: dict[int, int] = {}
        for line, row in rows:
            try:
                household = f.if_given(f.integer)(row, "household_id", 1, 2**62)
            except Bad:
                continue
            if household is not None:
                named[line] = household
        found = existing(session, Household.id, named.values())
        return [(line, _NO_HOUSEHOLD) for line, h in named.items() if h not in found]

    def load(self, session: Session, rows: list[Parsed]) -> Outcome:
        out = Outcome()
        households = existing(
            session, Household.id, (r["household_id"] for _, r in rows if r.get("household_id"))
        )
        checked: list[Parsed] = []
        for line, row in rows:
            if row.get("household_id") and row["household_id"] not in households:
                out.rejected.append((line, _NO_HOUSEHOLD))
            else:
                checked.append((line, row))
        latest = last_per_key(checked, lambda r: r["card_number"])
        ids = member_ids(session, (r["card_number"] for _, r in latest))
        table = table_of(Member)
        # One executemany per set of columns: rows differ only where a status is empty.
        updates: dict[frozenset[str], list[dict[str, Any]]] = {}
        inserts: list[dict[str, Any]] = []
        for _, row in latest:
            row = {**row, "subject_hash": subject_hash(self.secret_key, row["card_number"])}
            member_id = ids.get(row["card_number"])
            if member_id is None:
                row.setdefault("status", MemberStatus.ACTIVE.value)
                row.setdefault("address_status", AddressStatus.DELIVERABLE.value)
                inserts.append(row)
            else:
                row["member_id"] = member_id
                updates.setdefault(frozenset(row), []).append(row)
        if inserts:
            session.execute(insert(table), inserts)
            # A card seen before (suppressed, or erased and now re-imported) brings
            # its suppressions to the new member row.
            flags.refresh_subjects(session, (row["subject_hash"] for row in inserts))
        updates = _readdressed(session, updates)
        for keys, batch in updates.items():
            stmt = (
                update(table)
                .where(table.c.id == bindparam("member_id"))
                .values({k: bindparam(k) for k in keys if k != "member_id"})
            )
            session.execute(stmt, batch)
        out.loaded = len(checked)
        return out


_NO_HOUSEHOLD = Bad("household_id", "no such household")

#: The address fields whose change makes a returned address worth trying again.
ADDRESS_FIELDS = ("street", "postcode", "post_town")


def _readdressed(
    session: Session, updates: dict[frozenset[str], list[dict[str, Any]]]
) -> dict[frozenset[str], list[dict[str, Any]]]:
    """Note the members whose address changes, and mark deliverable again the ones
    whose mail came back.

    A row that changes street, postcode or post town records when
    (``address_changed_at``: returned letters handed off before then are about the old
    address). A returned letter marks the address ``returned`` (post stops) "until
    the address changes": such a row, if it does not itself give an
    ``address_status``, sets it back to ``deliverable``.
    """
    candidates = [
        row for keys, batch in updates.items() if keys & set(ADDRESS_FIELDS) for row in batch
    ]
    if not candidates:
        return updates
    current: dict[int, tuple[bool, tuple[Any, ...]]] = {}
    for chunk in chunks(row["member_id"] for row in candidates):
        current.update(
            (member_id, (status == AddressStatus.RETURNED.value, tuple(address)))
            for member_id, status, *address in session.execute(
                select(
                    Member.id, Member.address_status, Member.street, Member.postcode,
                    Member.post_town,
                ).where(Member.id.in_(chunk))
            )
        )  # fmt: skip
    now = utcnow()
    regrouped: dict[frozenset[str], list[dict[str, Any]]] = {}
    for batch in updates.values():
        for row in batch:
            old = current.get(row["member_id"])
            if old is not None and _moved(row, old[1]):
                row = {**row, "address_changed_at": now}
                if old[0] and "address_status" not in row:
                    row["address_status"] = AddressStatus.DELIVERABLE.value
            regrouped.setdefault(frozenset(row), []).append(row)
    return regrouped


def _moved(row: dict[str, Any], old: tuple[Any, ...]) -> bool:
    return any(
        name in row and (row[name] or None) != (value or None)
        for name, value in zip(ADDRESS_FIELDS, old, strict=True)
    )
