"""Render partner templates so that the worst they can do is fail (invariant 5).

Two layers, both always on:

1. **Static** (:mod:`dispatch.creatives.policy`): the parsed template must use only
   allow-listed Jinja: no calls, macros, includes, imports, recursion or ``**``; only
   the documented names and fields; only allow-listed filters and tests.
2. **Runtime**: an :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` with no loader,
   no globals, only the allow-listed filters (each wrapped in a guard), autoescape on
   for HTML, :class:`~jinja2.StrictUndefined`, no attribute that starts with ``_``, no
   callable attribute at all (templates cannot call, so a method is only something to
   leak), no ``str.format``, and every arithmetic operator intercepted.

Guarantees per render, with the default :data:`LIMITS`:

- output at most 256 KiB; every intermediate string or list at most 256 KiB; at most
  8 MiB produced by all string and list operations together (so memory stays flat);
  integers from arithmetic at most 256 bits;
- at most 10,000 loop iterations in total; there is no other way to repeat work, as
  the language we accept has no recursion and no calls;
- a 2 s deadline, checked on every loop iteration, filter, operator, concatenation
  and output chunk: no single step between checks costs more than one bounded
  operation on a 256 KiB value (milliseconds), so a render ends within about the
  deadline. No thread and no ``sys.settrace`` is involved.

Anything that goes wrong becomes :class:`TemplateRejected` naming the template and
line; the message never quotes member data (values from the context are redacted).
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable, Mapping
from functools import lru_cache
from typing import Any, cast

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS as JINJA_TESTS
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer

from dispatch.creatives.context import PERSONAL_FIELDS, SCHEMA, Record
from dispatch.creatives.limits import (
    BUDGET,
    ITER_GUARD,
    LIMITS,
    SIZE_GUARD,
    Budget,
    LimitExceeded,
    Limits,
    current_budget,
    filter_table,
)
from dispatch.creatives.policy import TESTS, Kind, check_tree, kind_for, personal_fields_opaque
from dispatch.creatives.problems import Problem
from dispatch.errors import InputError

__all__ = [
    "LIMITS",
    "LimitExceeded",
    "Limits",
    "TemplateRejected",
    "check_syntax",
    "opaque_to_personal_fields",
    "render",
]


class TemplateRejected(InputError):
    """A template that failed a check or a render: which template, which line, why."""

    def __init__(self, name: str, line: int | None, reason: str) -> None:
        self.name = name
        self.line = line
        self.reason = reason
        super().__init__(reason, where=name if line is None else f"{name}:{line}")

    @property
    def problem(self) -> Problem:
        return Problem(self.name, self.line, self.reason)


# --- the environment -----------------------------------------------------------------


class _Undefined(StrictUndefined):
    """StrictUndefined whose messages name only template-side things, never values."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name = self._undefined_name
        if self._undefined_obj is missing:
            return f"{name!r} is undefined"
        owner = self._undefined_obj
        what = repr(owner) if isinstance(owner, Record) else f"a {type(owner).__name__} value"
        return f"{what} has no field {name!r}"


class _Environment(ImmutableSandboxedEnvironment):
    """The partner sandbox: see the module docstring for every restriction."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(
            loader=None,
            autoescape=autoescape,
            undefined=_Undefined,
            trim_blocks=True,  # a line holding only {% ... %} leaves no blank line
            lstrip_blocks=True,
            optimized=False,  # no constant folding: nothing partner-written runs at compile
            auto_reload=False,
            cache_size=0,
            extensions=(),
        )
        self.globals.clear()
        self.filters = filter_table()
        self.tests = {name: JINJA_TESTS[name] for name in TESTS}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_") or attr in {"format", "format_map", "mro"}:
            return False
        if callable(value):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        # The base class hands out a sandboxed str.format; we hand out nothing.
        return None

    def is_safe_callable(self, obj: Any) -> bool:
        return False  # templates contain no calls; this is the second lock on that door

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = current_budget()
        budget.tick()
        if operator == "**":
            raise SecurityError("the ** operator is not allowed")
        if operator == "%" and isinstance(left, str):
            raise SecurityError("string formatting with % is not allowed")
        if operator == "*":
            _check_repeat(budget, left, right)
        elif operator == "+" and _sized(left) and _sized(right):
            budget.allow_size(len(left) + len(right))
        return budget.produced(self.binop_table[operator](left, right))


def _sized(value: object) -> bool:
    return isinstance(value, str | list | tuple)


def _check_repeat(budget: Budget, left: Any, right: Any) -> None:
    if _sized(left) and isinstance(right, int):
        budget.allow_size(len(left) * max(right, 0))
    elif _sized(right) and isinstance(left, int):
        budget.allow_size(len(right) * max(left, 0))
    elif (
        isinstance(left, int)
        and isinstance(right, int)
        and left.bit_length() + right.bit_length() > budget.limits.int_bits
    ):
        raise LimitExceeded(f"a number would exceed {budget.limits.int_bits} bits")


_HTML = _Environment(autoescape=True)
_TEXT = _Environment(autoescape=False)


class _AddGuards(NodeTransformer):
    """Route every loop through the iteration budget and every ``~`` through the size one."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, ITER_GUARD, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, SIZE_GUARD, [], [], None, None, lineno=node.lineno)


