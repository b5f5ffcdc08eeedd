"""The ``printhouse`` command: keygen, collect, ack, returns.

Exit codes follow the dispatcher's contract: 0 success, 1 a failed operation (for
``collect``: at least one batch refused; a store that cannot be reached; refusing to
overwrite a key or an acknowledgement), 2 bad input (what was typed is malformed or
names nothing). Errors are one line on stderr; every command takes ``--json``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from dispatch import batchformat as bf
from printhouse.collect import collect as collect_batches
from printhouse.returns import ReturnsFileError, check_returns_csv
from printhouse.store import ENDPOINT_VARIABLES, Store, StoreError, open_store

F = TypeVar("F", bound=Callable[..., Any])


class ToolError(Exception):
    """What the user is told on one line (after any ``details``), and the exit code."""

    def __init__(self, message: str, code: int, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or []


def _store(url: str, endpoint: str | None) -> Store:
    try:
        return open_store(url, s3_endpoint=endpoint)
    except ValueError as exc:
        raise ToolError(f"--outbox: {exc}", 2) from None


def _store_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError as exc:
            raise ToolError(str(exc), 1) from None

    return wrapper  # type: ignore[return-value]


def _emit(document: object) -> None:
    click.echo(json.dumps(document, sort_keys=True))


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
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
@json_option
def keygen(out_dir: Path, as_json: bool) -> None:
    """Create the age X25519 key pair batches are encrypted to."""
    identity_path, recipient_path = out_dir / "identity.age", out_dir / "recipient.txt"
    if identity_path.exists():
        raise ToolError(f"{identity_path}: already exists; refusing to overwrite a key", 1)
    identity, recipient = bf.generate_identity()
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(identity_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"# public key: {recipient}\n{identity}\n")
    recipient_path.write_text(f"{recipient}\n", encoding="utf-8")
    if as_json:
        _emit(
            {
                "recipient": recipient,
                "identity_file": str(identity_path),
                "recipient_file": str(recipient_path),
            }
        )
    else:
        click.echo(recipient)


def _read_key_files(identity_file: Path, dispatcher_key: Path) -> tuple[str, Any]:
    try:
        identity = identity_file.read_text(encoding="utf-8")
        bf.parse_identity(identity)
    except OSError as exc:
        raise ToolError(f"{identity_file}: {exc.strerror}", 2) from None
    except bf.BatchFormatError as exc:
        raise ToolError(f"{identity_file}: {exc}", 2) from None
    try:
        public_key = bf.load_public_key(dispatcher_key.read_bytes())
    except OSError as exc:
        raise ToolError(f"{dispatcher_key}: {exc.strerror}", 2) from None
    except bf.BatchFormatError as exc:
        raise ToolError(f"{dispatcher_key}: {exc}", 2) from None
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
@json_option
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
        _emit(report.as_json())
    else:
        for batch_id in report.collected:
            click.echo(f"collected {batch_id} -> {spool / batch_id}")
        for batch_id in report.skipped:
            click.echo(f"skipped {batch_id} (already collected or acknowledged)")
    if report.refused:
        raise ToolError(f"{len(report.refused)} batch(es) refused", 1)


def _manifest(store: Store, batch_id: str) -> bf.Manifest:
    """The complete batch's manifest; a batch that is not there names nothing (exit 2)."""
    if not store.exists(batch_id, bf.COMPLETE):
        if store.exists(batch_id, bf.MANIFEST):
            raise ToolError(f"batch {batch_id} is not complete yet in {store.url}", 1)
        raise ToolError(f"no batch {batch_id} in {store.url}", 2)
    try:
        return bf.Manifest.parse(store.read(batch_id, bf.MANIFEST) or b"")
    except bf.BatchFormatError as exc:
        raise ToolError(f"batch {batch_id}: its manifest is not valid: {exc}", 1) from None


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
@click.option("--force", is_flag=True, help="Replace an earlier acknowledgement of the batch.")
@json_option
@_store_errors
def ack(
    batch_id: str,
    outbox_url: str,
    s3_endpoint: str | None,
    letters: int | None,
    force: bool,
    as_json: bool,
) -> None:
    """Acknowledge a batch, so that the dispatcher deletes it.

    --letters may not exceed the batch's letter count. A batch already acknowledged
    is refused unless --force replaces its acknowledgement.
    """
    try:
        bf.validate_batch_id(batch_id)
    except bf.BatchFormatError as exc:
        raise ToolError(f"BATCH_ID: {exc}", 2) from None
    store = _store(outbox_url, s3_endpoint)
    manifest = _manifest(store, batch_id)
    if letters is None:
        letters = manifest.letter_count
    elif letters > manifest.letter_count:
        raise ToolError(
            f"--letters: batch {batch_id} has {manifest.letter_count} letters; "
            f"{letters} cannot have been accepted",
            2,
        )
    earlier = store.read(batch_id, bf.ACK)
    if earlier is not None and not force:
        raise ToolError(f"batch {batch_id} {_earlier(earlier)}; --force replaces it", 1)
    receipt = bf.Ack(batch_id, datetime.now(UTC), letters)
    store.write(batch_id, bf.ACK, receipt.to_bytes())
    if as_json:
        _emit(
            {
                "batch_id": batch_id,
                "letters_accepted": letters,
                "letter_count": manifest.letter_count,
                "received_at": receipt.received_at.isoformat(),
                "replaced": earlier is not None,
            }
        )
    else:
        click.echo(f"acknowledged {batch_id} ({letters} of {manifest.letter_count} letters)")


