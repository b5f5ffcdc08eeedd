"""What a rejected bundle or template reports: every problem, each with file and line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dispatch.errors import DispatchError, InputError, Problems


@dataclass(frozen=True, order=True)
class Problem:
    """One reason a bundle is refused: the file, the line where known, and why."""

    file: str
    line: int | None
    reason: str

    @property
    def where(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "reason": self.reason}


class BundleRejected(Problems):
    """A bundle failed loading or validation; ``problems`` lists every reason at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.found = sorted(set(problems), key=_order)
        errors: list[DispatchError] = [InputError(p.reason, where=p.where) for p in self.found]
        count = len(self.found)
        super().__init__(errors, summary=f"bundle rejected: {count} problem{'s' * (count != 1)}")


def _order(problem: Problem) -> tuple[str, int, str]:
    return (problem.file, problem.line or 0, problem.reason)
