"""train_gpu's fetch step restores exactly the mixture version its triggering event names, even
when a later `mix` moved the data repository on (a real git + DVC repository)."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest

from lmdata.mixture.dvc import DataRepo
from lmdata.train.smoke import build_text_mixture
from lmdata.workflow.plan import fetch_manifest

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _version(repo: DataRepo, files: list[Path], version: int) -> dict:
    build_text_mixture(files, repo.root / "m", name="m", version=version, vocab_size=300)
    (repo.root / "m" / "DATASHEET.md").write_text(f"# m v{version}\n")  # the card mix writes
    with repo.lock():
        repo.ensure()
        return repo.commit_version("m", version, {"fingerprint": f"f{version}"})


def test_fetch_restores_the_events_version(tmp_path):
    repo = DataRepo(tmp_path / "mixtures", str(tmp_path / "remote"))
    manifest = repo.root / "m" / "manifest.json"
    v1 = _version(repo, [STDLIB / "abc.py", STDLIB / "bisect.py"], 1)
    bin_v1 = (repo.root / "m" / "shards" / "part-00000.bin").read_bytes()
    _version(repo, [STDLIB / "colorsys.py", STDLIB / "fnmatch.py", STDLIB / "glob.py"], 2)
    assert json.loads(manifest.read_text())["version"] == 2

    event = {"manifest_uri": manifest.as_uri(), "dvc_tag": v1["tag"], "dvc_rev": v1["rev"]}
    out = fetch_manifest(event)
    assert out["manifest_path"] == str(manifest)
    assert json.loads(manifest.read_text())["version"] == 1
    assert (repo.root / "m" / "shards" / "part-00000.bin").read_bytes() == bin_v1

    # a damaged shard fails the shards gate instead of training on it
    (repo.root / "m" / "shards" / "part-00000.bin").write_bytes(b"\0" * 8)
    with pytest.raises(ValueError, match="shards gate"):
        fetch_manifest(event)


def test_fetch_without_a_version_needs_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="names no DVC version"):
        fetch_manifest({"manifest_uri": str(tmp_path / "nope" / "manifest.json")})
