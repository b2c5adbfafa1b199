"""Directory sources with bad input: permissions, encodings, symlinks, FIFOs, sizes, names."""

from __future__ import annotations

import codecs
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from code_helpers import IS_ROOT, ingest, paths_of, reasons, write_tree

from lmdata.ingest import code as code_mod
from lmdata.ingest.code import CodeIngestOptions, decode_source
from lmdata.ingest.code import rows as code_rows
from lmdata.ingest.code import sources as code_sources


def test_symlinks_are_never_followed_outside_the_root(tmp_path: Path):
    outside = write_tree(tmp_path / "outside", {"secret.py": "TOKEN = 1\n", "d/x.py": "x = 1\n"})
    root = write_tree(tmp_path / "root", {"real.py": "r = 1\n", "sub/inner.py": "i = 1\n"})
    (root / "to_outside.py").symlink_to(outside / "secret.py")
    (root / "to_outside_dir").symlink_to(outside / "d")
    (root / "to_etc").symlink_to("/etc/passwd")
    (root / "loop_a").symlink_to(root / "loop_b")
    (root / "loop_b").symlink_to(root / "loop_a")
    (root / "self_loop").symlink_to("self_loop")
    (root / "dangling.py").symlink_to(root / "does-not-exist.py")
    (root / "alias.py").symlink_to("real.py")  # inside: the target is read at its own path
    (root / "sub" / "up").symlink_to("..")  # a directory cycle: never entered
    files, rejects, counters, _ = ingest([str(root)])
    assert paths_of(files) == {"real.py", "sub/inner.py"}
    got = {r["record_id"]: r["reason"] for r in rejects}
    assert got == {
        "to_outside.py": "symlink_outside_root",
        "to_outside_dir": "symlink_outside_root",
        "to_etc": "symlink_outside_root",
        "loop_a": "symlink_loop",
        "loop_b": "symlink_loop",
        "self_loop": "symlink_loop",
        "dangling.py": "broken_symlink",
    }
    assert counters["skipped_symlink"] == 2  # alias.py, sub/up
    assert all("TOKEN" not in r["text"] for r in files.values())


def test_source_root_may_itself_be_a_symlink(tmp_path: Path):
    real = write_tree(tmp_path / "real", {"a.py": "a = 1\n"})
    (tmp_path / "alias").symlink_to(real)
    files, rejects, _, _ = ingest([str(tmp_path / "alias")])
    assert paths_of(files) == {"a.py"} and rejects == []


def test_fifo_and_special_files_do_not_block(tmp_path: Path):
    root = write_tree(tmp_path / "r", {"a.py": "a = 1\n"})
    os.mkfifo(root / "pipe.py")
    files, rejects, counters, _ = ingest([str(root)])
    assert paths_of(files) == {"a.py"} and rejects == []
    assert counters["skipped_special"] == 1


@pytest.mark.skipif(IS_ROOT, reason="root ignores file permissions")
def test_unreadable_file_and_directory_real_permissions(tmp_path: Path):
    root = write_tree(
        tmp_path / "r", {"ok.py": "ok = 1\n", "locked.py": "x = 1\n", "sub/in.py": "y\n"}
    )
    (root / "locked.py").chmod(0)
    (root / "sub").chmod(0)
    try:
        files, rejects, _, _ = ingest([str(root)])
    finally:
        (root / "locked.py").chmod(0o644)
        (root / "sub").chmod(0o755)
    assert paths_of(files) == {"ok.py"}
    assert {r["record_id"]: r["reason"] for r in rejects} == {
        "locked.py": "access_denied",
        "sub/": "access_denied",
    }


_AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
_INGEST_AS_NOBODY = """
import json, sys
sys.path.insert(0, sys.argv[1])
from code_helpers import ingest, paths_of
files, rejects, _, _ = ingest([sys.argv[2]])
print(json.dumps({"files": sorted(paths_of(files)),
                  "rejects": {r["record_id"]: r["reason"] for r in rejects}}))
"""


