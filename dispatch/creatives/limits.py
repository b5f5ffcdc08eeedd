"""The runtime limits of a partner template render, and the guards that enforce them.

Every render gets a :class:`Budget` (held in a context variable for the length of
``sandbox.render``); every loop iteration, filter, operator, concatenation and output
chunk charges it, and it raises :class:`LimitExceeded` when a limit is crossed. The
allow-listed filters are wrapped here: each checks the deadline before it runs and
the size of what it made after, and the two that can amplify (``join``, ``replace``)
check the size of their result *before* building it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any, cast

from jinja2 import filters as jfilters
from jinja2 import pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext

from dispatch.creatives.policy import FILTERS


@dataclass(frozen=True)
class Limits:
    """What one render may consume (the guarantees are in dispatch.creatives.sandbox)."""

    output_chars: int = 256 * 1024
    value_chars: int = 256 * 1024
    work_chars: int = 8 * 1024 * 1024
    loop_iterations: int = 10_000
    seconds: float = 2.0
    int_bits: int = 256
    source_chars: int = 256 * 1024


LIMITS = Limits()


class LimitExceeded(SecurityError):
    """A render went over one of its :class:`Limits`."""


# --- per-render budget -------------------------------------------------------------


class Budget:
    """What one render has used so far, against its :class:`Limits`."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds
        self.iterations = 0
        self.work = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"time limit of {self.limits.seconds:g} s exceeded")

    def iterate(self) -> None:
        self.iterations += 1
        if self.iterations > self.limits.loop_iterations:
            raise LimitExceeded(f"more than {self.limits.loop_iterations} loop iterations")
        self.tick()

    def allow_size(self, size: int) -> None:
        """Refuse, before it is built, a value larger than the per-value limit."""
        if size > self.limits.value_chars:
            raise LimitExceeded(f"a value would exceed {self.limits.value_chars} characters")

    def produced(self, value: object) -> object:
        self.tick()
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            if value.bit_length() > self.limits.int_bits:
                raise LimitExceeded(f"a number would exceed {self.limits.int_bits} bits")
            return value
        if isinstance(value, str | list | tuple | dict):
            self.allow_size(len(value))
            self.work += len(value)
            if self.work > self.limits.work_chars:
                raise LimitExceeded(f"more than {self.limits.work_chars} characters of work")
        return value


BUDGET: ContextVar[Budget] = ContextVar("creative_render_budget")


def current_budget() -> Budget:
    """The budget of the render in progress."""
    try:
        return BUDGET.get()
    except LookupError:
        # Only render() sets a budget; anything else using the environment is refused.
        raise SecurityError("partner templates render only through sandbox.render") from None


# --- guarded filters -----------------------------------------------------------------

ITER_GUARD = "__creative_iter_guard"
SIZE_GUARD = "__creative_size_guard"


def iter_guard(value: Iterable[Any]) -> Iterator[Any]:
    budget = current_budget()
    for item in value:
        budget.iterate()
        yield item


def size_guard(value: object) -> object:
    return current_budget().produced(value)


def _guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a Jinja filter: check the deadline before, the result's size after."""

    @wraps(func)  # keeps jinja_pass_arg, so Jinja still passes eval_ctx / environment
    def guard(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        return budget.produced(func(*args, **kwargs))

    return guard


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Iterable[Any], d: str = "") -> str:
    items = list(value)
    budget = current_budget()
    budget.allow_size(len(items))
    budget.allow_size(sum(len(str(x)) for x in items) + len(str(d)) * max(len(items) - 1, 0))
    return cast(str, jfilters.do_join(eval_ctx, items, d))  # Markup when escaping


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: str, old: str, new: str, count: int | None = None) -> str:
    text, old, new = str(s), str(old), str(new)
    hits = text.count(old)
    if count is not None and count >= 0:
        hits = min(hits, count)
    current_budget().allow_size(len(text) + hits * max(len(new) - len(old), 0))
    return jfilters.do_replace(eval_ctx, s, old, new, count)


def filter_table() -> dict[str, Callable[..., Any]]:
    """The allow-listed filters, guarded, plus the two internal guards the compiler adds."""
    custom: dict[str, Callable[..., Any]] = {"join": _join, "replace": _replace}
    table = {name: _guarded(custom.get(name) or jfilters.FILTERS[name]) for name in FILTERS}
    table[ITER_GUARD] = iter_guard
    table[SIZE_GUARD] = size_guard
    return table
