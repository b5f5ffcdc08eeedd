"""Errors that reach the user, with the exit code the CLI contract gives them.

``InputError`` (exit 2) is bad input: what the user typed is malformed, out of range,
or names nothing (a file that does not parse, an unknown partner, campaign or member).
``OperationError`` (exit 1) is a well-formed request about things that exist which
could not be carried out: the state does not allow it (a campaign already cancelled,
an audience under the partner minimum), or a store or server failed.
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
        # "campaign 3: campaign 3 is draft" says its subject twice: a message that
        # already starts with its location stands alone.
        if not self.where or self.message.startswith(self.where):
            return self.message
        return f"{self.where}: {self.message}"


class InputError(DispatchError):
    exit_code = 2


class OperationError(DispatchError):
    exit_code = 1


#: Where a :class:`ConfigurationError` is: its one line starts "configuration: ".
CONFIGURATION = "configuration"


class ConfigurationError(OperationError):
    """A setting that a campaign needs is missing or cannot work (no print house key,
    an outbox URL without a bucket, ...). Retrying cannot fix it: a job that meets one
    fails without retrying, and the work resumes once the setting is fixed."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}", where=CONFIGURATION)
        self.variable = variable


class Problems(InputError):
    """Several input problems found at once (e.g. every bad row of a file)."""

    def __init__(self, problems: list[DispatchError], *, summary: str) -> None:
        super().__init__(summary)
        self.problems = problems
