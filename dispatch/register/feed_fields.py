"""Field parsers for the warehouse feed: each turns one CSV cell into a value or says why not.

A parser raises :class:`Bad` with the reason; the importer adds the file, line and
column, so the operator reads ``members.csv:12: postcode: must be 5 digits, got '0010'``.
An empty cell is a problem, unless the parser is wrapped in :func:`if_given` (an
optional column), which turns it into ``None``.

A row is read through :class:`Cells`, which goes on past a bad cell: every problem of
the row is reported at once (:class:`BadRow`), so one run of the import lists all
that needs fixing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Concatenate, ParamSpec, TypeVar

from dispatch.register.hashing import normalize_card_number


class Bad(ValueError):
    """One cell (or one row) that cannot be loaded, and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class BadRow(Bad):
    """Several problems of one row; reported one line each, the row rejected once."""

    def __init__(self, problems: list[Bad]) -> None:
        super().__init__(problems[0].field, problems[0].reason)
        self.problems = problems


def problems_of(bad: Bad) -> list[Bad]:
    """Each problem of a rejected row, in the order found."""
    return list(bad.problems) if isinstance(bad, BadRow) else [bad]


def rejection(problems: list[Bad]) -> Bad:
    """One exception for a row's problems (one or more)."""
    return problems[0] if len(problems) == 1 else BadRow(problems)


_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,30}$")
_POSTCODE = re.compile(r"^[0-9]{5}$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})(?:-01)?$")
_CARD_SEPARATORS = re.compile(r"^[0-9 -]+$")


Row = dict[str, str]


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def required(row: Row, field: str) -> str:
    """The cell's text, stripped; an empty cell is a problem."""
    value = row.get(field, "").strip()
    if not value:
        raise Bad(field, "required, but empty")
    return value


P = ParamSpec("P")
T = TypeVar("T")


def if_given(
    parse: Callable[Concatenate[Row, str, P], T],
) -> Callable[Concatenate[Row, str, P], T | None]:
    """The same parser for an optional column: an empty cell is ``None``."""

    def parse_if_given(row: Row, field: str, /, *args: P.args, **kwargs: P.kwargs) -> T | None:
        if not row.get(field, "").strip():
            return None
        return parse(row, field, *args, **kwargs)

    return parse_if_given


class Cells:
    """One row, read cell by cell: a bad cell is noted and reading goes on.

    ``cells(f.integer, "count", 0, 10)`` is the parsed value, or ``None`` when the cell
    is bad (noted); :meth:`done` then raises the row's problems, all of them.
    """

    def __init__(self, row: Row) -> None:
        self.row = row
        self.problems: list[Bad] = []

    def __call__(
        self,
        parse: Callable[Concatenate[Row, str, P], T],
        field: str,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T | None:
        try:
            return parse(self.row, field, *args, **kwargs)
        except Bad as bad:
            self.problems.append(bad)
            return None

    def bad(self, field: str, reason: str) -> None:
        """Note a problem found beyond one cell's parser (a reference, a date order)."""
        self.problems.append(Bad(field, reason))

    def done(self) -> None:
        """Raise the row's problems, if it has any."""
        if self.problems:
            raise rejection(self.problems)


def text(row: Row, field: str, max_len: int) -> str:
    value = required(row, field)
    if len(value) > max_len:
        raise Bad(field, f"at most {max_len} characters, got {len(value)}")
    for char in value:
        # PostgreSQL refuses NUL in text (the whole file failed as a database error),
        # and no name or place has a use for any other control character.
        if ord(char) < 32 or ord(char) == 127:
            raise Bad(field, f"has the control character U+{ord(char):04X}")
    return value


def choice(row: Row, field: str, allowed: Iterable[str]) -> str:
    value = required(row, field)
    options = tuple(allowed)
    if value not in options:
        raise Bad(field, f"must be one of {', '.join(options)}; got {_shown(value)}")
    return value


def card_number(row: Row, field: str = "card_number") -> str:
    """16 digits; spaces and hyphens between digit groups are allowed and dropped."""
    value = required(row, field)
    digits = normalize_card_number(value)
    if not _CARD_SEPARATORS.match(value) or len(digits) != 16:
        raise Bad(field, f"must be 16 digits, got {_shown(value)}")
    return digits


def integer(row: Row, field: str, low: int, high: int) -> int:
    value = required(row, field)
    try:
        number = int(value)
    except ValueError:
        raise Bad(field, f"must be a whole number, got {_shown(value)}") from None
    if not low <= number <= high:
        raise Bad(field, f"must be between {low} and {high}, got {number}")
    return number


def amount(row: Row, field: str) -> Decimal:
    """Euros with at most two decimals, point as the separator, not negative."""
    value = required(row, field)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise Bad(field, f"must be a decimal number like 12.50, got {_shown(value)}") from None
    if not number.is_finite() or number < 0 or number >= Decimal("1e10"):
        raise Bad(field, f"must be between 0 and 9999999999.99, got {_shown(value)}")
    if number.as_tuple().exponent < -2:  # type: ignore[operator]
        raise Bad(field, f"at most two decimals, got {_shown(value)}")
    return number


def date(row: Row, field: str) -> dt.date:
    value = required(row, field)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Bad(field, f"must be a date YYYY-MM-DD, got {_shown(value)}") from None


def month(row: Row, field: str = "month") -> dt.date:
    """A calendar month, written ``YYYY-MM`` (or ``YYYY-MM-01``); stored as its first day."""
    value = required(row, field)
    match = _MONTH.match(value)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise Bad(field, f"must be a month YYYY-MM, got {_shown(value)}")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def timestamp(row: Row, field: str) -> dt.datetime:
    """An ISO 8601 moment with its UTC offset (``2024-03-01T09:30:00+02:00`` or ``…Z``)."""
    value = required(row, field)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Bad(
            field, f"must be a timestamp like 2024-03-01T09:30:00+02:00, got {_shown(value)}"
        ) from None
    if moment.tzinfo is None:
        raise Bad(field, f"needs a UTC offset such as +02:00 or Z, got {_shown(value)}")
    return moment.astimezone(dt.UTC)


def boolean(row: Row, field: str) -> bool:
    value = required(row, field).lower()
    if value not in ("true", "false"):
        raise Bad(field, f"must be true or false, got {_shown(value)}")
    return value == "true"


def code(row: Row, field: str) -> str:
    value = required(row, field)
    if not _CODE.match(value):
        raise Bad(
            field, f"must be lower-case letters, digits and _ (up to 40), got {_shown(value)}"
        )
    return value


def postcode(row: Row, field: str) -> str:
    value = required(row, field)
    if not _POSTCODE.match(value):
        raise Bad(field, f"must be 5 digits, got {_shown(value)}")
    return value


def email(row: Row, field: str) -> str:
    value = required(row, field)
    if len(value) > 254 or not _EMAIL.match(value):
        raise Bad(field, f"not an e-mail address: {_shown(value)}")
    return value


def phone(row: Row, field: str) -> str:
    value = required(row, field)
    if not _PHONE.match(value) or sum(c.isdigit() for c in value) < 6:
        raise Bad(field, f"not a phone number: {_shown(value)}")
    return value