def _earlier(data: bytes) -> str:
    try:
        receipt = bf.Ack.parse(data)
    except bf.BatchFormatError:
        return "was acknowledged already (an unreadable ACK)"
    when = receipt.received_at.isoformat(timespec="seconds")
    return f"was acknowledged already on {when} ({receipt.letters_accepted} letters)"


def _letter_counts(store: Store, spool: Path | None) -> Callable[[str], int | None]:
    """Each batch's letter count: from its manifest in the spool, else in the outbox.

    The spool copy outlives the batch in the outbox (the dispatcher deletes a batch
    once acknowledged); the manifest holds no personal data, so it may be kept there
    after the letters are posted and deleted.
    """

    def count(batch_id: str) -> int | None:
        data = None
        if spool is not None and (spool / batch_id / bf.MANIFEST).is_file():
            data = (spool / batch_id / bf.MANIFEST).read_bytes()
        elif store.exists(batch_id, bf.COMPLETE):
            data = store.read(batch_id, bf.MANIFEST)
        if data is None:
            return None
        try:
            return bf.Manifest.parse(data).letter_count
        except bf.BatchFormatError:
            return None

    return count


@cli.command("returns")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@outbox_option
@endpoint_option
@click.option(
    "--spool",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PRINTHOUSE_SPOOL",
    default=None,
    help="The spool of 'printhouse collect', whose manifests say how many letters "
    "each batch had (env: PRINTHOUSE_SPOOL).",
)
@json_option
@_store_errors
def returns_(
    csv_file: Path, outbox_url: str, s3_endpoint: str | None, spool: Path | None, as_json: bool
) -> None:
    """Report returned letters from a CSV (batch_id,sequence_no,reason).

    Reasons: unknown_address, moved, refused, undeliverable, other. Every row is
    checked, against the batch's manifest too (in the spool or the outbox): each bad
    row is reported with its line and field, and nothing is sent while any is bad.
    """
    try:
        text = csv_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ToolError(f"{csv_file}: cannot read: {exc.strerror}", 2) from None
    except UnicodeDecodeError:
        raise ToolError(f"{csv_file}: not UTF-8 text", 2) from None
    store = _store(outbox_url, s3_endpoint)
    try:
        rows = check_returns_csv(text, str(csv_file), _letter_counts(store, spool))
    except ReturnsFileError as exc:
        raise ToolError(str(exc), 2, exc.problems) from None
    now = datetime.now(UTC)
    name = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    store.write_return(name, bf.returns_to_bytes([row.letter for row in rows], now))
    if as_json:
        _emit({"reported": len(rows), "report": f"{bf.RETURNS_DIR}/{name}"})
    else:
        click.echo(f"reported {len(rows)} returned letters as {bf.RETURNS_DIR}/{name}")


def _fail(message: str, code: int) -> int:
    click.echo(f"printhouse: {message}", err=True)
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the tool and return its exit code (used by ``main`` and by tests)."""
    try:
        cli.main(args=argv, prog_name="printhouse", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        return _fail("aborted", 1)
    except click.ClickException as exc:
        # Usage errors: bad options or arguments, one line as for every other error.
        return _fail(exc.format_message(), 2)
    except ToolError as exc:
        for detail in exc.details:
            click.echo(f"printhouse: {detail}", err=True)
        return _fail(str(exc), exc.code)
    return 0


def main() -> None:
    sys.exit(run())
