from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest
from code_helpers import MIT_TEXT, ingest, paths_of, reasons, write_tree

from lmdata.document import QUARANTINE_SCHEMA, stable_doc_id
from lmdata.errors import ConfigError
from lmdata.ingest.code import (
    CODE_FILE_SCHEMA,
    CodeIngestOptions,
    SourceSpec,
    Unit,
    git_head,
    iter_unit,
    plan_source,
    plan_units,
)
from lmdata.ingest.code import git as code_git

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def test_dir_rows_schema_and_values(small_repo: Path):
    files, rejects, counters, units = ingest([str(small_repo)])
    assert rejects == []
    assert len(units) == 1 and units[0].kind == "dir" and units[0].repo_id == "repo"
    # binary (png, pyc in pruned __pycache__) and empty files are skipped, not rejected
    assert paths_of(files) == {
        "LICENSE",
        "README.md",
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/util.js",
        "scripts/run",
        "include/api.h",
        "data/table.csv",
    }
    assert counters["skipped_binary"] == 1 and counters["skipped_empty"] == 1
    assert counters["skipped_pruned_dir"] == 1 and counters["files"] == 8
    pa.Table.from_pylist(list(files.values()), schema=CODE_FILE_SCHEMA)  # schema-valid
    core = files["repo:pkg/core.py"]
    raw = (small_repo / "pkg/core.py").read_bytes()
    sha1 = hashlib.sha1(raw).hexdigest()
    assert core["content_sha1"] == sha1
    assert core["doc_id"] == stable_doc_id("code", "repo:pkg/core.py", sha1)
    assert core["source"] == "code" and core["ingest_run_id"] == "test-run"
    assert core["text"] == raw.decode() and core["encoding"] == "utf-8"
    assert (core["line_count"], core["max_line_length"], core["size_bytes"]) == (2, 16, len(raw))
    assert core["mean_line_length"] == pytest.approx((14 + 16) / 2)
    assert core["alnum_fraction"] == pytest.approx(16 / 32)  # def add a b return a b
    assert core["repo_license"] == "MIT" and core["license_class"] == "permissive"
    assert core["repo_commit"] is None
    langs = {r["path"]: r["language"] for r in files.values()}
    assert langs["scripts/run"] == "Shell"  # by shebang
    assert langs["include/api.h"] == "C++"  # by the .h heuristic
    assert langs["pkg/util.js"] == "JavaScript" and langs["data/table.csv"] == "CSV"
    assert counters["languages:Python"] == 2


def test_doc_ids_are_stable_across_runs(small_repo: Path):
    a, *_ = ingest([str(small_repo)])
    b, *_ = ingest([str(small_repo)], CodeIngestOptions(run_id="other"))
    assert {k: r["doc_id"] for k, r in a.items()} == {k: r["doc_id"] for k, r in b.items()}


def test_batches_are_deterministic_disjoint_and_complete(tmp_path: Path):
    root = write_tree(tmp_path / "big", {f"d{i % 3}/f{i:03d}.py": f"x = {i}\n" for i in range(25)})
    units = plan_units([str(root)], max_files_per_unit=10)
    assert [u.n_files for u in units] == [10, 10, 5]
    assert [(u.batch, u.n_batches) for u in units] == [(0, 3), (1, 3), (2, 3)]
    assert units[0].lo is None and units[-1].hi is None
    assert units[0].hi == units[1].lo and units[1].hi == units[2].lo
    assert units == plan_units([str(root)], max_files_per_unit=10)  # deterministic
    seen: list[str] = []
    for u in units:
        got = [r["path"] for kind, r in iter_unit(u) if kind == "file"]
        assert len(got) == u.n_files
        seen += got
    assert sorted(seen) == sorted(f"d{i % 3}/f{i:03d}.py" for i in range(25))
    # a file created after planning lands in exactly one unit
    (root / "d1" / "late.py").write_text("late = 1\n")
    owners = [u.batch for u in units if u.contains("d1/late.py")]
    assert len(owners) == 1
    got = [r["path"] for kind, r in iter_unit(units[owners[0]]) if kind == "file"]
    assert "d1/late.py" in got


def test_unit_round_trip_and_unplanned_unit(small_repo: Path):
    unit = plan_units([str(small_repo)])[0]
    assert Unit.from_dict(unit.to_dict()) == unit
    bare = Unit(uri=str(small_repo), kind="dir", repo_id="repo")  # as a caller may build it
    rows = [r for k, r in iter_unit(bare) if k == "file"]
    assert {r["repo_license"] for r in rows} == {"MIT"}
    assert len(rows) == 8


