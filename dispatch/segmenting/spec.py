"""Segment files: YAML parsed into a typed tree, every node knowing its line.

The file is read with :func:`yaml.compose`, which keeps the position of every node,
and is never turned into Python objects by PyYAML: this module checks each key and
type itself, so that an error names the file, the line and the field
(``segments/x.yaml:12: where.all[0].purchased.group: ...``). All problems of a file
are collected before anything is raised, so one run of ``dispatch segment check``
reports them all. The format is documented in ``docs/segments.md``.

Only syntax and types are checked here; whether a product group or chain exists, and
whether it is special-category data, needs the database (:mod:`.references`).
:func:`read` also keeps every criterion it could read in a file that has problems
elsewhere (down to the name of a criterion whose other fields are bad), so that those
names are checked in the same run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

import yaml

from dispatch import suggest
from dispatch.db.types import Channel, Language, Purpose
from dispatch.errors import DispatchError, InputError
from dispatch.privacy.policy import Unit
from dispatch.register.consent import CAMPAIGN_CHANNELS, CAMPAIGN_PURPOSES
from dispatch.segmenting.tree import (
    GROUP_OPS,
    Age,
    Browsed,
    Criterion,
    Group,
    GroupOp,
    HomeStoreChain,
    LanguageIs,
    Loc,
    MemberSince,
    Municipality,
    Name,
    Node,
    PostcodePrefix,
    Purchased,
    Region,
    Segment,
    Visited,
    raise_problems,
)

MAX_FILE_BYTES = 256 * 1024
#: How deep ``all``/``any``/``none`` may nest, ``where`` itself being the first level.
#: The segments in ``segments/`` use two; without a bound, a file of a few kilobytes
#: nested thousands deep ended in a RecursionError in the YAML composer.
MAX_DEPTH = 8
#: Criteria in one file, and names in one criterion: a segment is reviewed like code,
#: and every criterion and name becomes part of one SQL statement.
MAX_CRITERIA = 100
MAX_NAMES = 500
#: The longest text field (a segment name is stored in a campaign, 80 characters).
MAX_NAME_LENGTH = 80
MAX_TEXT_LENGTH = 2000
#: YAML nesting allowed before the tree is built (a mapping and a list per level of
#: ``where``, and the criterion's own mapping): a bound PyYAML's recursive composer
#: never reaches.
MAX_YAML_DEPTH = 2 * MAX_DEPTH + 6
T = TypeVar("T")

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_NAME_TAGS = {_STR, _INT, _FLOAT, _TIMESTAMP}  # read as the text written in the file
_CATEGORY = re.compile(r"^[a-z][a-z0-9_-]*$")
_POSTCODE_PREFIX = re.compile(r"^[0-9]{1,5}$")
#: Free text may have line breaks and tabs; names may have no control character at all.
_TEXT_WHITESPACE = frozenset("\t\n\r")
#: Unicode categories refused in any text: control, format (zero-width and direction
#: marks, invisible look-alikes), surrogate, private use and unassigned characters.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_NAME_FIELDS = frozenset({"name", "purpose", "channel", "unit"})
#: Descriptions for members, one per language they read (their data export quotes it).
_MEMBER_DESCRIPTIONS = tuple(f"description_{language.value}" for language in Language)


@dataclass(frozen=True)
class Reading:
    """What :func:`read` made of a file: the segment if it has no problems, the problems,
    and every criterion it could read (also beside problems, for the reference check)."""

    segment: Segment | None
    problems: list[DispatchError]
    criteria: tuple[Criterion, ...]


def _text(path: Path | str) -> str:
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=source) from exc
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"larger than {MAX_FILE_BYTES // 1024} KiB", where=source)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", where=source) from exc


def load(path: Path | str) -> Segment:
    """Read and check one segment file; raise :class:`InputError` naming every problem."""
    return parse(_text(path), str(path))


def parse(text: str, source: str) -> Segment:
    """Parse segment YAML; ``source`` is the file name used in error locations."""
    found = parse_all(text, source)
    raise_problems(found.problems, source)
    assert found.segment is not None  # noqa: S101 - no problems means a segment was built
    return found.segment


def parse_all(text: str, source: str) -> Reading:
    """Parse segment YAML without raising: the segment or the problems, and the criteria."""
    parser = _Parser(source)
    segment = parser.segment(text)
    return Reading(segment, parser.problems, tuple(parser.criteria))


def read(path: Path | str) -> Reading:
    """:func:`parse_all` of a file; a file that cannot be read is one problem."""
    try:
        text = _text(path)
    except DispatchError as exc:
        return Reading(None, [exc], ())
    return parse_all(text, str(path))


def _kind(node: yaml.Node) -> str:
    """What a node is, for "expected X, got Y" messages."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == "tag:yaml.org,2002:null":
        return "nothing"
    if node.tag == "tag:yaml.org,2002:bool":
        return f"{node.value!r}, which YAML reads as true/false (quote it)"
    return repr(node.value)


