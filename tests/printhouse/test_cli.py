"""The print house tool stands alone: it imports only the shared batch format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from printhouse.cli import cli


def test_printhouse_help_names_the_tool() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "print house" in result.output


def test_every_subcommand_has_help() -> None:
    for command in ("keygen", "collect", "ack", "returns"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0, command


def test_printhouse_imports_nothing_from_dispatch_but_the_batch_format() -> None:
    code = (
        "import sys, printhouse.cli, printhouse.collect, printhouse.store, printhouse.returns; "
        "print(sorted(m for m in sys.modules if m.startswith('dispatch')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['dispatch', 'dispatch.batchformat']"


def test_keygen_writes_a_private_identity_and_prints_the_recipient(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["keygen", "--out", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    identity = tmp_path / "k" / "identity.age"
    assert identity.stat().st_mode & 0o777 == 0o600
    recipient = result.stdout.strip()
    assert recipient.startswith("age1")
    assert (tmp_path / "k" / "recipient.txt").read_text().strip() == recipient
    again = CliRunner().invoke(cli, ["keygen", "--out", str(tmp_path / "k")])
    assert again.exit_code == 2
    assert "refusing to overwrite" in again.stderr
