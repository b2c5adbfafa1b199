"""Archives: sdists built at test time, and malicious / broken archives (never extracted)."""

from __future__ import annotations

import io
import os
import random
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest
from code_helpers import MIT_TEXT, ingest, paths_of, reasons, write_tree
from hypothesis import given, settings
from hypothesis import strategies as st

from lmdata.ingest.code import CodeIngestCounters, CodeIngestOptions, iter_unit, plan_units

PKG_FILES = {
    "PKG-INFO": "Metadata-Version: 2.1\nName: tinypkg\nVersion: 0.1\nLicense: MIT\n",
    "pyproject.toml": '[project]\nname = "tinypkg"\nversion = "0.1"\nlicense = "MIT"\n',
    "LICENSE": MIT_TEXT,
    "README.md": "# tinypkg\n",
    "src/tinypkg/__init__.py": "from .core import f\n",
    "src/tinypkg/core.py": "def f(x):\n    return x * 2\n",
    "src/tinypkg/data.json": '{"a": 1}\n',
    "src/tinypkg/icon.png": b"\x89PNG\r\n\x1a\n\x00\x00",
}
PKG_PATHS = {p for p in PKG_FILES if not p.endswith(".png")}


def build_sdist(tmp_path: Path, fmt: str = "gz", name: str = "tinypkg-0.1") -> Path:
    """An sdist-shaped archive built with tarfile/zipfile from a package directory."""
    pkg = write_tree(tmp_path / "src-tree" / name, PKG_FILES)
    if fmt == "zip":
        out = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(pkg.rglob("*")):
                zf.write(p, f"{name}/{p.relative_to(pkg).as_posix()}")
        return out
    suffix = {"gz": ".tar.gz", "bz2": ".tar.bz2", "xz": ".tar.xz", "": ".tar"}[fmt]
    out = tmp_path / f"{name}{suffix}"
    with tarfile.open(out, f"w:{fmt}") as tf:
        tf.add(pkg, arcname=name)
    return out


@pytest.mark.parametrize("fmt", ["gz", "bz2", "xz", "", "zip"])
def test_sdist_archives(tmp_path: Path, fmt: str):
    archive = build_sdist(tmp_path, fmt)
    files, rejects, counters, units = ingest([str(archive)])
    assert rejects == []
    (unit,) = units
    assert (unit.kind, unit.repo_id, unit.root_prefix) == ("archive", "tinypkg-0.1", "tinypkg-0.1/")
    assert (unit.repo_license, unit.license_class) == ("MIT", "permissive")
    assert unit.license_source == "metadata:pyproject.toml:project.license"
    assert paths_of(files) == PKG_PATHS  # the top-level directory is stripped
    row = files["tinypkg-0.1:src/tinypkg/core.py"]
    assert row["language"] == "Python" and row["text"] == PKG_FILES["src/tinypkg/core.py"]
    assert files["tinypkg-0.1:src/tinypkg/data.json"]["language"] == "JSON"
    assert counters["skipped_binary"] == 1


def test_archive_batches(tmp_path: Path):
    archive = build_sdist(tmp_path)
    files, rejects, _, units = ingest([str(archive)], max_files_per_unit=2)
    assert len(units) == 4 and rejects == []
    assert paths_of(files) == PKG_PATHS


def _tar_with(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode="w:gz"):
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return path


