"""The static half of the template sandbox: which Jinja a partner may write.

Partner templates are declarative. The parsed template is walked once and refused
unless every node is on an allow-list; what is left cannot call anything, cannot
recurse and cannot name anything outside the documented context:

- no calls at all (functions, methods, ``range``, ``loop(...)``, ``caller()``): every
  transformation is a filter from :data:`FILTERS`, every check a test from :data:`TESTS`;
- no macros, call blocks, recursive loops, blocks, ``{% include %}``, ``{% import %}``,
  ``{% extends %}``, ``{% filter %}``, ``{% with %}``, ``{% set %}...{% endset %}``,
  ``{% autoescape %}`` (escaping is always on for HTML) and no ``**`` operator;
- names: ``recipient`` and ``campaign`` with their documented fields, ``loop`` inside a
  ``for`` body, and variables the template itself assigns (never a reserved name);
- attributes never start with ``_``; subscripts are literals, so every name that can
  reach an error message comes from the template, never from member data;
- in letters ``recipient.first_name`` only ever stands alone in ``{{ }}``: it is a
  placeholder box stamped later, and a filter or comparison would break it.

The runtime half (:mod:`dispatch.creatives.sandbox`) enforces the same rules again and
adds the size, work and time limits.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from enum import StrEnum

from jinja2 import meta, nodes

from dispatch.creatives.context import PERSONAL_FIELDS, SCHEMA
from dispatch.creatives.problems import Problem


class Kind(StrEnum):
    """What a template produces; decides escaping and the letter placeholder rule."""

    LETTER = "letter"
    HTML = "html"
    TEXT = "text"


def kind_for(name: str) -> Kind:
    """``letter.html.j2`` is a letter, ``*.txt.j2`` is plain text, anything else HTML."""
    base = name.rsplit("/", 1)[-1]
    if base.endswith((".txt.j2", ".txt")):
        return Kind.TEXT
    if base.startswith("letter"):
        return Kind.LETTER
    return Kind.HTML


#: Filters a partner may use, each with the keyword arguments it accepts.
FILTERS: dict[str, frozenset[str]] = {
    "upper": frozenset(),
    "lower": frozenset(),
    "title": frozenset(),
    "capitalize": frozenset(),
    "trim": frozenset({"chars"}),
    "escape": frozenset(),
    "e": frozenset(),
    "default": frozenset({"default_value", "boolean"}),
    "d": frozenset({"default_value", "boolean"}),
    "length": frozenset(),
    "count": frozenset(),
    "first": frozenset(),
    "last": frozenset(),
    "join": frozenset({"d"}),
    "replace": frozenset({"old", "new", "count"}),
    "truncate": frozenset({"length", "killwords", "end", "leeway"}),
    "wordcount": frozenset(),
    "abs": frozenset(),
    "round": frozenset({"precision", "method"}),
    "int": frozenset({"default", "base"}),
    "string": frozenset(),
}

#: Tests a partner may use (``is defined``, ``is even`` ...); none of them calls anything.
TESTS: frozenset[str] = frozenset(
    {
        "defined", "undefined", "none", "boolean", "true", "false", "number", "integer",
        "float", "string", "even", "odd", "divisibleby", "eq", "ne", "lt", "le", "gt",
        "ge", "==", "!=", "<", "<=", ">", ">=", "equalto", "greaterthan", "lessthan",
        "in", "lower", "upper", "sequence", "iterable",
    }
)  # fmt: skip

LOOP_FIELDS: frozenset[str] = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth",
     "depth0", "previtem", "nextitem"}
)  # fmt: skip

#: Names a template may never assign, so that no alias can hide a reserved object.
RESERVED = frozenset(SCHEMA) | {
    "loop", "self", "caller", "varargs", "kwargs", "super", "range", "lipsum", "dict",
    "cycler", "joiner", "namespace", "true", "false", "none",
}  # fmt: skip

_PLACEHOLDER_RULE = (
    "in a letter recipient.first_name is a placeholder stamped in later: write it alone "
    "as {{ recipient.first_name }}, without filters, tests or comparisons"
)

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")

_FORBIDDEN: dict[type[nodes.Node], str] = {
    nodes.Call: "calls are not allowed: use a filter (see docs/creatives.md)",
    nodes.Macro: "macros are not allowed",
    nodes.CallBlock: "{% call %} blocks are not allowed",
    nodes.Include: "{% include %} is not allowed: a template cannot read other files",
    nodes.Import: "{% import %} is not allowed: a template cannot read other files",
    nodes.FromImport: "{% from ... import %} is not allowed: a template cannot read other files",
    nodes.Extends: "{% extends %} is not allowed: the system layout wraps the template",
    nodes.Block: "{% block %} is not allowed: the system layout wraps the template",
    nodes.FilterBlock: "{% filter %} blocks are not allowed: apply filters to values",
    nodes.With: "{% with %} is not allowed: use {% set %}",
    nodes.AssignBlock: "{% set %}...{% endset %} blocks are not allowed: use {% set x = ... %}",
    nodes.Scope: "{% autoescape %} is not allowed: escaping is always on",
    nodes.ScopedEvalContextModifier: "{% autoescape %} is not allowed: escaping is always on",
    nodes.EvalContextModifier: "{% autoescape %} is not allowed: escaping is always on",
    nodes.ExprStmt: "{% do %} is not allowed",
    nodes.Pow: "the ** operator is not allowed",
    nodes.NSRef: "namespace assignment is not allowed",
}

_ALLOWED: tuple[type[nodes.Node], ...] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name,
    nodes.Getattr, nodes.Getitem, nodes.Slice, nodes.If, nodes.CondExpr, nodes.For,
    nodes.Assign, nodes.Tuple, nodes.List, nodes.Dict, nodes.Pair, nodes.Keyword,
    nodes.Filter, nodes.Test, nodes.Concat, nodes.Compare, nodes.Operand, nodes.Add,
    nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.And, nodes.Or,
    nodes.Not, nodes.Neg, nodes.Pos,
)  # fmt: skip


def check_tree(
    tree: nodes.Template, name: str, kind: Kind, texts: Collection[str] | None = None
) -> list[Problem]:
    """Every policy violation in a parsed template (empty when it is acceptable).

    ``texts`` are the keys of the creative's static texts; when given, each
    ``campaign.texts.<key>`` must be one of them.
    """
    problems = list(_Checker(name, kind, texts).check(tree))
    if not problems:
        # A safety net from Jinja's own analysis (which misses ``self`` and ``loop``,
        # hence the walk above): on an accepted template it must find nothing more.
        for unknown in sorted(meta.find_undeclared_variables(tree) - set(SCHEMA)):
            problems.append(Problem(name, None, f"unknown variable {unknown!r}"))
    return problems


class _Checker:
    def __init__(self, name: str, kind: Kind, texts: Collection[str] | None) -> None:
        self.name = name
        self.kind = kind
        self.texts = None if texts is None else frozenset(texts)
        self.assigned: set[str] = set()

    def problem(self, node: nodes.Node, reason: str) -> Problem:
        # Some nodes (the Scope of {% autoescape %}) carry no line; their body does.
        lines = (getattr(n, "lineno", None) for n in (node, *node.find_all(nodes.Node)))
        return Problem(self.name, next((n for n in lines if n), None), reason)

    def check(self, tree: nodes.Template) -> Iterator[Problem]:
        for statement in tree.find_all((nodes.Assign, nodes.For)):
            target = statement.target if isinstance(statement, nodes.Assign | nodes.For) else None
            stores = [] if target is None else [target, *target.find_all(nodes.Name)]
            for store in (n for n in stores if isinstance(n, nodes.Name)):
                self.assigned.add(store.name)
                if store.name in RESERVED or not _NAME.match(store.name):
                    reason = f"cannot assign to {store.name!r}: use a lowercase, unreserved name"
                    yield self.problem(store, reason)
        yield from self.visit(tree, None, in_loop=False)

    def visit(
        self, node: nodes.Node, parent: nodes.Node | None, *, in_loop: bool
    ) -> Iterator[Problem]:
        reason = _FORBIDDEN.get(type(node))
        if reason is not None:
            yield self.problem(node, reason)
            return
        if not isinstance(node, _ALLOWED):
            yield self.problem(node, f"{type(node).__name__} is not allowed in a creative")
            return
        yield from self.check_node(node, parent, in_loop=in_loop)
        for child in node.iter_child_nodes():
            inside = in_loop or (isinstance(node, nodes.For) and child is not node.iter)
            yield from self.visit(child, node, in_loop=inside)

    def check_node(
        self, node: nodes.Node, parent: nodes.Node | None, *, in_loop: bool
    ) -> Iterator[Problem]:
        if isinstance(node, nodes.For) and node.recursive:
            yield self.problem(node, "recursive loops are not allowed")
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            yield from self.check_name(node, parent, in_loop=in_loop)
        elif isinstance(node, nodes.Getattr):
            yield from self.check_field(node, node.node, node.attr, parent)
        elif isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Slice):
                return
            if not isinstance(node.arg, nodes.Const) or not isinstance(node.arg.value, str | int):
                yield self.problem(node, "subscripts must be literal strings or numbers")
            elif isinstance(node.arg.value, str):
                yield from self.check_field(node, node.node, node.arg.value, parent)
        elif isinstance(node, nodes.Filter | nodes.Test):
            yield from self.check_filter(node)

    def check_name(
        self, node: nodes.Name, parent: nodes.Node | None, *, in_loop: bool
    ) -> Iterator[Problem]:
        if node.name in SCHEMA:
            if not _is_base_of(node, parent):
                yield self.problem(node, f"{node.name} cannot be used whole: use one of its fields")
        elif node.name == "loop":
            if not in_loop:
                yield self.problem(node, "'loop' exists only inside a for loop")
        elif node.name not in self.assigned or node.name in RESERVED:
            allowed = ", ".join(sorted(SCHEMA))
            reason = f"unknown variable {node.name!r}: use {allowed} or your own variables"
            yield self.problem(node, reason)

    def check_field(
        self, node: nodes.Node, base: nodes.Node, field: str, parent: nodes.Node | None
    ) -> Iterator[Problem]:
        if field.startswith("_") or field in {"format", "format_map", "mro"}:
            yield self.problem(node, f"attribute {field!r} is not allowed")
            return
        path = _path(base)
        if path in (("recipient",), ("campaign",)):
            root = path[0]
            if field not in SCHEMA[root]:
                fields = ", ".join(f"{root}.{f}" for f in sorted(SCHEMA[root]))
                yield self.problem(node, f"unknown field {root}.{field}: use {fields}")
            elif (root, field) == ("campaign", "texts") and not _is_base_of(node, parent):
                yield self.problem(node, "campaign.texts cannot be used whole: use one text")
            elif (
                (root, field) == ("recipient", "first_name")
                and self.kind is Kind.LETTER
                and not isinstance(parent, nodes.Output)
            ):
                yield self.problem(node, _PLACEHOLDER_RULE)
        elif path == ("campaign", "texts"):
            if self.texts is not None and field not in self.texts:
                yield self.problem(node, f"campaign.texts.{field} is not in creative.yaml texts")
        elif path == ("loop",) and field not in LOOP_FIELDS:
            yield self.problem(node, f"unknown field loop.{field}")

    def check_filter(self, node: nodes.Filter | nodes.Test) -> Iterator[Problem]:
        what = "filter" if isinstance(node, nodes.Filter) else "test"
        known = FILTERS.get(node.name) if isinstance(node, nodes.Filter) else None
        if (isinstance(node, nodes.Filter) and known is None) or (
            isinstance(node, nodes.Test) and node.name not in TESTS
        ):
            yield self.problem(node, f"{what} {node.name!r} is not allowed (see docs/creatives.md)")
            return
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            yield self.problem(node, f"{what} {node.name!r}: *args and **kwargs are not allowed")
        for keyword in node.kwargs:
            if known is None or keyword.key not in known:
                yield self.problem(node, f"{what} {node.name!r} has no argument {keyword.key!r}")


#: Filters that give back their value when it is true (a personal field's stand-in is).
_PASSING_FILTERS = frozenset({"default", "d"})


def personal_fields_opaque(tree: nodes.Template) -> bool:
    """Whether the template only prints each personal field as it is or tests its truth.

    Allowed uses of ``recipient.first_name`` and ``recipient.home_store``: printed alone
    (``{{ recipient.first_name }}``, also through ``default``), and as the test of an
    ``{% if %}`` or ``... if ... else ...``, also under ``not``, ``and`` and ``or``.
    For such a template, the output for a member is the output for stand-in values
    that are true or false where the member's are, with the member's values put in
    their place (escaped in HTML as the template would have): e-mails are built that
    way (:mod:`dispatch.campaigns.content`). Any other use (a filter, a comparison, a
    loop, an assignment) makes the output depend on the value itself.
    """
    parents: dict[int, nodes.Node] = {}
    fields: list[nodes.Node] = []
    stack: list[nodes.Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            path = _path(node)
            if path is not None and path[:-1] == ("recipient",) and path[-1] in PERSONAL_FIELDS:
                fields.append(node)
        for child in node.iter_child_nodes():
            parents[id(child)] = node
            stack.append(child)
    return all(_printed_or_tested(field, parents) for field in fields)


def _printed_or_tested(node: nodes.Node, parents: dict[int, nodes.Node]) -> bool:
    parent = parents.get(id(node))
    if isinstance(parent, nodes.Output):
        return True
    if isinstance(parent, nodes.Filter) and parent.node is node and parent.name in _PASSING_FILTERS:
        return isinstance(parents.get(id(parent)), nodes.Output)
    while isinstance(parent, nodes.Not | nodes.And | nodes.Or):
        node, parent = parent, parents.get(id(parent))
    return isinstance(parent, nodes.If | nodes.CondExpr) and parent.test is node


def _path(node: nodes.Node) -> tuple[str, ...] | None:
    """``("campaign", "texts")`` for ``campaign.texts`` / ``campaign['texts']``."""
    if isinstance(node, nodes.Name):
        return (node.name,)
    if isinstance(node, nodes.Getattr):
        field: object = node.attr
        inner = node.node
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        field = node.arg.value
        inner = node.node
    else:
        return None
    head = _path(inner)
    return None if head is None or not isinstance(field, str) else (*head, field)


def _is_base_of(node: nodes.Node, parent: nodes.Node | None) -> bool:
    return isinstance(parent, nodes.Getattr | nodes.Getitem) and parent.node is node
