"""The print house tool stands alone: it must not import the dispatcher."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from printhouse.cli import cli


def test_printhouse_help_names_the_tool() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "print house" in result.output


def test_printhouse_imports_nothing_from_dispatch() -> None:
    code = (
        "import sys, printhouse.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('dispatch')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
