"""Import direction: no module of dispatch/ imports from a stage above its own.

The stages follow DESIGN.md's data flow, read as "who builds on whom": the register
comes first, the policy (privacy) and the segment compiler build on it, creatives are
validated on their own, rendering lays out creatives, the transports hand off what was
rendered, and the campaign stage drives them all (its jobs call rendering and the
transports). The member-facing services, the jobs runtime, the partner reports and the
accounts build on campaigns, and the entry points (CLI, web, migrations with their model
registry) sit on top. A module may import from its own stage or any stage below it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import dispatch

PACKAGE = Path(dispatch.__file__).parent

#: The one table of layers, lowest first. Each entry is a stage: a subpackage or a
#: top-level module of dispatch/.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "config", "batchformat", "db", "suggest"}),  # shared by every stage
    frozenset({"register"}),  # members, consent ledger, suppressions, audit log
    frozenset({"privacy"}),  # the policy every recipient set passes; export; erasure
    frozenset({"segmenting"}),
    frozenset({"creatives"}),
    frozenset({"rendering"}),  # letters and e-mails from approved creatives
    frozenset({"transports"}),  # hand-off: outbox and mailer
    frozenset({"campaigns"}),
    frozenset({"members"}),  # the member's side: preference centre, "my data"
    frozenset({"jobs"}),
    frozenset({"reports"}),
    frozenset({"accounts"}),
    frozenset({"web", "cli", "migrations"}),  # entry points and the model registry
)
RANK = {stage: rank for rank, stages in enumerate(LAYERS) for stage in stages}

#: Known imports against the direction, each with the reason it stays for now:
#: (importing module, imported module). Remove an entry when its import goes; the last
#: test fails on an entry that no longer matches anything.
ALLOWED: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").exists() or (
        PACKAGE.parent / relative / "__init__.py"
    ).exists()


def _imports(path: Path) -> Iterator[str]:
    """The dispatch modules that ``path`` imports, absolute, including lazy imports."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target
            for alias in node.names:  # from dispatch.jobs import tasks: a module too
                submodule = f"{target}.{alias.name}"
                if _is_module(submodule):
                    yield submodule


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "dispatch" and len(parts) > 1 else None


def _upward_imports() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        own = _stage(module)
        if own is None:
            continue
        for target in _imports(path):
            theirs = _stage(target)
            if theirs is None or theirs == own:
                continue
            if RANK[theirs] > RANK[own]:
                found[(module, target)] = f"{own} imports {theirs}"
    return found


def test_every_stage_of_dispatch_has_a_layer() -> None:
    stages = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" and p.stem != "__init__"}
    stages |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert stages - set(RANK) == set()


def test_no_module_imports_from_a_stage_above_its_own() -> None:
    upward = {key: why for key, why in _upward_imports().items() if key not in ALLOWED}
    assert upward == {}


def test_every_allowed_exception_is_still_needed() -> None:
    assert set(ALLOWED) - set(_upward_imports()) == set()


def test_submodule_and_lazy_imports_are_seen() -> None:
    source = PACKAGE / "web" / "health.py"
    assert "dispatch.jobs.preflight" in set(_imports(source))  # imported inside a function


# Lower stages that take parts from higher ones (the member export's sections, the
# erasure's steps) get them when those stages are imported; each entry point must
# import enough that nothing is missing. A fresh interpreter, so that what the other
# tests imported does not hide a gap.
ENTRY_POINTS = ("dispatch.cli", "dispatch.web.app")  # the two that export and erase


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_an_entry_point_provides_every_export_section_and_erasure_step(entry_point: str) -> None:
    probe = (
        f"import {entry_point}\n"
        "from dispatch.privacy import erasure, export\n"
        "print(sorted(set(export.SECTION_ORDER) - set(export.SECTIONS)),"
        " sorted(set(erasure.STEP_ORDER) - set(erasure.STEPS)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[] []"
