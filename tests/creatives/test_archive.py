"""Reading bundles from folders and zips: every way an archive can attack the reader."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from dispatch.creatives.archive import (
    MAX_FILE_BYTES,
    MAX_FILES,
    content_hash,
    normalised_zip,
    path_problem,
    read_path,
    read_zip,
)
from dispatch.creatives.bundle import bundle_from_zip, load_bundle
from dispatch.creatives.problems import BundleRejected
from tests.creatives.builders import valid_files, write_dir, zip_bytes


def reasons(problems: list) -> str:
    return "\n".join(str(p) for p in problems)


def zip_with(*entries: tuple[zipfile.ZipInfo | str, bytes], base: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in (valid_files() if base else {}).items():
            zf.writestr(name, data)
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


def unix_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


# --- the good paths ------------------------------------------------------------------


def test_bundle_loads_from_a_folder(tmp_path: Path) -> None:
    bundle = load_bundle(write_dir(tmp_path / "b", valid_files()))
    assert dict(bundle.files) == valid_files()
    assert bundle.manifest.name == "spring-offer"
    assert bundle.manifest.channels == ("post", "email")


def test_bundle_loads_from_a_zip_with_the_same_hash_as_the_folder(tmp_path: Path) -> None:
    (tmp_path / "b.zip").write_bytes(zip_bytes(valid_files()))
    from_zip = load_bundle(tmp_path / "b.zip")
    from_dir = load_bundle(write_dir(tmp_path / "b", valid_files()))
    assert from_zip.content_hash == from_dir.content_hash == content_hash(valid_files())


def test_zip_of_a_folder_with_one_wrapping_directory_loads(tmp_path: Path) -> None:
    wrapped = {f"spring-offer/{k}": v for k, v in valid_files().items()}
    (tmp_path / "b.zip").write_bytes(zip_bytes(wrapped))
    assert sorted(load_bundle(tmp_path / "b.zip").files) == sorted(valid_files())


def test_normalised_zip_is_deterministic_and_round_trips() -> None:
    files = valid_files()
    assert normalised_zip(files) == normalised_zip(dict(reversed(list(files.items()))))
    assert dict(bundle_from_zip(normalised_zip(files)).files) == files


def test_content_hash_changes_with_any_byte_or_name() -> None:
    files = valid_files()
    base = content_hash(files)
    assert content_hash({**files, "assets/style.css": files["assets/style.css"] + b" "}) != base
    renamed = {("assets/style2.css" if k == "assets/style.css" else k): v for k, v in files.items()}
    assert content_hash(renamed) != base
    # Length prefixes: moving bytes between a name and its content changes the hash.
    assert content_hash({"ab": b"c"}) != content_hash({"a": b"bc"})


# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.png", "path traversal"),
        ("assets/../../evil.png", "path traversal"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/evil.png", "drive letter"),
        ("assets\\evil.png", "backslash"),
        ("assets/evil\x00.png", "control character"),
        ("assets/evil\n.png", "control character"),
        (".DS_Store", "bad file name"),
        ("assets/.hidden.png", "bad file name"),
        ("README.txt", "unexpected file"),
        ("scripts/run.js", "unexpected folder"),
        ("assets//logo.png", "bad file name"),
        ("assets/a/b/c/d.png", "levels of folders"),
        ("assets/" + "a" * 199 + ".png", "longer than"),
    ],
)
def test_bad_names_are_refused(name: str, reason: str) -> None:
    assert reason in (path_problem(name) or "")


@pytest.mark.parametrize("name", ["creative.yaml", "letter.html.j2", "assets/fonts/a.woff2"])
def test_good_names_pass(name: str) -> None:
    assert path_problem(name) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../../evil.png", "path traversal"),
        ("/dispatch-test-evil.png", "absolute path"),
        ("C:\\evil.png", "backslash"),
        ("D:/evil.png", "drive letter"),
        ("assets/../creative.yaml", "path traversal"),
    ],
)
def test_hostile_zip_names_are_reported_and_never_written(
    tmp_path: Path, name: str, reason: str
) -> None:
    target = tmp_path / "upload" / "b.zip"
    target.parent.mkdir()
    target.write_bytes(zip_with((name, b"x")))
    before = set(tmp_path.rglob("*"))
    with pytest.raises(BundleRejected) as caught:
        load_bundle(target)
    assert reason in reasons(caught.value.found)
    assert set(tmp_path.rglob("*")) == before  # nothing extracted anywhere
    assert not Path("/dispatch-test-evil.png").exists()


# --- links and special files -----------------------------------------------------------


def test_symlink_in_zip_is_refused() -> None:
    data = zip_with((unix_entry("assets/passwd.png", stat.S_IFLNK | 0o777), b"/etc/passwd"))
    files, problems = read_zip(data)
    assert "assets/passwd.png" not in files
    assert "assets/passwd.png: symbolic link" in reasons(problems)


def test_device_entry_in_zip_is_refused() -> None:
    data = zip_with((unix_entry("assets/dev.png", stat.S_IFCHR | 0o666), b""))
    _, problems = read_zip(data)
    assert "assets/dev.png: not a regular file" in reasons(problems)


def test_symlink_in_folder_is_refused_and_not_followed(tmp_path: Path) -> None:
    root = write_dir(tmp_path / "b", valid_files())
    (root / "assets" / "passwd.png").symlink_to("/etc/passwd")
    (root / "assets" / "dir").symlink_to("/etc")
    files, problems = read_path(root)
    assert "assets/passwd.png: symbolic link" in reasons(problems)
    assert "assets/dir: symbolic link" in reasons(problems)
    assert not any(b"root:" in data for data in files.values())


def test_hard_link_in_folder_is_refused(tmp_path: Path) -> None:
    root = write_dir(tmp_path / "b", valid_files())
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"secret")
    os.link(outside, root / "assets" / "linked.png")
    _, problems = read_path(root)
    assert "assets/linked.png: hard link" in reasons(problems)


def test_fifo_in_folder_is_refused_without_blocking(tmp_path: Path) -> None:
    root = write_dir(tmp_path / "b", valid_files())
    os.mkfifo(root / "assets" / "pipe.css")
    _, problems = read_path(root)
    assert "assets/pipe.css: not a regular file" in reasons(problems)


# --- counts and sizes ------------------------------------------------------------------


def test_too_many_entries_in_zip_is_refused_before_parsing() -> None:
    many = {f"assets/f{i}.css": b"" for i in range(MAX_FILES + 1)}
    _, problems = read_zip(zip_bytes(many))
    assert f"more than {MAX_FILES} entries" in reasons(problems)


def test_too_many_entries_in_folder_is_refused(tmp_path: Path) -> None:
    root = write_dir(tmp_path / "b", {f"assets/f{i}.css": b"" for i in range(MAX_FILES + 5)})
    _, problems = read_path(root)
    assert f"more than {MAX_FILES} entries" in reasons(problems)


def test_file_over_the_size_limit_is_refused_in_zip() -> None:
    big = zip_bytes(
        {"assets/big.png": os.urandom(MAX_FILE_BYTES + 1)}, compression=zipfile.ZIP_STORED
    )
    _, problems = read_zip(big)
    assert f"assets/big.png: larger than {MAX_FILE_BYTES} bytes" in reasons(problems)


def test_file_over_the_size_limit_is_refused_in_folder(tmp_path: Path) -> None:
    root = write_dir(tmp_path / "b", {"assets/big.png": b"\0" * (MAX_FILE_BYTES + 1)})
    _, problems = read_path(root)
    assert "assets/big.png: larger than" in reasons(problems)


def test_total_over_the_limit_is_refused_from_the_declared_sizes() -> None:
    # Five highly compressible 4.9 MB files: small archive, 24.5 MB declared.
    files = {f"assets/f{i}.css": b" " * 4_900_000 for i in range(5)}
    _, problems = read_zip(zip_bytes(files))
    assert "over 20971520" in reasons(problems)


def test_zip_bomb_of_zeros_is_refused_by_its_ratio() -> None:
    bomb = zip_bytes({**valid_files(), "assets/bomb.css": b"\0" * 4_000_000})
    assert len(bomb) < 40_000
    _, problems = read_zip(bomb)
    assert "compression ratio over 100" in reasons(problems)


def test_single_bomb_member_among_incompressible_files_is_refused() -> None:
    files = {"assets/noise.png": os.urandom(3_000_000), "assets/bomb.css": b"\0" * 1_000_000}
    files_ok, problems = read_zip(zip_bytes(files))
    assert "assets/bomb.css: compression ratio over 100" in reasons(problems)
    assert "assets/bomb.css" not in files_ok


def _patch(data: bytes, name: str, central: int, local: int, value: int, fmt: str) -> bytes:
    """Overwrite one field of ``name``'s central and local headers (at those offsets)."""
    raw = bytearray(data)
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46 : at + 46 + name_len] == name.encode():
            struct.pack_into(fmt, raw, at + central, value)
            header = struct.unpack_from("<I", raw, at + 42)[0]
            struct.pack_into(fmt, raw, header + local, value)
        at = raw.find(b"PK\x01\x02", at + 4)
    return bytes(raw)