class _Invalid(Exception):
    """One field is bad; already recorded, parsing continues with its siblings."""


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self._found: list[tuple[int, DispatchError]] = []
        #: Every criterion read so far, and a stand-in for each one whose names were
        #: read but another field was bad (see :meth:`fields`).
        self.criteria: list[Criterion] = []
        #: Criteria met so far, read or not (for :data:`MAX_CRITERIA`).
        self.count = 0

    @property
    def problems(self) -> list[DispatchError]:
        """Every problem found, in file order."""
        return [problem for _, problem in sorted(self._found, key=lambda found: found[0])]

    def report(self, problem: DispatchError, line: int = 0) -> None:
        self._found.append((line, problem))

    # -- plumbing ------------------------------------------------------------------

    def loc(self, node: yaml.Node, path: str) -> Loc:
        return Loc(self.source, node.start_mark.line + 1, path)

    def fail(self, node: yaml.Node, path: str, message: str) -> _Invalid:
        loc = self.loc(node, path)
        self.report(loc.error(message), loc.line)
        return _Invalid()

    def guard(self, parse: Callable[..., T], *args: object) -> T | None:
        """``parse(*args)``, or None when it found a problem (already recorded)."""
        try:
            return parse(*args)
        except _Invalid:
            return None

    def mapping(
        self,
        node: yaml.Node,
        path: str,
        *,
        required: Iterable[str] = (),
        optional: Iterable[str] = (),
    ) -> dict[str, yaml.Node]:
        """The mapping's values by key; unknown, duplicate and missing keys are problems."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, path, f"expected a mapping, got {_kind(node)}")
        required, optional = list(required), list(optional)
        allowed = required + optional
        values: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            here = f"{path}.{key}" if path and key else (key or path)
            if key is None or key_node.tag != _STR:
                self.fail(key_node, path, "keys must be plain names")
            elif key in values:
                self.fail(key_node, here, f"duplicate key {key!r}")
            elif key not in allowed:
                self.fail(key_node, here, _unknown("key", key, allowed))
            else:
                values[key] = value_node
        for key in required:
            if key not in values:
                where = f"{path}.{key}" if path else key
                self.fail(node, where, f"missing required field {key!r}")
        return values

    def text(self, node: yaml.Node, path: str, *, free: bool = False) -> str:
        """A name (``free``: a description, which may have line breaks and tabs)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag not in _NAME_TAGS:
            raise self.fail(node, path, f"expected text, got {_kind(node)}")
        value = str(node.value).strip()
        if not value:
            raise self.fail(node, path, "must not be empty")
        refused = _refused_char(value, _TEXT_WHITESPACE if free else frozenset())
        if refused is not None:
            raise self.fail(node, path, refused)
        longest = MAX_TEXT_LENGTH if free else MAX_NAME_LENGTH
        if len(value) > longest:
            raise self.fail(node, path, f"longer than {longest} characters ({len(value)})")
        return value

    def free_text(self, node: yaml.Node, path: str) -> str:
        return self.text(node, path, free=True)

    def names(self, node: yaml.Node, path: str) -> tuple[Name, ...]:
        """One name, or a non-empty list of names."""
        if isinstance(node, yaml.SequenceNode):
            if not node.value:
                raise self.fail(node, path, "expected a name or a non-empty list of names")
            items = [(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        else:
            items = [(node, path)]
        if len(items) > MAX_NAMES:
            raise self.fail(node, path, f"more than {MAX_NAMES} names in one criterion")
        names = [self.guard(self.name, n, p) for n, p in items]
        if any(name is None for name in names):
            raise _Invalid()
        return tuple(name for name in names if name is not None)

    def name(self, node: yaml.Node, path: str) -> Name:
        return Name(self.text(node, path), self.loc(node, path))

    def integer(self, node: yaml.Node, path: str, *, low: int, high: int) -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _INT:
            raise self.fail(node, path, f"expected a whole number, got {_kind(node)}")
        try:
            value = int(str(node.value).replace("_", ""), 10)
        except ValueError:
            raise self.fail(node, path, "expected a decimal whole number") from None
        if not low <= value <= high:
            raise self.fail(node, path, f"must be between {low} and {high}")
        return value

    def amount(self, node: yaml.Node, path: str) -> Decimal:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in {_INT, _FLOAT}:
            raise self.fail(node, path, f"expected an amount in euros, got {_kind(node)}")
        try:
            value = Decimal(str(node.value).replace("_", ""))
        except InvalidOperation:
            raise self.fail(node, path, "expected an amount like 25 or 12.50") from None
        if not value.is_finite() or value <= 0 or value >= Decimal("1e9"):
            raise self.fail(node, path, "must be a positive amount in euros")
        return value

    def date(self, node: yaml.Node, path: str) -> dt.date:
        if isinstance(node, yaml.ScalarNode) and node.tag in {_STR, _TIMESTAMP}:
            try:
                return dt.date.fromisoformat(str(node.value))
            except ValueError:
                pass
        raise self.fail(node, path, "expected a date like 2020-01-31")

    def choice(self, node: yaml.Node, path: str, allowed: Iterable[str]) -> str:
        allowed = [str(value) for value in allowed]
        value = self.text(node, path)
        if value not in allowed:
            # A short closed list: show it all rather than guess, and point at a letter
            # that only looks right (a Cyrillic i, U+0456, in "fi").
            odd = suggest.lookalikes(value, allowed)
            note = f" ({value!r} has {', '.join(odd)})" if odd else ""
            raise self.fail(
                node,
                path,
                f"unknown value {value!r}; expected one of {', '.join(allowed)}{note}",
            )
        return value

    # -- the document --------------------------------------------------------------

    def segment(self, text: str) -> Segment | None:
        try:
            refused = self.shape(text)
            if refused is not None:
                self.report(refused)
                return None
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            at = f"{self.source}:{mark.line + 1}" if mark else self.source
            problem = exc.problem or "malformed YAML"
            self.report(InputError(f"not valid YAML: {problem}", where=at))
            return None
        except yaml.reader.ReaderError as exc:
            # A control character such as NUL written raw into the file.
            line = text.count("\n", 0, exc.position) + 1
            self.report(
                InputError(
                    f"not valid YAML: control character U+{exc.character:04X} in the file",
                    where=f"{self.source}:{line}",
                )
            )
            return None
        except yaml.YAMLError as exc:
            self.report(InputError(f"not valid YAML: {exc}", where=self.source))
            return None
        if root is None:
            self.report(InputError("empty file: expected a segment", where=self.source))
            return None
        try:
            fields = self.mapping(
                root,
                "",
                required=("name", "purpose", "channel", "where"),
                optional=("description", *_MEMBER_DESCRIPTIONS, "unit"),
            )
        except _Invalid:
            return None
        name = description = purpose = channel = None
        unit: str | None = Unit.MEMBER
        where = None
        if "name" in fields:
            name = self.guard(self.text, fields["name"], "name")
        if "description" in fields:
            description = self.guard(self.free_text, fields["description"], "description")
        localized = []
        for key in _MEMBER_DESCRIPTIONS:
            if key in fields:
                value = self.guard(self.free_text, fields[key], key)
                localized.append((key.rsplit("_", 1)[1], value or ""))
        if "purpose" in fields:
            purpose = self.guard(self.choice, fields["purpose"], "purpose", CAMPAIGN_PURPOSES)
        if "channel" in fields:
            channel = self.guard(self.choice, fields["channel"], "channel", CAMPAIGN_CHANNELS)
        if "unit" in fields:
            unit = self.guard(self.choice, fields["unit"], "unit", list(Unit))
        if "where" in fields:
            where = self.guard(self.where, fields["where"])
        if self.problems:
            return None
        assert name and purpose and channel and unit and where  # noqa: S101 - checked above
        return Segment(
            name=name,
            description=description or "",
            purpose=Purpose(purpose),
            channel=Channel(channel),
            unit=Unit(unit),
            where=where,
            source=self.source,
            member_descriptions=tuple(localized),
        )

    def shape(self, text: str) -> InputError | None:
        """The first alias, or the first collection nested deeper than
        :data:`MAX_YAML_DEPTH`, read from the event stream (which is not recursive)
        before the composer (which is) builds the tree."""
        path = _EventPath()
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, yaml.AliasEvent):
                # Anchors and aliases would let a small file expand into a huge tree.
                return InputError(
                    "YAML aliases are not allowed in segment files",
                    where=f"{self.source}:{line}",
                )
            path.step(event)
            if path.depth > MAX_YAML_DEPTH:
                return InputError(
                    f"nested too deeply: all, any and none may nest at most {MAX_DEPTH} levels",
                    where=f"{self.source}:{line}: {path.top()}",
                )
        return None

    def where(self, node: yaml.Node) -> Group:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            raise self.fail(node, "where", "empty where: give all, any or none with criteria")
        fields = self.mapping(node, "where", optional=GROUP_OPS)
        if not fields and isinstance(node, yaml.MappingNode) and not node.value:
            raise self.fail(node, "where", "empty where: give all, any or none with criteria")
        groups = [self.guard(self.group, op, n, f"where.{op}", 1) for op, n in fields.items()]
        if not fields or any(g is None for g in groups):
            raise _Invalid()
        items = tuple(g for g in groups if g is not None)
        if len(items) == 1:
            return items[0]
        return Group(self.loc(node, "where"), "all", items)

    def group(self, op: GroupOp, node: yaml.Node, path: str, depth: int) -> Group:
        """An all/any/none list; ``depth``: how many groups it is inside, and itself."""
        if depth > MAX_DEPTH:
            raise self.fail(
                node,
                path,
                f"nested too deeply: all, any and none may nest at most {MAX_DEPTH} levels",
            )
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, path, f"expected a list of criteria, got {_kind(node)}")
        if not node.value:
            raise self.fail(node, path, f"empty {op}: give at least one criterion")
        items = [self.guard(self.item, n, f"{path}[{i}]", depth) for i, n in enumerate(node.value)]
        if any(item is None for item in items):
            raise _Invalid()
        return Group(self.loc(node, path), op, tuple(i for i in items if i is not None))

    def item(self, node: yaml.Node, path: str, depth: int) -> Node:
        if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
            raise self.fail(
                node, path, "each list item is one criterion, or one of all/any/none with a list"
            )
        key_node, value = node.value[0]
        key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
        here = f"{path}.{key}"
        if key in GROUP_OPS:
            return self.group(key, value, here, depth + 1)
        parse = _CRITERIA.get(key)
        if parse is None:
            raise self.fail(key_node, here, _unknown("criterion", key, [*_CRITERIA, *GROUP_OPS]))
        self.count += 1
        if self.count == MAX_CRITERIA + 1:  # said once, at the first one too many
            raise self.fail(key_node, here, f"more than {MAX_CRITERIA} criteria in one segment")
        criterion = parse(self, value, self.loc(key_node, here))
        self.criteria.append(criterion)
        return criterion

    # -- criteria ------------------------------------------------------------------

    def fields(
        self,
        node: yaml.Node,
        loc: Loc,
        parsers: dict[str, Callable[[yaml.Node, str], object]],
        *,
        required: Iterable[str],
        names: Callable[[dict[str, object]], Criterion] | None = None,
    ) -> dict[str, object]:
        """Parse a criterion's mapping, each field with its parser, all problems kept.

        When a field is bad, ``names(values read)`` builds a stand-in criterion that
        carries the names read (the other fields are placeholders), so that the names
        are still checked against the register; a name missing raises ``KeyError``
        there, and then there is nothing to check.
        """
        required = list(required)
        values = self.mapping(
            node,
            loc.path,
            required=required,
            optional=[k for k in parsers if k not in required],
        )
        parsed = {
            key: self.guard(parsers[key], n, f"{loc.path}.{key}") for key, n in values.items()
        }
        if any(k not in values for k in required) or any(v is None for v in parsed.values()):
            if names is not None:
                with contextlib.suppress(KeyError):
                    self.criteria.append(names({k: v for k, v in parsed.items() if v is not None}))
            raise _Invalid()
        return parsed

    def purchased(self, node: yaml.Node, loc: Loc) -> Purchased:
        f = self.fields(
            node,
            loc,
            {
                "group": self.name,
                "within_months": lambda n, p: self.integer(n, p, low=1, high=120),
                "min_amount": self.amount,
                "min_count": lambda n, p: self.integer(n, p, low=1, high=1_000_000),
            },
            required=("group", "within_months"),
            names=lambda v: Purchased(loc, _as(Name, v["group"]), 1, None, None),
        )
        return Purchased(
            loc,
            _as(Name, f["group"]),
            _as(int, f["within_months"]),
            _opt(Decimal, f.get("min_amount")),
            _opt(int, f.get("min_count")),
        )

    def visited(self, node: yaml.Node, loc: Loc) -> Visited:
        f = self.fields(
            node,
            loc,
            {
                "chain": self.names,
                "municipality": self.name,
                "within_months": lambda n, p: self.integer(n, p, low=1, high=120),
                "min_visits": lambda n, p: self.integer(n, p, low=1, high=100_000),
            },
            required=("chain", "within_months"),
            names=lambda v: Visited(
                loc, _as(tuple, v["chain"]), _opt(Name, v.get("municipality")), 1, 1
            ),
        )
        return Visited(
            loc,
            _as(tuple, f["chain"]),
            _opt(Name, f.get("municipality")),
            _as(int, f["within_months"]),
            _opt(int, f.get("min_visits")) or 1,
        )

    def browsed(self, node: yaml.Node, loc: Loc) -> Browsed:
        def category(n: yaml.Node, p: str) -> Name:
            name = self.name(n, p)
            if not _CATEGORY.match(name.value):
                raise self.fail(n, p, "a web category is a lower-case name like 'bicycles'")
            return name

        f = self.fields(
            node,
            loc,
            {
                "category": category,
                "within_days": lambda n, p: self.integer(n, p, low=1, high=3650),
            },
            required=("category", "within_days"),
            names=lambda v: Browsed(loc, _as(Name, v["category"]), 1),
        )
        return Browsed(loc, _as(Name, f["category"]), _as(int, f["within_days"]))

    def age(self, node: yaml.Node, loc: Loc) -> Age:
        years = lambda n, p: self.integer(n, p, low=0, high=130)  # noqa: E731
        f = self.fields(node, loc, {"min": years, "max": years}, required=())
        low, high = _opt(int, f.get("min")), _opt(int, f.get("max"))
        if low is None and high is None:
            raise self.fail(node, loc.path, "give min, max or both")
        if low is not None and high is not None and low > high:
            raise self.fail(node, loc.path, "min is greater than max")
        return Age(loc, low, high)

    def language(self, node: yaml.Node, loc: Loc) -> LanguageIs:
        return LanguageIs(loc, Language(self.choice(node, loc.path, list(Language))))

    def region(self, node: yaml.Node, loc: Loc) -> Region:
        return Region(loc, self.names(node, loc.path))

    def municipality(self, node: yaml.Node, loc: Loc) -> Municipality:
        return Municipality(loc, self.names(node, loc.path))

    def home_store_chain(self, node: yaml.Node, loc: Loc) -> HomeStoreChain:
        return HomeStoreChain(loc, self.names(node, loc.path))

    def postcode_prefix(self, node: yaml.Node, loc: Loc) -> PostcodePrefix:
        prefixes = []
        for name in self.names(node, loc.path):
            if not _POSTCODE_PREFIX.match(name.value):
                self.report(name.loc.error("a postcode prefix is 1 to 5 digits"), name.loc.line)
            prefixes.append(name.value)
        if len(prefixes) != len(set(prefixes)) or any(
            not _POSTCODE_PREFIX.match(p) for p in prefixes
        ):
            raise _Invalid()
        return PostcodePrefix(loc, tuple(prefixes))

    def member_since(self, node: yaml.Node, loc: Loc) -> MemberSince:
        f = self.fields(node, loc, {"before": self.date, "after": self.date}, required=())
        before, after = _opt(dt.date, f.get("before")), _opt(dt.date, f.get("after"))
        if before is None and after is None:
            raise self.fail(node, loc.path, "give before, after or both")
        if before is not None and after is not None and after >= before:
            raise self.fail(node, loc.path, "after must be earlier than before")
        return MemberSince(loc, before, after)