@pytest.mark.skipif(not IS_ROOT or not shutil.which("setpriv"), reason="the variant for root")
def test_unreadable_file_and_directory_real_permissions_as_root():
    """CI runs as root, where file permissions do not apply: the same real chmod 0 file and
    directory, ingested by a child process that drops to `nobody` (setpriv)."""
    probe = subprocess.run(
        [*_AS_NOBODY, sys.executable, "-c", "import lmdata.ingest.code"], capture_output=True
    )
    if probe.returncode != 0:  # e.g. a checkout under a directory only root may enter
        pytest.skip(f"nobody cannot import lmdata here: {probe.stderr.decode()[-300:]}")
    tmp = Path(tempfile.mkdtemp(prefix="lmdata-perm-"))  # /tmp: nobody may enter it
    try:
        tmp.chmod(0o755)
        root = write_tree(
            tmp / "r", {"ok.py": "ok = 1\n", "locked.py": "x = 1\n", "sub/in.py": "y\n"}
        )
        for p in [root, *root.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        (root / "locked.py").chmod(0)
        (root / "sub").chmod(0)
        helpers = str(Path(__file__).resolve().parent)
        proc = subprocess.run(
            [*_AS_NOBODY, sys.executable, "-c", _INGEST_AS_NOBODY, helpers, str(root)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        assert got == {
            "files": ["ok.py"],
            "rejects": {"locked.py": "access_denied", "sub/": "access_denied"},
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_unreadable_file_and_directory_simulated(tmp_path: Path, monkeypatch):
    """The same as above for a root user: the OS calls raise PermissionError."""
    root = write_tree(
        tmp_path / "r", {"ok.py": "ok = 1\n", "locked.py": "x = 1\n", "sub/in.py": "y\n"}
    )
    real_read, real_scandir = code_sources._read_fs, os.scandir

    def read_fs(path, limit):
        if path.endswith("locked.py"):
            raise PermissionError(13, "Permission denied", path)
        return real_read(path, limit)

    def scandir(path="."):
        if str(path).endswith("/sub"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(code_sources, "_read_fs", read_fs)
    monkeypatch.setattr(code_sources.os, "scandir", scandir)
    files, rejects, counters, units = ingest([str(root)], max_files_per_unit=1)
    assert paths_of(files) == {"ok.py"}
    assert sorted((r["record_id"], r["reason"]) for r in rejects) == [
        ("locked.py", "access_denied"),
        ("sub/", "access_denied"),  # a directory problem is reported once (batch 0)
    ]
    assert len(units) == 2 and counters["source_error_other_batch"] == 1


def test_encodings(tmp_path: Path):
    latin1_cookie = "# -*- coding: latin-1 -*-\nname = 'Müller'\n".encode("latin-1")
    cp1252 = ("# Grüße aus Köln – naïve café, “quotes” and €uros\n" * 5).encode("cp1252")
    utf16 = codecs.BOM_UTF16_LE + "x = 'ü'\n".encode("utf-16-le")
    utf8_bom = codecs.BOM_UTF8 + "y = 'ß'\n".encode()
    root = write_tree(
        tmp_path / "enc",
        {
            "cookie.py": latin1_cookie,
            "legacy.py": cp1252,
            "wide.py": utf16,
            "bom.py": utf8_bom,
            "binary.dat": b"abc\x00\x01\x02" * 10,
        },
    )
    files, rejects, counters, _ = ingest([str(root)])
    assert rejects == []
    rows = {r["path"]: r for r in files.values()}
    assert set(rows) == {"cookie.py", "legacy.py", "wide.py", "bom.py"}  # binary.dat skipped
    assert (rows["cookie.py"]["encoding"], rows["cookie.py"]["text"].split("'")[1]) == (
        "iso8859-1",
        "Müller",
    )
    assert "Köln" in rows["legacy.py"]["text"] and rows["legacy.py"]["encoding"] != "utf-8"
    assert (rows["wide.py"]["encoding"], rows["wide.py"]["text"]) == ("utf-16", "x = 'ü'\n")
    assert (rows["bom.py"]["encoding"], rows["bom.py"]["text"]) == ("utf-8-sig", "y = 'ß'\n")
    assert rows["legacy.py"]["size_bytes"] == len(cp1252)  # raw bytes, not characters
    assert counters["charset_declared"] == 1 and counters["charset_detected"] == 1
    assert counters["bom"] == 2 and counters["skipped_binary"] == 1

    # without charset detection: rejected as undecodable, or decoded with the flagged fallback
    _, rejects, _, _ = ingest([str(root)], CodeIngestOptions(detect_charset=False))
    assert {r["record_id"]: r["reason"] for r in rejects} == {"legacy.py": "undecodable"}
    files, rejects, counters, _ = ingest(
        [str(root)], CodeIngestOptions(detect_charset=False, fallback_encoding="latin-1")
    )
    assert rejects == [] and counters["encoding_fallback"] == 1
    assert {r["path"]: r["encoding"] for r in files.values()}["legacy.py"] == "iso8859-1"


def test_decode_source_edge_cases():
    opts = CodeIngestOptions()
    assert decode_source(b"plain\n", opts) == ("plain\n", "utf-8")
    assert decode_source(b"\x00\x01binary", opts) is None
    assert decode_source(b"a" * 9000 + b"\x00", opts) == ("a" * 9000 + "\x00", "utf-8")  # late NUL
    with pytest.raises(code_mod._MemberError):
        decode_source(b"caf\xe9 \xff\xfa" * 50, CodeIngestOptions(detect_charset=False))


def test_oversized_empty_and_bad_names(tmp_path: Path):
    root = write_tree(
        tmp_path / "r",
        {"small.py": "s = 1\n", "big.py": "b = 2\n" * 1000, "empty.py": "", "ok/ü.py": "u = 1\n"},
    )
    bad = os.path.join(os.fsencode(root), b"bad\xff.py")
    with open(bad, "wb") as f:
        f.write(b"x = 1\n")
    files, rejects, counters, _ = ingest([str(root)], CodeIngestOptions(max_file_bytes=1000))
    assert paths_of(files) == {"small.py", "ok/ü.py"}
    got = {r["record_id"]: r["reason"] for r in rejects}
    assert got == {"big.py": "oversized_file", "bad\\udcff.py": "bad_path"}
    assert counters["skipped_empty"] == 1


def test_missing_and_unsupported_sources(tmp_path: Path):
    notes = tmp_path / "notes.md"
    notes.write_text("hello\n")
    _, rejects, _, units = ingest(
        [
            str(tmp_path / "nope"),
            str(tmp_path / "nope.tar.gz"),
            str(notes),
            "s3://bucket/repo.tar.gz",
        ]
    )
    assert [u.kind for u in units] == ["dir", "archive", "archive", "archive"]
    assert [r["reason"] for r in rejects] == [
        "not_found",
        "not_found",
        "unsupported_source",
        "unsupported_source",
    ]
    assert all(r["record_offset"] is None for r in rejects)


def test_file_uri_and_forced_kind(tmp_path: Path):
    root = write_tree(tmp_path / "r", {"a.py": "a = 1\n"})
    files, rejects, _, units = ingest([f"file://{root}"])
    assert paths_of(files) == {"a.py"} and units[0].repo_id == "r"
    _, rejects, _, _ = ingest([{"uri": str(root), "kind": "archive"}])
    assert reasons(rejects) == {"unsupported_source": 1}


def test_internal_errors_cost_one_unit(tmp_path: Path, monkeypatch):
    root = write_tree(tmp_path / "r", {"a.py": "a = 1\n"})

    def boom(*a, **k):
        raise RuntimeError("bug")

    monkeypatch.setattr(code_rows, "_file_row", boom)
    files, rejects, _, _ = ingest([str(root)])
    assert files == {} and reasons(rejects) == {"internal_error": 1}
    assert "RuntimeError: bug" in rejects[0]["error"]
