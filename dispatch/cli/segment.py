"""``dispatch segment``: placeholder, filled in by its owner."""

from __future__ import annotations

import click


@click.group("segment")
def group() -> None:
    """(not yet implemented)"""
