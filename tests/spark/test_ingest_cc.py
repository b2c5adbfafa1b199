"""ingest-cc's one-pass write: bronze in the ingest job, the side outputs through side files."""

from pathlib import Path

import pytest
from test_stages import _bucket  # two WET files: a good one and a truncated copy

from lmdata.lake import delta
from lmdata.spark.stages import ingest_cc
from support import run_stage

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.spark


def _quarantine(lake: Path) -> list[tuple]:
    q = delta.read_arrow(delta.table_uri(str(lake), delta.QUARANTINE)).to_pylist()
    return sorted((Path(r["input_uri"]).name, r["reason"], r["run_id"]) for r in q)


def test_a_crash_between_the_commits_is_retried_into_the_quarantine(spark, tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    args = ["--crawl", "CC-MAIN-2024-22", "--source", str(_bucket(tmp_path)), "--format", "wet"]
    ok = run_stage("ingest-cc", tmp_path / "ref", *args, "--run-id", "r1")
    assert ok.quarantined["truncated_gzip"] == 1 and ok.counters["docs"] == ok.rows_out > 0
    assert not any((tmp_path / "ref" / ingest_cc.STAGING / ingest_cc.STAGE).iterdir())

    def killed(*a, **k):
        raise RuntimeError("killed between the bronze and the quarantine commit")

    monkeypatch.setattr(ingest_cc, "write_quarantine", killed)
    from lmdata.spark.job import execute
    from lmdata.spark.stages import get_stage

    params = str(ROOT / "params.yaml")
    argv = ["--lake", str(lake), "--params", params, *args, "--run-id", "r1"]
    code, stats = execute(get_stage("ingest-cc"), argv)
    assert code != 0 and "killed between" in stats.error
    bronze = delta.table_uri(str(lake), delta.BRONZE_WEB)
    v = delta.current_version(bronze)
    assert v is not None and len(delta.read_arrow(bronze)) == ok.rows_out
    assert not delta.exists(delta.table_uri(str(lake), delta.QUARANTINE))
    monkeypatch.undo()

    # the retry: bronze is not written again (app id), the slice is re-read for its rejects
    again = run_stage("ingest-cc", lake, *args, "--run-id", "r1")
    assert again.status != "skipped"
    assert delta.current_version(bronze) == v
    assert again.rows_out == ok.rows_out and again.quarantined == ok.quarantined
    assert _quarantine(lake) == _quarantine(tmp_path / "ref")
    assert ("b-truncated.warc.wet.gz", "truncated_gzip", "r1") in _quarantine(lake)
    # and now the run is done: a third try commits nothing
    assert run_stage("ingest-cc", lake, *args, "--run-id", "r1").status == "skipped"
    assert not any((lake / ingest_cc.STAGING / ingest_cc.STAGE).iterdir())


def test_a_missing_side_output_is_an_error_not_a_gap(tmp_path):
    from collections import Counter
    from types import SimpleNamespace

    from lmdata.errors import FatalError
    from lmdata.stats import StageStats

    fs, root = ingest_cc._side_fs(str(tmp_path))
    ingest_cc.write_side_output(fs, root, "s3://b/x.gz", Counter(docs=2), [{"reason": "r"}])

    ctx = SimpleNamespace(stats=StageStats(stage="ingest-cc", run_id="r"))  # what it reads
    rejects, counters = ingest_cc.read_side_outputs(ctx, str(tmp_path), ["s3://b/x.gz"])
    assert rejects == [{"reason": "r"}] and counters == {"docs": 2}
    assert ctx.stats.counters["docs"] == 2
    with pytest.raises(FatalError, match="s3://b/y.gz"):
        ingest_cc.read_side_outputs(ctx, str(tmp_path), ["s3://b/x.gz", "s3://b/y.gz"])
