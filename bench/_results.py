"""bench/RESULTS.md is written by the benches: each owns one marked section.

A bench replaces its own section (between ``<!-- begin bench/X.py -->`` and
``<!-- end bench/X.py -->``) with the figures of its latest run, the command that made
them, the machine and the date, and leaves every other section as it is. Nobody edits
the figures by hand, so a figure cannot outlive the code that produced it: rerun the
bench instead. ``--results PATH`` writes elsewhere (the test suite writes to a temp
file); ``--no-write`` only prints.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shlex
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
HEADER = (
    "# Benchmark results\n\n"
    "Every section below is written by the bench named in its markers, from its latest "
    "run (`bench/_results.py`); do not edit figures by hand, rerun the bench. Earlier "
    "runs and their discussion are in `bench/HISTORY.md`.\n"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--results`` and ``--no-write``, the same for every bench."""
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="the results file whose section this bench replaces (default bench/RESULTS.md)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; write no file")


def command(script: str, argv: Sequence[str] | None = None) -> str:
    """The command line as run, without the options that only choose where to write."""
    args = list(sys.argv[1:] if argv is None else argv)
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--results":
            skip = True
            continue
        if arg.startswith("--results=") or arg == "--no-write":
            continue
        kept.append(arg)
    return shlex.join([".venv/bin/python", f"bench/{script}", *kept])


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        found = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        if found:
            model = found[1].strip()
    except OSError:
        pass
    memory = ""
    try:
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}){memory}, Python {platform.python_version()}, "
        f"{platform.system()}"
    )


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def spread(values: Sequence[float], fmt: str = ",.0f") -> str:
    """``median (min-max, n=N)`` of repeated measures."""
    if len(values) == 1:
        return f"{values[0]:{fmt}} (n=1)"
    return (
        f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}}, "
        f"n={len(values)})"
    )


#: The load average when the bench started (this module is imported first thing).
STARTED_LOAD = load()


def stamp(script: str, started_load: str | None = None) -> str:
    """The line every section starts with: command, date, machine, load."""
    started_load = started_load or STARTED_LOAD
    return (
        f"Written by `bench/{script}` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. "
        f"Command: `{command(script)}`. Machine: {machine()}; load average {started_load} "
        f"at the start, {load()} at the end (the machine may be shared: compare ratios "
        "measured within one run)."
    )


def write_section(path: Path, script: str, body: str) -> None:
    """Replace ``script``'s marked section of ``path`` with ``body`` (or append it)."""
    begin, end = f"<!-- begin bench/{script} -->", f"<!-- end bench/{script} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def publish(args: argparse.Namespace, script: str, body: str) -> None:
    """Print the section and, unless ``--no-write``, put it into the results file."""
    print(body)
    if not args.no_write:
        write_section(args.results, script, body)
        print(f"wrote the bench/{script} section of {args.results}", file=sys.stderr)
