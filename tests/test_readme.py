"""The README links only to files inside the repository, and each of them exists.

It is the first thing a newcomer reads, in a clone that may sit anywhere: a link to a
web page or to a path outside the clone (a neighbouring folder) is one they cannot follow.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

# [text](target) and <target> autolinks; reference definitions "[name]: target".
_INLINE = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
_AUTOLINK = re.compile(r"<([a-z][a-z0-9+.-]*:[^>\s]+)>", re.IGNORECASE)
# Bare mentions of a sibling folder such as `../shared/X.md`, which are links in all but form.
_PARENT_PATH = re.compile(r"`(\.\./[^`]+)`")


def _targets(text: str) -> list[str]:
    return [
        *_INLINE.findall(text),
        *_REFERENCE.findall(text),
        *_AUTOLINK.findall(text),
        *_PARENT_PATH.findall(text),
    ]


def test_the_readme_has_links_and_each_names_a_file_in_the_repository() -> None:
    targets = _targets(README.read_text(encoding="utf-8"))
    assert len(targets) >= 10  # the "Further reading" list at least: the parsing works
    outside = []
    for target in targets:
        path = target.split("#", 1)[0]
        resolved = (ROOT / path).resolve()
        if ":" in path or not path or not resolved.is_relative_to(ROOT) or not resolved.exists():
            outside.append(target)
    assert outside == []


def test_the_link_finder_sees_each_form_of_link() -> None:
    text = (
        "see [a](https://example.org/x) and <https://example.org/y>,\n"
        "[ref]: ../elsewhere.md\n"
        "and `../shared/DESIGN.md` and [b](docs/feed.md#top)."
    )
    assert _targets(text) == [
        "https://example.org/x",
        "docs/feed.md#top",
        "../elsewhere.md",
        "https://example.org/y",
        "../shared/DESIGN.md",
    ]
