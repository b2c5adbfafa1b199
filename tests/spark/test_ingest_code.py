"""ingest-code through the stage: stdlib packages + an archive with hostile members."""

import io
import sysconfig
import tarfile
from pathlib import Path

import pytest

from lmdata.lake import delta
from support import run_stage as _run

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.spark


def _archive(path: Path) -> None:
    with tarfile.open(path, "w:gz") as tar:

        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add(
            "pkg-1.0/LICENSE",
            b"MIT License\n\nPermission is hereby granted, free of charge, to any person "
            b'obtaining a copy of this software and associated documentation files (the "Software"), to deal '
            b"in the Software without restriction, including without limitation the rights to use, copy, "
            b"modify, merge, publish, distribute, sublicense, and/or sell copies of the Software\n",
        )
        add("pkg-1.0/pkg/__init__.py", b"def hello():\n    return 'hello'\n")
        add("pkg-1.0/pkg/keys.py", b"AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLQ'\nprint('x')\n")
        add("../../evil.py", b"print('escape')\n")  # path traversal: never read as a file


def test_ingest_code_stdlib_and_hostile_archive(spark, tmp_path):
    lake = tmp_path / "lake"
    arc = tmp_path / "pkg-1.0.tar.gz"
    _archive(arc)
    json_dir = Path(sysconfig.get_paths()["stdlib"]) / "json"
    args = ["--source", f"{json_dir}=PSF-2.0", "--source", str(arc)]
    s = _run("ingest-code", lake, "--run-id", "k1", *args)
    rows = delta.read_arrow(delta.table_uri(str(lake), "bronze/code_files")).to_pylist()
    by_repo = {}
    for r in rows:
        by_repo.setdefault(r["repo_id"], []).append(r)
    stdlib = by_repo["json"]
    assert {r["path"] for r in stdlib} >= {"__init__.py", "decoder.py", "encoder.py"}
    assert all(r["language"] == "Python" and r["repo_license"] == "PSF-2.0" for r in stdlib)
    pkg = [r for k, v in by_repo.items() if k != "json" for r in v]
    assert {r["path"] for r in pkg} >= {"pkg/__init__.py", "pkg/keys.py"}
    assert all(
        r["repo_license"].startswith("MIT") and r["license_class"] == "permissive" for r in pkg
    )
    assert not any("evil" in r["path"] for r in rows)
    q = delta.read_arrow(delta.table_uri(str(lake), delta.QUARANTINE)).to_pylist()
    assert [r["reason"] for r in q if r["stage"] == "ingest-code"] == ["unsafe_path"]
    assert s.quarantined["unsafe_path"] == 1
    # re-running the same sources with a new run id replaces their partitions: same rows
    _run("ingest-code", lake, "--run-id", "k2", *args)
    again = delta.read_arrow(delta.table_uri(str(lake), "bronze/code_files")).to_pylist()
    assert sorted(r["doc_id"] for r in again) == sorted(r["doc_id"] for r in rows)
    # curation redacts the planted key and keeps the files; dedup writes gold
    _run("curate", lake, "--run-id", "c1", "--source", "code")
    kept = {
        r["path"]: r
        for r in delta.read_arrow(delta.table_uri(str(lake), "silver/code_files")).to_pylist()
    }
    assert "AKIAIOSFODNN7EXAMPLQ" not in kept["pkg/keys.py"]["text"]
    _run("dedup", lake, "--run-id", "d1", "--source", "code")
    assert len(delta.read_arrow(delta.table_uri(str(lake), "gold/code_files"))) == len(kept)
