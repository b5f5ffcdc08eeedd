"""A creative bundle in memory: its files, its manifest and its content hash.

``load_bundle`` is the one way in: it reads a directory or a .zip safely
(:mod:`dispatch.creatives.archive`), validates everything
(:mod:`dispatch.creatives.validation`) and either returns a :class:`Bundle` or raises
:class:`~dispatch.creatives.problems.BundleRejected` listing every problem. It never
writes a file or touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from dispatch.creatives.archive import (
    MANIFEST,
    content_hash,
    normalised_zip,
    read_path,
    read_zip,
)
from dispatch.creatives.manifest import Manifest, parse_manifest
from dispatch.creatives.problems import BundleRejected, Problem
from dispatch.creatives.validation import validate_files


@dataclass(frozen=True)
class Bundle:
    """A validated bundle. ``files`` maps relative POSIX paths to their bytes."""

    files: Mapping[str, bytes]
    manifest: Manifest

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical serialisation of every file (see ``archive``)."""
        return content_hash(self.files)

    @property
    def size(self) -> int:
        return sum(len(data) for data in self.files.values())

    def template(self, name: str) -> str | None:
        """The source of ``letter.html.j2``, ``email.html.j2`` or ``email.txt.j2``."""
        data = self.files.get(name)
        return None if data is None else data.decode("utf-8")

    def to_zip(self) -> bytes:
        """The normalised zip that is stored in the database."""
        return normalised_zip(self.files)


def load_bundle(path: str | Path) -> Bundle:
    """Read and validate a bundle directory or .zip; raise BundleRejected on any problem."""
    files, problems = read_path(Path(path))
    manifest, found = validate_files(files)
    problems += found
    if problems or manifest is None:
        raise BundleRejected(problems or [Problem(str(path), None, "not a valid bundle")])
    return Bundle(MappingProxyType(files), manifest)


def load_uploaded_zip(data: bytes) -> Bundle:
    """Read and validate an uploaded .zip bundle; raise BundleRejected on any problem.

    The same checks as :func:`load_bundle` (archive limits and zip-bomb ratio included).
    """
    files, problems = read_zip(data)
    manifest = None
    if not problems:
        manifest, found = validate_files(files)
        problems += found
    if problems or manifest is None:
        raise BundleRejected(problems or [Problem("upload", None, "not a valid bundle")])
    return Bundle(MappingProxyType(files), manifest)


def bundle_from_zip(data: bytes) -> Bundle:
    """A stored bundle back from its normalised zip (the caller verifies its hash).

    The archive limits still apply; the content checks ran when it was submitted and
    are not repeated here, so that an approved creative does not change meaning when
    the checks change.
    """
    files, problems = read_zip(data, check_ratio=False)
    manifest = None
    if not problems and MANIFEST in files:
        manifest, problems = parse_manifest(files[MANIFEST])
    if problems or manifest is None:
        raise BundleRejected(problems or [Problem(MANIFEST, None, "missing")])
    return Bundle(MappingProxyType(files), manifest)
