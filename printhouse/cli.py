"""The ``printhouse`` command: keygen, collect, ack, returns.

Exit codes follow the dispatcher's contract: 0 success, 1 a failed operation (for
``collect``: at least one batch refused), 2 bad input. Errors are one line on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from dispatch import batchformat as bf
from printhouse.collect import collect as collect_batches
from printhouse.returns import ReturnsFileError, parse_returns_csv
from printhouse.store import ENDPOINT_VARIABLES, Store, StoreError, open_store

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"printhouse: {message}", err=True)
    sys.exit(code)


def _store(url: str, endpoint: str | None) -> Store:
    try:
        return open_store(url, s3_endpoint=endpoint)
    except ValueError as exc:
        _fail(str(exc), 2)


def _store_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError as exc:
            _fail(str(exc), 1)

    return wrapper  # type: ignore[return-value]


outbox_option = click.option(
    "--outbox",
    "outbox_url",
    required=True,
    envvar="PRINTHOUSE_OUTBOX_URL",
    help="The dispatcher's outbox: file://PATH or s3://BUCKET/PREFIX.",
)
endpoint_option = click.option(
    "--s3-endpoint",
    envvar=list(ENDPOINT_VARIABLES),
    default=None,
    help="S3-compatible endpoint URL (env: " + " or ".join(ENDPOINT_VARIABLES) + ").",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dispatch", prog_name="printhouse")
def cli() -> None:
    """The print house's tool for batches handed off by the dispatcher.

    Collect encrypted batches, verify and decrypt them, acknowledge them once
    printed, and report returned mail. See docs/printhouse.md.
    """


@cli.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for identity.age (secret, 0600) and recipient.txt (send to the dispatcher).",
)
def keygen(out_dir: Path) -> None:
    """Create the age X25519 key pair batches are encrypted to."""
    identity_path, recipient_path = out_dir / "identity.age", out_dir / "recipient.txt"
    if identity_path.exists():
        _fail(f"{identity_path}: already exists; refusing to overwrite a key", 2)
    identity, recipient = bf.generate_identity()
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(identity_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"# public key: {recipient}\n{identity}\n")
    recipient_path.write_text(f"{recipient}\n", encoding="utf-8")
    click.echo(recipient)


def _read_key_files(identity_file: Path, dispatcher_key: Path) -> tuple[str, Any]:
    try:
        identity = identity_file.read_text(encoding="utf-8")
        bf.parse_identity(identity)
    except OSError as exc:
        _fail(f"{identity_file}: {exc.strerror}", 2)
    except bf.BatchFormatError as exc:
        _fail(f"{identity_file}: {exc}", 2)
    try:
        public_key = bf.load_public_key(dispatcher_key.read_bytes())
    except OSError as exc:
        _fail(f"{dispatcher_key}: {exc.strerror}", 2)
    except bf.BatchFormatError as exc:
        _fail(f"{dispatcher_key}: {exc}", 2)
    return identity, public_key


@cli.command()
@outbox_option
@endpoint_option
@click.option(
    "--identity",
    "identity_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The age identity file from 'printhouse keygen'.",
)
@click.option(
    "--dispatcher-key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The dispatcher's Ed25519 public key (PEM).",
)
@click.option(
    "--spool",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where verified batches are decrypted to, one folder each.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@_store_errors
def collect(
    outbox_url: str,
    s3_endpoint: str | None,
    identity_file: Path,
    dispatcher_key: Path,
    spool: Path,
    as_json: bool,
) -> None:
    """Download, verify and decrypt every new complete batch.

    A batch that fails verification is refused with a line on stderr, left in
    the outbox, and makes the command exit 1 after the others are collected.
    """
    identity, public_key = _read_key_files(identity_file, dispatcher_key)
    store = _store(outbox_url, s3_endpoint)
    report = collect_batches(store, spool, public_key, identity)
    for batch_id, reason in report.refused.items():
        click.echo(f"printhouse: refused batch {batch_id}: {reason}", err=True)
    if as_json:
        click.echo(json.dumps(report.as_json(), sort_keys=True))
    else:
        for batch_id in report.collected:
            click.echo(f"collected {batch_id} -> {spool / batch_id}")
        for batch_id in report.skipped:
            click.echo(f"skipped {batch_id} (already collected or acknowledged)")
    if report.refused:
        sys.exit(1)


@cli.command()
@click.argument("batch_id")
@outbox_option
@endpoint_option
@click.option(
    "--letters",
    type=click.IntRange(min=0),
    default=None,
    help="Letters accepted for printing (default: the manifest's letter count).",
)
@_store_errors
def ack(batch_id: str, outbox_url: str, s3_endpoint: str | None, letters: int | None) -> None:
    """Acknowledge a batch, so that the dispatcher deletes it."""
    try:
        bf.validate_batch_id(batch_id)
    except bf.BatchFormatError as exc:
        _fail(str(exc), 2)
    store = _store(outbox_url, s3_endpoint)
    if not store.exists(batch_id, bf.COMPLETE):
        _fail(f"batch {batch_id}: not a complete batch in {store.url}", 1)
    if letters is None:
        data = store.read(batch_id, bf.MANIFEST)
        try:
            letters = bf.Manifest.parse(data or b"").letter_count
        except bf.BatchFormatError as exc:
            _fail(f"batch {batch_id}: {exc}; give --letters", 1)
    receipt = bf.Ack(batch_id, datetime.now(UTC), letters)
    store.write(batch_id, bf.ACK, receipt.to_bytes())
    click.echo(f"acknowledged {batch_id} ({letters} letters)")


@cli.command("returns")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@outbox_option
@endpoint_option
@_store_errors
def returns_(csv_file: Path, outbox_url: str, s3_endpoint: str | None) -> None:
    """Report returned letters from a CSV (batch_id,sequence_no,reason).

    Reasons: unknown_address, moved, refused, undeliverable, other.
    """
    try:
        text = csv_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{csv_file}: cannot read: {exc}", 2)
    try:
        letters = parse_returns_csv(text, str(csv_file))
    except ReturnsFileError as exc:
        _fail(str(exc), 2)
    store = _store(outbox_url, s3_endpoint)
    now = datetime.now(UTC)
    name = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    store.write_return(name, bf.returns_to_bytes(letters, now))
    click.echo(f"reported {len(letters)} returned letters as {bf.RETURNS_DIR}/{name}")


def main() -> None:
    cli(prog_name="printhouse")
