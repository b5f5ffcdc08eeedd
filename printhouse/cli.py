"""The ``printhouse`` command (its subcommands arrive with the outbox)."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dispatch", prog_name="printhouse")
def cli() -> None:
    """The print house's tool for batches handed off by the dispatcher.

    No subcommands yet: collect, verify, ack and returns come with the outbox.
    """


def main() -> None:
    cli(prog_name="printhouse")