def _environment(kind: Kind) -> _Environment:
    return _TEXT if kind is Kind.TEXT else _HTML


def _parse(
    source: str, name: str, kind: Kind, texts: Iterable[str] | None, limits: Limits
) -> tuple[nodes.Template | None, list[Problem]]:
    if len(source) > limits.source_chars:
        return None, [Problem(name, None, f"template longer than {limits.source_chars} characters")]
    try:
        tree = _environment(kind).parse(source, name=name)
        problems = check_tree(tree, name, kind, None if texts is None else list(texts))
    except TemplateSyntaxError as exc:
        return None, [Problem(name, exc.lineno, f"syntax error: {exc.message}")]
    except (RecursionError, MemoryError):
        return None, [Problem(name, None, "template nested too deeply")]
    except Exception as exc:  # the parser on hostile input: any failure is a rejection
        return None, [Problem(name, None, f"cannot parse template ({type(exc).__name__})")]
    return tree, problems


def check_syntax(source: str, name: str, *, texts: Iterable[str] | None = None) -> list[Problem]:
    """Every syntax and policy problem of one template (empty when acceptable).

    ``name`` is the template's path in the bundle and decides its kind
    (``letter.html.j2``, ``email.html.j2``, ``email.txt.j2``); ``texts`` are the keys
    of the creative's static texts, checked against ``campaign.texts.<key>``.
    """
    _, problems = _parse(source, name, kind_for(name), texts, LIMITS)
    return problems


@lru_cache(maxsize=64)
def opaque_to_personal_fields(source: str, name: str) -> bool:
    """Whether an acceptable template only prints or tests the personal fields
    (:func:`dispatch.creatives.policy.personal_fields_opaque`); False if it is refused."""
    tree, problems = _parse(source, name, kind_for(name), None, LIMITS)
    return tree is not None and not problems and personal_fields_opaque(tree)


@lru_cache(maxsize=64)
def _compile(source: str, name: str, limits: Limits) -> Template:
    kind = kind_for(name)
    tree, problems = _parse(source, name, kind, None, limits)
    if problems or tree is None:
        first = min(problems, key=lambda p: p.line or 0)
        raise TemplateRejected(first.file, first.line, first.reason)
    try:
        tree = _AddGuards().visit(tree)
        return _environment(kind).from_string(tree)
    except (RecursionError, MemoryError, SyntaxError) as exc:
        # e.g. more nested blocks than Python allows
        raise TemplateRejected(name, None, f"template too complex ({type(exc).__name__})") from exc


def render(
    source: str, context: Mapping[str, object], *, name: str, limits: Limits = LIMITS
) -> str:
    """Render one partner template in the sandbox.

    ``context`` must come from :func:`dispatch.creatives.context.letter_context` or
    :func:`~dispatch.creatives.context.email_context` (its names are exactly
    ``recipient`` and ``campaign``). ``name`` decides the kind: HTML templates are
    autoescaped, ``*.txt.j2`` are not. Raises :class:`TemplateRejected` for any
    policy violation, error or exceeded limit.
    """
    if set(context) - set(SCHEMA):
        raise TypeError(f"a creative context holds only {sorted(SCHEMA)}, got {sorted(context)}")
    template = _compile(source, name, limits)
    budget = Budget(limits)
    token = BUDGET.set(budget)
    chunks: list[str] = []
    size = 0
    stream = cast(Generator[str, None, None], template.generate(dict(context)))
    try:
        for chunk in stream:
            size += len(chunk)
            if size > limits.output_chars:
                raise LimitExceeded(f"output longer than {limits.output_chars} characters")
            budget.tick()
            chunks.append(chunk)
    except TemplateRejected:
        raise
    except Exception as exc:
        reason = _redact(_describe(exc), context)
        raise TemplateRejected(name, _template_line(exc), reason) from exc
    finally:
        stream.close()
        BUDGET.reset(token)
    return "".join(chunks)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, LimitExceeded):
        return f"limit exceeded: {exc}"
    if isinstance(exc, SecurityError):
        return f"not allowed: {exc}"
    if isinstance(exc, UndefinedError):
        return f"undefined: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _template_line(exc: BaseException) -> int | None:
    """The template line of the innermost template frame in the traceback."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _redact(message: str, context: Mapping[str, object]) -> str:
    """Remove the member's own values from an error message (invariant 1)."""
    recipient = context.get("recipient")
    if not isinstance(recipient, Record):
        return message
    for field in sorted(PERSONAL_FIELDS):
        value = recipient[field]
        if isinstance(value, str) and value.strip():
            message = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", "[redacted]", message)
    return message
