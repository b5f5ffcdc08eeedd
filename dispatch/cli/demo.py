"""``dispatch demo``: placeholder, filled in later."""

from __future__ import annotations

import click


@click.group("demo", invoke_without_command=True)
def group() -> None:
    """Run the whole demo on embedded defaults."""
