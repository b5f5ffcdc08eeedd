"""Hostile creative bundles through ``dispatch creative submit``: deep nesting, NUL and
control characters, bytes that are not UTF-8, huge numbers, very long text and wrong
types, in the manifest, the templates and the CSS. Each is stored or refused with one
line per problem naming the file and line (exit 2), never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.creatives.builders import MANIFEST, valid_files, write_dir

Cli = Callable[..., CliResult]
MANIFEST_TEXT = MANIFEST.decode() if isinstance(MANIFEST, bytes) else MANIFEST


def _manifest(old: str, new: str) -> bytes:
    assert old in MANIFEST_TEXT
    return MANIFEST_TEXT.replace(old, new, 1).encode("utf-8")


CASES: dict[str, tuple[str, bytes, str]] = {
    "manifest nested 3,000 deep": (
        "creative.yaml",
        _manifest("channels: [post, email]", "channels: " + "[" * 3000 + "]" * 3000),
        "creative.yaml:2: nested deeper than 16 levels",
    ),
    "manifest raw NUL": ("creative.yaml", _manifest("Hei", "He\x00i"), "creative.yaml"),
    "manifest escaped NUL": (
        "creative.yaml",
        _manifest("name: spring-offer", 'name: "spring\\0offer"'),
        "creative.yaml",
    ),
    "manifest not UTF-8": ("creative.yaml", MANIFEST_TEXT.encode() + b"\xff\xfe", "not UTF-8"),
    "manifest huge number": (
        "creative.yaml",
        _manifest("name: spring-offer", "name: " + "9" * 5000),
        "creative.yaml",
    ),
    "manifest wrong type": (
        "creative.yaml",
        _manifest("channels: [post, email]", "channels: {post: 1}"),
        "creative.yaml",
    ),
    "manifest long text": ("creative.yaml", _manifest("Hei", "x" * 100_000), "creative.yaml"),
    "css nested 50,000 deep": (
        "assets/style.css",
        b"a{" * 50_000,
        "assets/style.css:1: CSS nested deeper than 32 levels",
    ),
    "style attribute nested deep": (
        "letter.html.j2",
        b'<p style="x:' + b"(" * 3000 + b'">x</p>',
        "letter.html.j2:1: CSS nested deeper than 32 levels",
    ),
    "template nested deep": (
        "letter.html.j2",
        b"{% if true %}" * 2000 + b"x" + b"{% endif %}" * 2000,
        "letter.html.j2",
    ),
    "template expression nested deep": (
        "email.txt.j2",
        b"{{ " + b"(" * 3000 + b"1" + b")" * 3000 + b" }}",
        "email.txt.j2",
    ),
    "template not UTF-8": ("email.txt.j2", b"Hei \xff\xfe", "email.txt.j2: not UTF-8"),
}


@pytest.fixture
def partner(cli: Cli) -> str:
    assert cli("partner", "create", "Nordic Air").code == 0
    return "Nordic Air"


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_bundle_is_refused_naming_the_file(
    cli: Cli, partner: str, tmp_path: Path, case: str
) -> None:
    name, data, says = CASES[case]
    folder = write_dir(tmp_path / "bundle", {**valid_files(), name: data})

    result = cli("creative", "submit", partner, str(folder))

    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert any(says in line for line in lines[:-1]), result.err
    assert lines[-1].startswith("dispatch: error: bundle rejected: ")
    assert cli("creative", "list", "--json").json() == []


@pytest.mark.parametrize("name", ["letter.html.j2", "email.txt.j2", "email.html.j2"])
def test_a_nul_in_a_template_is_stored_or_refused_never_a_database_error(
    cli: Cli, partner: str, tmp_path: Path, name: str
) -> None:
    files = valid_files()
    folder = write_dir(tmp_path / "bundle", {**files, name: files[name] + b"a\x00b\x1b\n"})

    result = cli("creative", "submit", partner, str(folder))

    assert result.code in (0, 2), result.err
    assert "database error" not in result.err
    assert "Traceback" not in result.err