def _lie_about_size(data: bytes, name: str, size: int) -> bytes:
    return _patch(data, name, 24, 22, size, "<I")


def test_member_that_inflates_beyond_its_declared_size_is_refused() -> None:
    data = _lie_about_size(zip_bytes({"assets/lie.css": b"\0" * 2_000_000}), "assets/lie.css", 100)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.getinfo("assets/lie.css").file_size == 100  # the lie is in place
    files, problems = read_zip(data)
    assert "assets/lie.css" not in files
    assert "assets/lie.css" in reasons(problems)


def test_member_shorter_than_declared_is_refused() -> None:
    data = _lie_about_size(zip_bytes({"assets/short.css": b"a {}"}), "assets/short.css", 5000)
    files, problems = read_zip(data)
    assert "assets/short.css" not in files
    assert "assets/short.css" in reasons(problems)


def test_duplicate_names_in_zip_are_refused() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate
        data = zip_with(("assets/logo.png", b"second"))
    _, problems = read_zip(data)
    assert "assets/logo.png: duplicate file name" in reasons(problems)


def test_names_differing_only_in_case_are_duplicates() -> None:
    _, problems = read_zip(zip_with(("assets/LOGO.png", b"x")))
    assert "duplicate file name" in reasons(problems)


def test_encrypted_member_is_refused() -> None:
    data = _patch(zip_with(("assets/secret.css", b"a {}")), "assets/secret.css", 8, 6, 0x1, "<H")
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("assets/secret.css").flag_bits & 0x1
    _, problems = read_zip(data)
    assert "assets/secret.css: encrypted" in reasons(problems)


def test_unsupported_compression_is_refused() -> None:
    info = zipfile.ZipInfo("assets/x.css")
    info.compress_type = zipfile.ZIP_BZIP2
    _, problems = read_zip(zip_with((info, b"a {}")))
    assert "compression method not supported" in reasons(problems)


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04" + b"\0" * 40])
def test_garbage_is_not_a_zip(data: bytes) -> None:
    files, problems = read_zip(data)
    assert files == {}
    assert "zip" in reasons(problems)


def test_archive_problems_and_content_problems_are_reported_together(tmp_path: Path) -> None:
    files = {**valid_files(), "letter.html.j2": b"<script>x</script>"}
    path = tmp_path / "b.zip"
    path.write_bytes(zip_bytes({**files, "../evil": b"x", "notes.txt": b"x"}))
    with pytest.raises(BundleRejected) as caught:
        load_bundle(path)
    text = reasons(caught.value.found)
    assert "path traversal" in text
    assert "notes.txt: unexpected file" in text
    assert "scripts are not allowed" in text


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(BundleRejected, match="bundle rejected"):
        load_bundle(tmp_path / "nope")
