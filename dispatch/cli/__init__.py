"""The ``dispatch`` command: one group per noun, ``--help`` on every level.

Exit codes: 0 success, 1 failed operation, 2 bad input; errors are one line on stderr
naming the file, line or field at fault.
"""

from __future__ import annotations

import sys

import click

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
        campaign,
        creative,
        db,
        demo,
        member,
        partner,
        register,
        segment,
        worker,
    )

    for module in (db, register, segment, partner, creative, campaign, member, worker, demo):
        cli.add_command(module.group)


_register_commands()


def _fail(message: str, code: int) -> int:
    click.echo(f"dispatch: error: {message}", err=True)
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by ``main`` and by tests)."""
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
    return 0


def main() -> None:
    sys.exit(run())
