"""Errors that reach the user, with the exit code the CLI contract gives them.

``InputError`` (exit 2) is bad input: a malformed file, an unknown name, a wrong type.
``OperationError`` (exit 1) is a well-formed request that could not be carried out.
Both carry an optional location so the one-line message names the file, line or field.
"""

from __future__ import annotations


class DispatchError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class InputError(DispatchError):
    exit_code = 2


class OperationError(DispatchError):
    exit_code = 1


class Problems(InputError):
    """Several input problems found at once (e.g. every bad row of a file)."""

    def __init__(self, problems: list[DispatchError], *, summary: str) -> None:
        super().__init__(summary)
        self.problems = problems
