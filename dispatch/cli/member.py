"""``dispatch member``: placeholder, filled in by its owner."""

from __future__ import annotations

import click


@click.group("member")
def group() -> None:
    """(not yet implemented)"""
