"""Read a creative bundle (a directory or a .zip) into memory, safely.

Nothing is ever extracted to disk: every file ends up as bytes in a dict keyed by its
relative POSIX path. The reader refuses, and reports, everything an archive can use
to escape or exhaust us:

- names: ``..``, absolute paths, drive letters, backslashes, NUL and control
  characters, hidden files, names outside the bundle layout, duplicates (also ones
  that differ only in case), too deep or too long paths;
- entries that are not regular files: symbolic links and special files (in a zip,
  the Unix mode in ``external_attr``), hard links (in a directory, ``st_nlink``);
- size: more than :data:`MAX_FILES` entries (counted from the zip's end record
  before the central directory is parsed), a file over :data:`MAX_FILE_BYTES`, a
  total over :data:`MAX_TOTAL_BYTES`;
- zip bombs: a compression ratio over :data:`MAX_RATIO` per member and in total,
  encrypted members, methods other than stored and deflate, and members that
  inflate to more than they declare: every member is read through a bounded loop,
  so a lying header cannot make us inflate more than the limit.

A bad entry is skipped and reported; the rest are still read so that validation can
report every problem of a bundle at once.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import stat
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

from dispatch.creatives.problems import Problem

MAX_FILES = 200
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 20 * 1024 * 1024
MAX_ARCHIVE_BYTES = MAX_TOTAL_BYTES
#: Compression ratio limit; members (and archives) under RATIO_FLOOR bytes are exempt,
#: since nothing that small can exhaust anything.
MAX_RATIO = 100
RATIO_FLOOR = 64 * 1024
MAX_PATH_CHARS = 200
MAX_DEPTH = 4

TEMPLATES = ("letter.html.j2", "email.html.j2", "email.txt.j2")
MANIFEST = "creative.yaml"
TOP_LEVEL_FILES = frozenset({MANIFEST, *TEMPLATES})
ASSETS = "assets"

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
_DRIVE = re.compile(r"[A-Za-z]:")
_CHUNK = 64 * 1024
_ARCHIVE = "(archive)"

Files = dict[str, bytes]


def label(name: str) -> str:
    """A name fit for a one-line error (control characters shown escaped)."""
    return name if name.isprintable() else repr(name)


def path_problem(name: str) -> str | None:
    """Why ``name`` cannot be a file of a bundle, or None when it can."""
    if "\x00" in name or not name.isprintable():
        return "control character in file name"
    if "\\" in name:
        return "backslash in file name (use / between folders)"
    if name.startswith("/"):
        return "absolute path"
    if _DRIVE.match(name):
        return "drive letter in file name"
    segments = name.split("/")
    if ".." in segments:
        return "'..' in file name (path traversal)"
    if len(name) > MAX_PATH_CHARS:
        return f"path longer than {MAX_PATH_CHARS} characters"
    if len(segments) > MAX_DEPTH:
        return f"more than {MAX_DEPTH} levels of folders"
    for segment in segments:
        if not _SEGMENT.match(segment):
            return (
                f"bad file name {segment!r}: use letters, digits, '.', '_' and '-', "
                "not starting with '.'"
            )
    if len(segments) == 1 and name not in TOP_LEVEL_FILES:
        allowed = ", ".join(sorted(TOP_LEVEL_FILES))
        return f"unexpected file: a bundle holds {allowed} and {ASSETS}/"
    if len(segments) > 1 and segments[0] != ASSETS:
        return f"unexpected folder {segments[0]!r}: only {ASSETS}/ may hold files"
    return None


def read_path(path: Path) -> tuple[Files, list[Problem]]:
    """Read a bundle from a directory or a .zip file."""
    try:
        info = path.stat()
    except OSError as exc:
        return {}, [Problem(str(path), None, f"cannot read: {exc.strerror}")]
    if stat.S_ISDIR(info.st_mode):
        return _Directory(path).read()
    if not stat.S_ISREG(info.st_mode):
        return {}, [Problem(str(path), None, "not a directory or a .zip file")]
    if info.st_size > MAX_ARCHIVE_BYTES:
        return {}, [Problem(str(path), None, f"archive larger than {MAX_ARCHIVE_BYTES} bytes")]
    with path.open("rb") as fh:
        data = fh.read(MAX_ARCHIVE_BYTES + 1)
    return read_zip(data)


def read_zip(data: bytes, *, check_ratio: bool = True) -> tuple[Files, list[Problem]]:
    """Read a bundle from zip bytes (a partner's upload, or our own stored copy).

    Our stored copies skip the ratio check (they are normalised by us and verified by
    hash afterwards); every size limit still applies.
    """
    if len(data) > MAX_ARCHIVE_BYTES:
        return {}, [Problem(_ARCHIVE, None, f"archive larger than {MAX_ARCHIVE_BYTES} bytes")]
    problem = _end_record_problem(data)
    if problem:
        return {}, [Problem(_ARCHIVE, None, problem)]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        return {}, [Problem(_ARCHIVE, None, f"not a readable zip archive ({exc})")]
    with archive:
        return _ZipReader(archive, len(data), check_ratio=check_ratio).read()


def _end_record_problem(data: bytes) -> str | None:
    """Count entries from the end record before zipfile parses the central directory."""
    tail = data[-(22 + 0xFFFF) :]
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return "not a zip archive"
    entries, cd_size = struct.unpack("<HI", tail[at + 10 : at + 16])
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
        return "ZIP64 archives are not supported"
    if entries > MAX_FILES:
        return f"more than {MAX_FILES} entries"
    if cd_size > MAX_FILES * 1024:
        return "central directory too large"
    return None


def _common_prefix(names: list[str]) -> str:
    """``"bundle/"`` when every entry sits in one folder and there is no root manifest."""
    if MANIFEST in names:
        return ""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names if n.rstrip("/") not in tops):
        (top,) = tops
        if f"{top}/{MANIFEST}" in names:
            return f"{top}/"
    return ""


class _Collector:
    def __init__(self) -> None:
        self.files: Files = {}
        self.problems: list[Problem] = []
        self.folded: set[str] = set()
        self.total = 0

    def problem(self, name: str, reason: str) -> None:
        self.problems.append(Problem(label(name), None, reason))

    def admit(self, name: str) -> bool:
        """Check a name (and that it is new); report and refuse it when bad."""
        reason = path_problem(name)
        if reason:
            self.problem(name, reason)
            return False
        if name.casefold() in self.folded:
            self.problem(name, "duplicate file name")
            return False
        self.folded.add(name.casefold())
        return True

    def add(self, name: str, data: bytes) -> None:
        self.total += len(data)
        if self.total > MAX_TOTAL_BYTES:
            self.problem(name, f"bundle larger than {MAX_TOTAL_BYTES} bytes in total")
            return
        self.files[name] = data


class _ZipReader(_Collector):
    def __init__(self, archive: zipfile.ZipFile, size: int, *, check_ratio: bool) -> None:
        super().__init__()
        self.archive = archive
        self.size = size
        self.check_ratio = check_ratio

    def read(self) -> tuple[Files, list[Problem]]:
        infos = self.archive.infolist()
        if len(infos) > MAX_FILES:
            return {}, [Problem(_ARCHIVE, None, f"more than {MAX_FILES} entries")]
        declared = sum(i.file_size for i in infos)
        if declared > MAX_TOTAL_BYTES:
            self.problems.append(
                Problem(_ARCHIVE, None, f"declares {declared} bytes, over {MAX_TOTAL_BYTES}")
            )
            return {}, self.problems
        if self.check_ratio and declared > RATIO_FLOOR and declared > MAX_RATIO * self.size:
            self.problems.append(
                Problem(_ARCHIVE, None, f"compression ratio over {MAX_RATIO} (zip bomb?)")
            )
            return {}, self.problems
        prefix = _common_prefix([i.orig_filename for i in infos])
        for info in infos:
            self.entry(info, prefix)
        return self.files, self.problems

    def entry(self, info: zipfile.ZipInfo, prefix: str) -> None:
        raw = info.orig_filename
        if raw == prefix:
            return
        name = raw[len(prefix) :] if prefix and raw.startswith(prefix) else raw
        if info.is_dir():
            reason = path_problem(name.rstrip("/") + "/x")
            if reason:
                self.problem(raw, reason)
            return
        if not self.admit(name):
            return
        reason = self.entry_problem(info)
        if reason:
            self.problem(name, reason)
            return
        data = self.bounded_read(info, name)
        if data is not None:
            self.add(name, data)

    def entry_problem(self, info: zipfile.ZipInfo) -> str | None:
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            return "symbolic link"
        if kind not in (0, stat.S_IFREG):
            return "not a regular file"
        if info.flag_bits & 0x1:
            return "encrypted"
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            return "compression method not supported (use deflate)"
        if info.file_size > MAX_FILE_BYTES:
            return f"larger than {MAX_FILE_BYTES} bytes"
        ratio_applies = self.check_ratio and info.file_size > RATIO_FLOOR
        if ratio_applies and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            return f"compression ratio over {MAX_RATIO} (zip bomb?)"
        return None

    def bounded_read(self, info: zipfile.ZipInfo, name: str) -> bytes | None:
        limit = min(info.file_size, MAX_FILE_BYTES)
        buf = bytearray()
        try:
            with self.archive.open(info) as member:
                while chunk := member.read(_CHUNK):
                    buf += chunk
                    if len(buf) > limit:
                        self.problem(name, "inflates to more than its declared size")
                        return None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError) as exc:
            self.problem(name, f"corrupt member ({exc})")
            return None
        except Exception as exc:  # zlib and friends on hostile input
            self.problem(name, f"corrupt member ({type(exc).__name__})")
            return None
        if len(buf) != info.file_size:
            self.problem(name, "size differs from its declared size")
            return None
        return bytes(buf)


class _Directory(_Collector):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.seen = 0

    def read(self) -> tuple[Files, list[Problem]]:
        self.walk(self.root, "")
        return self.files, self.problems

    def walk(self, folder: Path, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.problem(prefix or str(folder), f"cannot list folder: {exc.strerror}")
            return
        for entry in entries:
            self.seen += 1
            if self.seen > MAX_FILES:
                self.problem(str(self.root), f"more than {MAX_FILES} entries")
                return
            name = prefix + entry.name
            if entry.is_symlink():
                self.problem(name, "symbolic link")
            elif entry.is_dir(follow_symlinks=False):
                reason = path_problem(name + "/x")
                if reason:
                    self.problem(name, reason)
                else:
                    self.walk(Path(entry.path), name + "/")
            elif entry.is_file(follow_symlinks=False):
                if self.admit(name):
                    self.read_file(Path(entry.path), name)
            else:
                self.problem(name, "not a regular file")

    def read_file(self, path: Path, name: str) -> None:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            reason = "symbolic link" if exc.errno == errno.ELOOP else f"cannot read: {exc.strerror}"
            self.problem(name, reason)
            return
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                self.problem(name, "not a regular file")
            elif info.st_nlink > 1:
                self.problem(name, "hard link")
            elif info.st_size > MAX_FILE_BYTES:
                self.problem(name, f"larger than {MAX_FILE_BYTES} bytes")
            else:
                data = fh.read(MAX_FILE_BYTES + 1)
                if len(data) > MAX_FILE_BYTES:
                    self.problem(name, f"larger than {MAX_FILE_BYTES} bytes")
                else:
                    self.add(name, data)


def content_hash(files: Mapping[str, bytes]) -> str:
    """SHA-256 over every file, in path order, each as length-prefixed path and bytes.

    Length prefixes make the serialisation unambiguous: no two different bundles
    serialise to the same byte string.
    """
    digest = hashlib.sha256(b"dispatch creative bundle v1\n")
    for path in sorted(files):
        encoded = path.encode("utf-8")
        data = files[path]
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def normalised_zip(files: Mapping[str, bytes]) -> bytes:
    """The bundle as a deterministic zip: sorted, fixed timestamps and modes, deflated."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, files[path])
    return buf.getvalue()
