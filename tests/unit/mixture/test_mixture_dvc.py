"""The mixtures data repository: git commit + tag per version, DVC push to a local directory
and to S3 (a real moto server on 127.0.0.1), checkout of an older version byte for byte."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from lmdata.errors import FatalError
from lmdata.mixture.cli import mixture_cli
from lmdata.mixture.dvc import DataRepo, parse_ref


def _files(root, name):
    d = root / name
    return {
        p.relative_to(d).as_posix(): p.read_bytes()
        for p in sorted(d.rglob("*"))
        if p.is_file() and p.name != "DATASHEET.md"
    }


def _write_version(root, name, payload: bytes):
    """What the mix stage leaves before committing: shards, manifest, tokenizer, card."""
    d = root / name
    if (d / "shards").exists():
        shutil.rmtree(d / "shards")
    (d / "shards").mkdir(parents=True)
    (d / "shards/part-00000.bin").write_bytes(payload)
    (d / "shards/part-00000.idx").write_bytes(payload[::-1] + b"idx")
    (d / "shards/part-00001.bin").write_bytes(os.urandom(2048))
    (d / "manifest.json").write_text(json.dumps({"payload": len(payload)}) + "\n")
    (d / "tokenizer.json").write_text(json.dumps({"v": payload[:4].hex()}) + "\n")
    (d / "DATASHEET.md").write_text(f"# card {len(payload)}\n")


def test_parse_ref():
    assert parse_ref("sample@3") == ("sample", 3) == parse_ref("sample@v3")
    with pytest.raises(FatalError, match="NAME@VERSION"):
        parse_ref("sample")


def test_versions_commit_tag_push_and_checkout_byte_for_byte(tmp_path, capsys):
    root, remote = tmp_path / "repo", tmp_path / "remote"
    repo = DataRepo(root, str(remote))
    _write_version(root, "m", os.urandom(5000))
    with repo.lock():
        repo.ensure()
        v1 = repo.commit_version("m", 1, {"fingerprint": "f1", "documents": 3, "tokens": 10})
    files_v1 = _files(root, "m")
    _write_version(root, "m", os.urandom(7000))
    with repo.lock():
        v2 = repo.commit_version("m", 2, {"fingerprint": "f2", "documents": 4, "tokens": 12})
    files_v2 = _files(root, "m")
    assert v1["tag"] == "m@v1" and v2["tag"] == "m@v2" and v1["rev"] != v2["rev"]
    assert [r["version"] for r in repo.versions("m")] == [1, 2]
    assert repo.find_fingerprint("m", "f1")["tag"] == "m@v1"
    assert repo.next_version("m") == 3
    assert any(remote.rglob("*")), "dvc push wrote nothing to the remote"
    # git holds only pointers: the shards are ignored by git and tracked by DVC
    tracked = repo.git("ls-files").stdout.split()
    assert "m/shards.dvc" in tracked and "m/manifest.json.dvc" in tracked
    assert not any(t.startswith("m/shards/") for t in tracked)

    assert mixture_cli(["checkout", "m@1", "--repo", str(root)]) == 1  # not a real manifest
    assert _files(root, "m") == files_v1
    # the local cache is gone and the workspace too: checkout pulls from the remote
    shutil.rmtree(root / ".dvc" / "cache")
    shutil.rmtree(root / "m" / "shards")
    with repo.lock():
        res = repo.checkout("m", 2)
    assert res["pulled"] is True and _files(root, "m") == files_v2
    assert mixture_cli(["list", "m", "--repo", str(root)]) == 0
    out = capsys.readouterr().out
    assert "m@v1" in out and "m@v2" in out and "documents=4" in out
    with pytest.raises(FatalError, match="no mixture version m@v9"):
        repo.checkout("m", 9)


def test_s3_remote_on_moto(tmp_path, monkeypatch):
    from support import moto_commoncrawl_bucket

    empty = tmp_path / "empty"
    empty.mkdir()
    with moto_commoncrawl_bucket(empty, bucket="mixtures") as endpoint:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("LMDATA_S3_ENDPOINT", endpoint)
        root = tmp_path / "repo"
        repo = DataRepo(root, "s3://mixtures/dvc")
        _write_version(root, "m", os.urandom(4000))
        with repo.lock():
            repo.ensure()
            repo.commit_version("m", 1, {"fingerprint": "f1"})
        assert repo.remote_url() == "s3://mixtures/dvc"
        files_v1 = _files(root, "m")
        import boto3

        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="mixtures").get("Contents", [])]
        assert keys and all(k.startswith("dvc/") for k in keys)
        # a fresh clone elsewhere: git clone + pull from S3 restores the same bytes
        clone = tmp_path / "clone"
        repo.git("clone", "-q", str(root), str(clone))
        other = DataRepo(clone)
        with other.lock():
            other.ensure()  # keeps the committed S3 remote, adds the local endpoint
            res = other.checkout("m", 1)
        assert res["pulled"] is True
        assert _files(clone, "m") == files_v1
