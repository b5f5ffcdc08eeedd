"""The ``dispatch`` command: one group per noun, ``--help`` on every level.

Exit codes: 0 success, 1 failed operation, 2 bad input; errors are one line on stderr
naming the file, line or field at fault (see :mod:`dispatch.errors` for which is which).
Every command takes ``--json`` and then prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from dispatch.cli.context import AppContext
from dispatch.config import ConfigError
from dispatch.db.migrate import NotMigratedError
from dispatch.errors import DispatchError, Problems


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="dispatch")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Privacy-preserving direct-marketing dispatch for the loyalty-card register.

    Configuration comes from DISPATCH_* environment variables; with none set,
    everything runs embedded (SQLite and folders under ./var).
    """
    ctx.call_on_close(ctx.ensure_object(AppContext).close)


def _register_commands() -> None:
    from dispatch.cli import (
        account,
        audit,
        campaign,
        creative,
        db,
        demo,
        mailer,
        member,
        partner,
        register,
        report,
        segment,
        serve,
        worker,
    )

    for module in (
        db,
        register,
        segment,
        partner,
        creative,
        campaign,
        member,
        mailer,
        audit,
        report,
        account,
        worker,
        serve,
        demo,
    ):
        cli.add_command(module.group)


_register_commands()


def _fail(message: str, code: int) -> int:
    click.echo(f"dispatch: error: {message}", err=True)
    return code


def _bad_argument(argv: list[str]) -> str | None:
    """The first argument with a control character or bytes that are not UTF-8, named.

    Such a value has no use in any option, and would otherwise travel as far as the
    database (PostgreSQL refuses NUL in text, and a lone surrogate cannot be encoded).
    """
    for i, arg in enumerate(argv):
        for char in arg:
            code = ord(char)
            if code < 32 or code == 127 or 0xD800 <= code <= 0xDFFF:
                what = "bytes that are not UTF-8" if code >= 0xD800 else f"U+{code:04X}"
                if arg.startswith("--") and "=" in arg:
                    name = f"option {arg.split('=', 1)[0]}"
                elif i > 0 and argv[i - 1].startswith("-"):
                    name = f"option {argv[i - 1]}"
                else:
                    name = f"argument {i + 1}"
                return f"{name}: has {what}, which no value may contain"
    return None


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by ``main`` and by tests)."""
    bad = _bad_argument(sys.argv[1:] if argv is None else argv)
    if bad is not None:
        return _fail(bad, 2)
    try:
        cli.main(args=argv, prog_name="dispatch", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        return _fail("aborted", 1)
    except click.ClickException as exc:
        # Usage errors: bad options or arguments.
        return _fail(exc.format_message(), 2)
    except Problems as exc:
        for problem in exc.problems:
            click.echo(f"dispatch: {problem}", err=True)
        return _fail(str(exc), exc.exit_code)
    except DispatchError as exc:
        return _fail(str(exc), exc.exit_code)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    except NotMigratedError as exc:
        return _fail(str(exc), 1)
    except SQLAlchemyError as exc:
        # The database is down, full or refused the statement. Only the driver's first
        # line: the rest of the message carries the SQL and its parameters, which may
        # be a member's data, and a DETAIL line quoting the row.
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return _fail(f"database error: {cause[0] if cause else type(exc).__name__}", 1)
    return 0


def main() -> None:
    sys.exit(run())
