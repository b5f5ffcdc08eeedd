"""``dispatch db``: schema migrations."""

from __future__ import annotations

import click

from dispatch.cli.context import AppContext, emit_json, json_option, pass_app
from dispatch.db import migrate


@click.group("db")
def group() -> None:
    """Database schema: migrate and inspect."""


@group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@json_option
@pass_app
def upgrade(app: AppContext, revision: str, as_json: bool) -> None:
    """Apply Alembic migrations up to REVISION (the only way the schema is created)."""
    engine = app.engine(migrated=False)
    before = migrate.current_revision(engine)
    migrate.upgrade(app.settings.database_url, revision)
    current = migrate.current_revision(engine)
    if as_json:
        head = migrate.head_revision(app.settings.database_url)
        emit_json(
            {"before": before, "current": current, "head": head, "up_to_date": current == head}
        )
    else:
        click.echo(f"database at revision {current}")


@group.command("status")
@json_option
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Show the database's revision and the code's."""
    engine = app.engine(migrated=False)
    current = migrate.current_revision(engine)
    head = migrate.head_revision(app.settings.database_url)
    doc = {"current": current, "head": head, "up_to_date": current == head}
    if as_json:
        emit_json(doc)
    else:
        click.echo(
            f"current {current or '(none)'}, head {head}"
            + ("" if current == head else " - run `dispatch db upgrade`")
        )
