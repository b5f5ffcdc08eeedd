"""``dispatch register``: placeholder, filled in by its owner."""

from __future__ import annotations

import click


@click.group("register")
def group() -> None:
    """(not yet implemented)"""