_CRITERIA: dict[str, Callable[[_Parser, yaml.Node, Loc], Criterion]] = {
    "purchased": _Parser.purchased,
    "visited": _Parser.visited,
    "browsed": _Parser.browsed,
    "age": _Parser.age,
    "language": _Parser.language,
    "region": _Parser.region,
    "municipality": _Parser.municipality,
    "postcode_prefix": _Parser.postcode_prefix,
    "home_store_chain": _Parser.home_store_chain,
    "member_since": _Parser.member_since,
}


def _unknown(what: str, value: str, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    close = difflib.get_close_matches(value, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(allowed)}"
    return f"unknown {what} {value!r}{hint}"


def _as(kind: type[T], value: object) -> T:
    if not isinstance(value, kind):  # pragma: no cover - guarded by fields()
        raise TypeError(f"expected {kind.__name__}, got {value!r}")
    return value


def _opt(kind: type[T], value: object) -> T | None:
    return None if value is None else _as(kind, value)


def _refused_char(value: str, allowed: frozenset[str]) -> str | None:
    """What is wrong with the first control or invisible character of ``value``."""
    for char in value:
        if char not in allowed and unicodedata.category(char) in _REFUSED_CATEGORIES:
            if unicodedata.category(char) == "Cc":
                return f"has the control character U+{ord(char):04X}; remove it"
            name = unicodedata.name(char, "unassigned")
            return f"has the invisible or unusual character U+{ord(char):04X} ({name}); remove it"
    return None


class _EventPath:
    """The depth and the field path of the current point of a YAML event stream."""

    def __init__(self) -> None:
        #: One entry per open collection: [is_mapping, expecting_a_key, key or index].
        self._open: list[list[object]] = []

    @property
    def depth(self) -> int:
        return len(self._open)

    def top(self) -> str:
        """The dotted path, shortened to its first field (deep paths are unreadable)."""
        for frame in self._open:
            if frame[0] and not frame[1]:
                return str(frame[2])
        return "document"

    def _value_done(self) -> None:
        if not self._open:
            return
        frame = self._open[-1]
        if frame[0]:
            frame[1] = not frame[1]
        else:
            frame[2] = int(str(frame[2])) + 1

    def step(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            is_map = isinstance(event, yaml.MappingStartEvent)
            self._open.append([is_map, True, 0 if not is_map else ""])
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self._open.pop()
            self._value_done()
        elif isinstance(event, yaml.ScalarEvent):
            if self._open and self._open[-1][0] and self._open[-1][1]:
                self._open[-1][2] = event.value
            self._value_done()