def test_source_spec_overrides(small_repo: Path):
    spec = SourceSpec(
        str(small_repo), repo_id="example.org/demo", license_override="GPL-3.0-or-later"
    )
    files, rejects, _, units = ingest([spec, {"uri": str(small_repo), "repo_id": "dict/src"}])
    assert rejects == []
    row = files["example.org/demo:pkg/core.py"]
    assert (row["repo_license"], row["license_class"]) == ("GPL-3.0-or-later", "copyleft")
    assert units[0].license_source == "override"
    assert files["dict/src:pkg/core.py"]["repo_license"] == "MIT"
    with pytest.raises(ConfigError):
        plan_units([{"uri": str(small_repo), "bogus": 1}])
    with pytest.raises(ConfigError):
        CodeIngestOptions(max_file_bytes=0)
    with pytest.raises(ConfigError):
        CodeIngestOptions(git_mode="svn")


def _git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    p = subprocess.run([GIT, "-C", str(repo), *args], capture_output=True, env=env, check=True)
    return p.stdout.decode().strip()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = write_tree(
        tmp_path / "gitrepo",
        {
            "LICENSE": MIT_TEXT,
            "main.py": "print('hello')\n",
            "lib/util.go": "package lib\n\nfunc F() int { return 1 }\n",
        },
    )
    _git(repo, "init", "-q", "-b", "main")
    (repo / "link.py").symlink_to("main.py")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "init")
    _git(repo, "remote", "add", "origin", "git@github.com:example/gitrepo.git")
    return repo


@needs_git
def test_git_head_tree(git_repo: Path):
    head = _git(git_repo, "rev-parse", "HEAD")
    (git_repo / "untracked.py").write_text("not committed\n")
    (git_repo / "main.py").write_text("print('edited in the work tree')\n")
    files, rejects, counters, units = ingest([str(git_repo)])
    assert rejects == []
    assert units[0].kind == "git" and units[0].repo_id == "github.com/example/gitrepo"
    assert paths_of(files) == {"LICENSE", "main.py", "lib/util.go"}  # HEAD tree only
    row = files["github.com/example/gitrepo:main.py"]
    assert row["repo_commit"] == head and row["text"] == "print('hello')\n"
    assert row["repo_license"] == "MIT"
    assert counters["skipped_symlink"] == 1
    # work-tree mode: what is on disk (the .git directory is pruned)
    files, rejects, counters, _ = ingest([str(git_repo)], CodeIngestOptions(git_mode="worktree"))
    assert paths_of(files) == {"LICENSE", "main.py", "lib/util.go", "untracked.py"}
    assert files["github.com/example/gitrepo:main.py"]["text"].startswith("print('edited")
    assert files["github.com/example/gitrepo:main.py"]["repo_commit"] == head


@needs_git
def test_git_head_without_git_binary(git_repo: Path, monkeypatch):
    head = _git(git_repo, "rev-parse", "HEAD")
    monkeypatch.setattr(code_git, "_git_bin", lambda: None)
    assert git_head(str(git_repo)) == head  # loose ref file
    _git(git_repo, "pack-refs", "--all")
    assert not (git_repo / ".git/refs/heads/main").exists()
    assert git_head(str(git_repo)) == head  # packed-refs
    files, rejects, counters, units = ingest([str(git_repo)])
    assert rejects == [] and counters["git_worktree_fallback"] == 1
    assert {r["repo_commit"] for r in files.values()} == {head}
    assert units[0].repo_id == "gitrepo"  # no git binary: no remote lookup


@needs_git
def test_git_repo_without_commits_is_walked(tmp_path: Path):
    repo = write_tree(tmp_path / "fresh", {"a.py": "a = 1\n"})
    _git(repo, "init", "-q")
    files, rejects, counters, units = ingest([str(repo)])
    assert units[0].kind == "git" and units[0].repo_commit is None
    assert paths_of(files) == {"a.py"} and rejects == []


def test_plan_source_counts(small_repo: Path):
    from collections import Counter

    c = Counter()
    units = plan_source(str(small_repo), max_files_per_unit=3, counters=c)
    assert len(units) == c["units"] and c["sources"] == 1
    assert sum(u.n_files for u in units) == c["plan_files"]


def test_reject_rows_fit_quarantine_schema(tmp_path: Path):
    _, rejects, _, _ = ingest([str(tmp_path / "missing")])
    assert reasons(rejects) == {"not_found": 1}
    pa.Table.from_pylist(rejects, schema=QUARANTINE_SCHEMA)
    assert rejects[0]["stage"] == "ingest-code" and rejects[0]["slice"] == "0/1"
