"""The print house tool stands alone: it imports only the shared batch format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from printhouse.cli import cli
from tests.printhouse.scenario import printhouse


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
    result = printhouse("keygen", "--out", str(tmp_path / "k"))
    assert result.code == 0, result.err
    identity = tmp_path / "k" / "identity.age"
    assert identity.stat().st_mode & 0o777 == 0o600
    recipient = result.out.strip()
    assert recipient.startswith("age1")
    assert (tmp_path / "k" / "recipient.txt").read_text().strip() == recipient
    key = identity.read_bytes()

    again = printhouse("keygen", "--out", str(tmp_path / "k"), "--json")

    assert again.code == 1  # the request is fine; what is there already refuses it
    assert again.out == ""
    [line] = again.err.strip().splitlines()
    assert "refusing to overwrite" in line
    assert identity.read_bytes() == key


def test_keygen_json_says_where_the_keys_are(tmp_path: Path) -> None:
    result = printhouse("keygen", "--out", str(tmp_path / "k"), "--json")

    assert result.code == 0, result.err
    doc = result.json()
    assert str(doc["recipient"]).startswith("age1")
    assert doc["identity_file"] == str(tmp_path / "k" / "identity.age")
    assert doc["recipient_file"] == str(tmp_path / "k" / "recipient.txt")


def test_a_usage_error_is_one_line_and_exit_2() -> None:
    result = printhouse("ack")

    assert result.code == 2
    assert result.err.strip().splitlines() == ["printhouse: Missing argument 'BATCH_ID'."]
