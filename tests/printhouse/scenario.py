"""The whole hand-off, run against any outbox: used for the local folder and for S3."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from dispatch import batchformat as bf
from dispatch.transports.outbox import Outbox, acknowledged, purge_expired
from printhouse.cli import run
from tests.printhouse.factories import CREATED, Keys, letters_pdf, seal


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, object]:
        document: dict[str, object] = json.loads(self.out)
        return document


def printhouse(*args: str) -> Run:
    """Run ``printhouse ARGS`` in-process, as its entry point does."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(list(args))
    return Run(code, out.getvalue(), err.getvalue())


def collect(url: str, keys: Keys, spool: Path) -> Run:
    return printhouse(
        "collect", "--outbox", url, "--identity", str(keys.identity_file),
        "--dispatcher-key", str(keys.dispatcher_key_file), "--spool", str(spool), "--json",
    )  # fmt: skip


def hand_off_collect_ack_delete(outbox: Outbox, url: str, keys: Keys, spool: Path) -> None:
    """Dispatcher puts, print house collects and acks, dispatcher deletes."""
    pdf = letters_pdf(letters=3)
    sealed = seal(keys, "b0001", pdf=pdf)
    outbox.put_batch("b0001", sealed.encrypted_pdf, sealed.manifest, sealed.signature)

    first = collect(url, keys, spool)
    assert first.code == 0, first.err
    assert first.json() == {"collected": ["b0001"], "skipped": [], "refused": []}
    assert (spool / "b0001" / "letters.pdf").read_bytes() == pdf
    assert (spool / "b0001" / "manifest.json").read_bytes() == sealed.manifest
    assert (spool / "b0001" / "letters.pdf").stat().st_mode & 0o777 == 0o600

    again = collect(url, keys, spool)
    assert again.json() == {"collected": [], "skipped": ["b0001"], "refused": []}

    acked = printhouse("ack", "b0001", "--outbox", url)
    assert acked.code == 0, acked.err
    assert acknowledged(outbox, "b0001")
    receipt = bf.Ack.parse(outbox.read_ack("b0001") or b"")
    assert receipt.letters_accepted == 3

    assert purge_expired(outbox, CREATED + timedelta(hours=1)) == ["b0001"]
    assert outbox.list_batches() == []
    assert not outbox.is_complete("b0001")