def _reg(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    t = tarfile.TarInfo(name)
    t.type = kind
    t.linkname = target
    return t


def test_tar_path_traversal_links_and_duplicates(tmp_path: Path):
    archive = _tar_with(
        tmp_path / "evil.tar.gz",
        [
            (_reg("../escape.py"), b"print('escaped')\n"),
            (_reg("/abs/path.py"), b"print('absolute')\n"),
            (_reg("ok/../../up.py"), b"print('up')\n"),
            (_reg("C:\\windows.py"), b"print('drive')\n"),
            (_link("ok/passwd", "/etc/passwd"), None),
            (_link("ok/hard", "ok/good.py", tarfile.LNKTYPE), None),
            (_reg("ok/good.py"), b"print('good')\n"),
            (_reg("ok/good.py"), b"print('again')\n"),
            (_reg("./ok/./dot.py"), b"x = 1\n"),
        ],
    )
    files, rejects, counters, units = ingest([str(archive)])
    assert reasons(rejects) == {"unsafe_path": 4, "duplicate_path": 1}
    assert {r["record_id"] for r in rejects if r["reason"] == "unsafe_path"} == {
        "../escape.py",
        "/abs/path.py",
        "ok/../../up.py",
        "C:\\windows.py",
    }
    assert all(r["record_offset"] is not None for r in rejects)
    assert paths_of(files) == {"good.py", "dot.py"}  # "ok/" is the top-level directory
    assert files["evil:good.py"]["text"] == "print('good')\n"  # the first copy is kept
    assert counters["skipped_link"] == 2
    # nothing was extracted anywhere
    for p in ("escape.py", "up.py", "windows.py"):
        assert not (tmp_path / p).exists() and not (tmp_path.parent / p).exists()
    assert not Path("/abs/path.py").exists()


def test_zip_path_traversal(tmp_path: Path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escape.py", "print('escaped')\n")
        zf.writestr("/abs.py", "print('absolute')\n")
        zf.writestr("good/x.py", "x = 1\n")
        link = zipfile.ZipInfo("good/link")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    files, rejects, counters, _ = ingest([str(archive)])
    assert reasons(rejects) == {"unsafe_path": 2}
    assert paths_of(files) == {"x.py"}  # "good/" is the single top-level dir of safe members
    assert counters["skipped_link"] == 1
    assert not (tmp_path.parent / "escape.py").exists()


SMALL_LIMITS = dict(ratio_min_bytes=1 << 20, max_compression_ratio=50.0)


def test_zip_bomb_is_refused_from_the_directory(tmp_path: Path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.py", "x = 1\n")
        zf.writestr("zeros.txt", b"\0" * (16 << 20))  # 16 MiB -> ~16 KiB
    opts = CodeIngestOptions(**SMALL_LIMITS)
    files, rejects, _, _ = ingest([str(archive)], opts)
    assert reasons(rejects) == {"zip_bomb": 1} and files == {}
    assert "compression ratio" in rejects[0]["error"]
    # a per-archive size cap refuses it as well
    opts = CodeIngestOptions(max_archive_bytes=1 << 20)
    _, rejects, _, _ = ingest([str(archive)], opts)
    assert reasons(rejects) == {"archive_too_large": 1}


def test_tar_gz_bomb_is_stopped_while_streaming(tmp_path: Path):
    archive = _tar_with(
        tmp_path / "bomb.tar.gz",
        [(_reg("pkg/a.py"), b"x = 1\n"), (_reg("pkg/zeros.txt"), b"\0" * (32 << 20))],
    )
    assert archive.stat().st_size < 200_000
    files, rejects, counters, _ = ingest([str(archive)], CodeIngestOptions(**SMALL_LIMITS))
    # the member is refused from its header; skipping its data trips the ratio check
    assert reasons(rejects) == {"oversized_file": 1, "zip_bomb": 1}
    assert paths_of(files) == {"a.py"}  # what came before the bomb is kept
    files, rejects, _, _ = ingest([str(archive)], CodeIngestOptions(max_archive_bytes=4 << 20))
    assert reasons(rejects) == {"oversized_file": 1, "archive_too_large": 1}
    # with a per-file cap above the member size, reading the member itself trips the check
    opts = CodeIngestOptions(max_file_bytes=64 << 20, **SMALL_LIMITS)
    _, rejects, _, _ = ingest([str(archive)], opts)
    assert reasons(rejects) == {"zip_bomb": 1}


def test_oversized_members(tmp_path: Path):
    archive = _tar_with(
        tmp_path / "big.tar.gz",
        [(_reg("p/small.py"), b"x = 1\n"), (_reg("p/huge.py"), b"y = 2\n" * 50_000)],
    )
    opts = CodeIngestOptions(max_file_bytes=100_000)
    files, rejects, _, _ = ingest([str(archive)], opts)
    assert reasons(rejects) == {"oversized_file": 1} and rejects[0]["record_id"] == "huge.py"
    assert paths_of(files) == {"small.py"}


def test_truncated_tar_gz_keeps_what_was_read(tmp_path: Path):
    rng = random.Random(7)
    members = [
        (_reg(f"p/f{i:02d}.py"), "".join(rng.choice("abcdefgh \n") for _ in range(4000)).encode())
        for i in range(20)
    ]
    archive = _tar_with(tmp_path / "t.tar.gz", members)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) * 6 // 10])
    files, rejects, counters, units = ingest([str(archive)], max_files_per_unit=4)
    assert reasons(rejects) == {"truncated_archive": 1}  # reported once, by batch 0
    assert rejects[0]["slice"] == f"0/{len(units)}"
    assert 5 <= len(files) < 20
    assert counters["source_error_other_batch"] == len(units) - 1


def test_truncated_and_garbage_zip(tmp_path: Path):
    good = build_sdist(tmp_path, "zip")
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good.read_bytes()[:-100])  # central directory gone
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(os.urandom(2000))
    text = tmp_path / "notes.txt"
    text.write_text("just a file\n")
    empty = tmp_path / "empty.tar.gz"
    empty.write_bytes(b"")
    files, rejects, _, _ = ingest([str(cut), str(garbage), str(text), str(empty)])
    assert files == {}
    by_uri = {Path(r["input_uri"]).name: r["reason"] for r in rejects}
    assert by_uri == {
        "cut.zip": "corrupt_archive",
        "garbage.zip": "corrupt_archive",
        "notes.txt": "unsupported_source",
        "empty.tar.gz": "corrupt_archive",
    }


def test_corrupt_and_encrypted_zip_members(tmp_path: Path):
    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("p/a.py", "print('aaaaaaaaaaaaaaaa')\n")
        zf.writestr("p/b.py", "print('b')\n")
        zf.writestr("p/c.py", "print('c')\n")
    data = bytearray(archive.read_bytes())
    i = data.index(b"aaaaaaaa")
    data[i] = ord("X")  # CRC mismatch for p/a.py
    # mark p/c.py encrypted in its central-directory entry (general purpose flag bit 0)
    cd = data.index(
        b"PK\x01\x02" + bytes(data[data.index(b"PK\x01\x02") + 4 : data.index(b"PK\x01\x02") + 6])
    )
    for _ in range(2):
        cd = data.index(b"PK\x01\x02", cd + 1)
    (flags,) = struct.unpack_from("<H", data, cd + 8)
    struct.pack_into("<H", data, cd + 8, flags | 1)
    archive.write_bytes(bytes(data))
    files, rejects, _, _ = ingest([str(archive)])
    assert reasons(rejects) == {"corrupt_member": 1, "encrypted_member": 1}
    assert {r["reason"]: r["record_id"] for r in rejects} == {
        "corrupt_member": "a.py",
        "encrypted_member": "c.py",
    }
    assert paths_of(files) == {"b.py"}


def test_too_many_members(tmp_path: Path):
    archive = _tar_with(tmp_path / "many.tar", [(_reg(f"f{i}.py"), b"x\n") for i in range(6)], "w")
    files, rejects, _, _ = ingest([str(archive)], CodeIngestOptions(max_archive_members=3))
    assert reasons(rejects) == {"too_many_members": 1} and len(files) == 3


_SEEDS: dict[str, bytes] = {}


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(max_size=3000),
    cut=st.integers(min_value=0, max_value=4000),
    flips=st.lists(st.integers(0, 10**6), max_size=4),
)
def test_damaged_archives_never_raise(tmp_path_factory, data, cut, flips):
    """Valid sdists cut, extended with random bytes and bit-flipped: rows or reject rows, never
    an exception and never an internal_error."""
    tmp = tmp_path_factory.mktemp("fuzz")
    if not _SEEDS:
        for fmt in ("gz", "zip", ""):
            _SEEDS[fmt] = build_sdist(tmp / f"seed-{fmt or 'tar'}", fmt).read_bytes()
    for fmt, seed in _SEEDS.items():
        blob = bytearray(seed[: cut or len(seed)] + data)
        for f in flips:
            if blob:
                blob[f % len(blob)] ^= 0xFF
        path = tmp / f"x.{'zip' if fmt == 'zip' else 'tar.gz'}"
        path.write_bytes(bytes(blob))
        counters = CodeIngestCounters()
        for unit in plan_units([str(path)], 3):
            for kind, _row in iter_unit(unit, CodeIngestOptions(), counters):
                assert kind in ("file", "reject")
        assert counters["rejected:internal_error"] == 0
