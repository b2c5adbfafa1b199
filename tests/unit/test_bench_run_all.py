"""bench/run_all.py: the summary table (medians over interleaved pairs, units, runs, load,
measured-now vs carried rows), the plan's run counts and the alternating pair order."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # bench/ is a directory of the repository, not an installed package
    sys.path.insert(0, str(REPO))
R = importlib.import_module("bench.run_all")
M = importlib.import_module("bench._measure")

OLD_MD = f"""# Benchmarks

## Summary (make bench)

{R.BEGIN}

| peer | command | time | CPU s | peak memory | load (1 min) | when | check |
|---|---|---|---|---|---|---|---|
| text-dedup 0.4.1 MinHash (fuzzy dedup alone) | `python -m bench.bench_dedup --mb 200` | 0.94x | 0.91x | 1.02x | 2.36-2.52 | 2026-12-01 17:28 UTC | docs out 43,447 (lmdata) |
| os.walk + read (1 process) vs `lmdata ingest-code` | `python -m bench.bench_code` | 15.1x | 27.1x | 9.94x | 1.06-1.89 | 2026-12-01 17:22 UTC |  |

Scaling (the same lmdata pipeline, seconds per GB of compressed WET, wall / CPU; details in "Scaling"): 24 MiB 4,683 / 7,937.

{R.END}

## Corpus
"""  # noqa: E501


def _run(wall: float, cpu: float, load: float, **kw) -> dict:
    return {"wall_s": wall, "seconds": wall, "cpu_s": cpu, "tree_peak_rss": 100 * M.MIB,
            "vmhwm_kib": 50 * 1024, "loadavg_1min": [load, load + 0.5], **kw}  # fmt: skip


def _write_raw(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # medians: lmdata wall 20 (not the mean 40 nor the first 10), peer 2 -> 10.0x;
    # CPU 30 / 3 -> 10.0x
    code = {
        "command": "python -m bench.bench_code", "stamp": "2026-12-04 05:40 UTC",
        "order": M.ALTERNATING,
        "lmdata": [_run(10, 30, 1.0), _run(90, 20, 2.0), _run(20, 40, 3.0)],
        "peer": [_run(1, 3, 1.5, files=7, bytes=2 * M.MIB), _run(2, 2, 4.0),
                 _run(100, 4, 0.5)],
    }  # fmt: skip
    (out / "code-results.json").write_text(json.dumps(code))
    # one pair only: the row must say so
    pii = {
        "command": "python -m bench.bench_pii --mb 5 --docs 10", "stamp": "2026-12-04 05:41 UTC",
        "runs": {"naive": [_run(4, 4, 1.0)], "lmdata": [_run(1, 2, 1.0)]},
        "same_spans": 10, "docs": 10,
    }  # fmt: skip
    (out / "pii-results.json").write_text(json.dumps(pii))


def _rows(text: str) -> dict[str, dict]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| ") and len(cells) == len(R.COLUMNS) and cells[0] != "row":
            rows[cells[0]] = dict(zip(R.COLUMNS, cells, strict=True))
    return rows


def test_summary_medians_units_runs_load_and_carried_rows(tmp_path):
    out = tmp_path / "out"
    _write_raw(out)
    started = time.time() - 60
    os.utime(out / "pii-results.json", (started - 3600, started - 3600))  # before this invocation
    text = R.summary(5, ran={"code": started, "pii": started}, out=out, md_text=OLD_MD)
    rows = _rows(text)
    assert list(rows) == ["dedup", "pii", "code"]  # the summary's fixed row order

    code = rows["code"]
    assert code["time"] == "10.0x" and code["CPU s"] == "10.0x"
    assert code["runs"] == "3 pairs, order alternated, median"
    assert code["time is"] == R.TIME_IS["code"] and "wall" in code["time is"]
    assert code["load (1 min, min-max)"] == "0.5-4.5"  # over both sides' runs
    assert code["measured"] == "2026-12-04 05:40 UTC · this invocation"
    assert code["peak memory"] == "2.00x"  # 100 MiB tree / 50 MiB VmHWM
    assert "7 files, 2 MiB both" in code["check"]

    pii = rows["pii"]
    assert pii["time"] == "0.25x" and pii["CPU s"] == "0.50x"
    assert pii["runs"] == "1 pair, order not recorded, median (< 3)"
    assert pii["measured"].endswith("· carried")  # written before the step started

    dedup = rows["dedup"]  # no raw result: taken over from the old-layout table
    assert (dedup["time"], dedup["CPU s"], dedup["peak memory"]) == ("0.94x", "0.91x", "1.02x")
    assert dedup["runs"].startswith("not recorded")
    assert dedup["time is"] == R.TIME_IS["dedup"]
    assert dedup["measured"] == "2026-12-01 17:28 UTC · carried (no raw result)"

    assert "measured: pii" not in text and "measured: code;" in text
    assert "carried from earlier invocations (their date in *measured*): dedup, pii." in text
    assert "24 MiB 4,683 / 7,937" in text  # the scaling line is carried too

    # re-rendering its own output keeps the carried row, without stacking markers
    again = _rows(R.summary(5, ran={}, out=tmp_path / "empty", md_text=text))
    assert again["code"]["time"] == "10.0x"
    assert again["code"]["measured"] == "2026-12-04 05:40 UTC · carried (no raw result)"
    assert again["dedup"]["measured"] == "2026-12-01 17:28 UTC · carried (no raw result)"
    only = _rows(R.summary(5, ran={}, out=out, md_text=OLD_MD))  # --summary-only
    assert only["code"]["measured"] == "2026-12-04 05:40 UTC"


def test_warm_pipeline_row_comes_from_its_own_results(tmp_path):
    """The warm-server pipeline (make bench's pipeline-warm step, 24 MiB whatever SIZE is) has
    its own row beside the cold one, from pipeline-warm-results-mb24-seed0.json."""
    out = tmp_path / "out"
    out.mkdir()
    docs = {"docs_out": 4452}
    warm = {
        "command": "python -m bench.bench_pipeline --mb 24 --warm", "order": M.ALTERNATING,
        "stamp": "2026-12-04 06:35 UTC",
        "lmdata": [_run(70, 96, 2.0, **docs), _run(66, 90, 2.5, **docs), _run(78, 99, 3.0, **docs)],
        "peer": [_run(280, 288, 2.0, docs_out=4373), _run(287, 288, 2.0, docs_out=4373),
                 _run(282, 280, 2.0, docs_out=4373)],
    }  # fmt: skip
    (out / f"pipeline-warm-results-mb{R.WARM_MB}-seed0.json").write_text(json.dumps(warm))
    started = time.time() - 60
    rows = _rows(R.summary(200, ran={"pipeline-warm": started}, out=out, md_text=""))
    row = rows["pipeline-warm"]
    assert row["time"] == "0.25x"  # median 70 / median 282
    assert row["CPU s"] == "0.33x" and row["peak memory"] == "1.00x"  # 96 / 288
    assert row["runs"] == "3 pairs, order alternated, median"
    assert row["time is"] == R.TIME_IS["pipeline-warm"]
    assert row["check"] == "docs out 4,452 vs 4,373"
    assert row["measured"].endswith("· this invocation")


def test_tokenize_rows_come_from_the_warm_pairs_per_size(tmp_path):
    """Two mix rows (issue 21's two targets): 16.8 MB and SIZE, each the medians of its warm
    raw/mix pairs; a size with no result of its own shows no row (never another size's)."""
    out = tmp_path / "out"
    out.mkdir()

    def pair(ratio_cpu: float, ratio_stage: float, load: float) -> dict:
        return {"ratio_cpu": ratio_cpu, "ratio_stage": ratio_stage, "ratio_tokenize_write": 0.5,
                "loadavg": [load, load]}  # fmt: skip

    pairs = [pair(0.5, 0.2, 1.0), pair(0.8, 0.25, 2.0), pair(0.6, 0.4, 3.0)]
    warm = {**pairs[-1], "pairs": pairs, "mb": 16.78, "tokens_raw": 4_397_964,
            "median": {"ratio_cpu": 0.6, "ratio_stage": 0.25, "ratio_tokenize_write": 0.5},
            "loadavg": [1.0, 3.0], "order": "raw floor then warm mix in every pair",
            "command": "python -m bench.bench_tokenize --warm --pairs 3 --cold --write",
            "stamp": "2026-12-04 23:50 UTC"}  # fmt: skip
    (out / "tokenize-warm-results-mb16.json").write_text(json.dumps(warm))
    (out / "tokenize-results.json").write_text(json.dumps({"ratio_cpu": 0.1, "ratio_stage": 0.1}))
    rows = _rows(R.summary(200, ran={"tokenize": time.time() - 60}, out=out, md_text=""))
    assert "tokenize-200" not in rows  # no 200 MiB result: no row from the 16 MB one
    row = rows["tokenize"]  # the warm result, not the older cold one
    assert (row["time"], row["CPU s"]) == ("4.00x", "1.67x")  # 1 / 0.25, 1 / 0.6
    assert row["runs"] == "3 pairs, raw floor then warm mix in every pair, median"
    assert row["time is"] == R.TIME_IS["tokenize"] and "warm" in row["time is"]
    assert row["check"].startswith("16.78 MB, same 4,397,964 tokens")
    assert row["measured"] == "2026-12-04 23:50 UTC · this invocation"
    (out / "tokenize-warm-results-mb200.json").write_text(
        json.dumps({**warm, "mb": 209.72, "median": {**warm["median"], "ratio_cpu": 1.0}}))
    rows = _rows(R.summary(200, ran={}, out=out, md_text=""))
    assert list(rows) == ["tokenize", "tokenize-200"]
    assert rows["tokenize-200"]["CPU s"] == "1.00x"
    assert rows["tokenize-200"]["check"].startswith("209.72 MB")


def test_summary_without_any_result(tmp_path):
    text = R.summary(5, out=tmp_path, md_text="")
    assert "(no results yet: run `make bench`)" in text
    assert "no row was measured by this invocation" in text


def test_pair_order_alternates():
    assert [M.pair_order(i, "a", "b") for i in (1, 2, 3)] == [
        ("a", "b"), ("b", "a"), ("a", "b"),
    ]  # fmt: skip
    assert M.pair_order(2, "peer", "inproc", "lmdata") == ("lmdata", "inproc", "peer")


def test_plan_defaults_to_three_pairs_and_quick_leaves_benchmarks_md_alone():
    full = dict(R.plan(200, 3, 3, scale=(1000,)))
    for name in ("pii", "code", "tokenize", "tokenize-200", "ingest", "dedup", "pipeline",
                 "pipeline-warm", "multilingual"):
        args = full[name]
        n = "--pairs" if name.startswith("tokenize") else "--repeat"
        assert args[args.index(n) + 1] == "3", name
        assert "--no-write" not in args, name
    # the mix stage as make run and Airflow run it (warm server), at 16.8 MB and at SIZE
    assert "--warm" in full["tokenize"] and "--cold" in full["tokenize"]
    big = full["tokenize-200"]
    assert "--warm" in big and big[big.index("--mb") + 1] == "200"
    assert "--write" in full["tokenize"] and full["scaling"][-1] == "--no-peer"
    warm = full["pipeline-warm"]
    assert "--warm" in warm and warm[warm.index("--mb") + 1] == f"{R.WARM_MB:g}"
    quick = R.plan(200, 1, 1, scale=(1000,), quick=True)
    assert "scaling" not in dict(quick)
    for name, args in quick:
        if "--mb" in args:
            assert args[args.index("--mb") + 1] == f"{R.QUICK_MB:g}", name
        assert ("--no-write" in args) or (name == "tokenize" and "--write" not in args), name


def test_quick_results_are_kept_apart_from_the_full_runs(tmp_path):
    (tmp_path / "pii-results.json").write_text('{"full": 1}')
    (tmp_path / "code-results.json").write_text('{"full": 2}')
    with R._quick_results(tmp_path):
        (tmp_path / "pii-results.json").write_text('{"quick": 1}')
        (tmp_path / "pipeline-results-mb2-seed0.json").write_text('{"quick": 2}')
    assert (tmp_path / "pii-results.json").read_text() == '{"full": 1}'
    assert (tmp_path / "pii-results.quick.json").read_text() == '{"quick": 1}'
    assert not (tmp_path / "pipeline-results-mb2-seed0.json").exists()
    assert (tmp_path / "pipeline-results-mb2-seed0.quick.json").exists()
    assert (tmp_path / "code-results.json").read_text() == '{"full": 2}'  # untouched
    assert not (tmp_path / "code-results.quick.json").exists()
    (tmp_path / "english-budget-mb2.json").write_text("{}")
    with R._quick_results(tmp_path):  # another benchmark's file is left alone
        (tmp_path / "english-budget-mb2.json").write_text('{"other": 1}')
    assert (tmp_path / "english-budget-mb2.json").read_text() == '{"other": 1}'


def test_code_floor_reads_exactly_the_files_lmdata_reads(tmp_path):
    """bench_code's floor list comes from lmdata's own selection: binaries by extension, empty
    and oversized files, pruned directories and symlinks are left out; a file lmdata opens and
    then drops (a NUL byte: binary by content) is in, since lmdata read it."""
    from collections import Counter

    from lmdata.config import load_params
    from lmdata.ingest.code import CodeIngestOptions, ingest_sources

    code = importlib.import_module("bench.bench_code")
    cap = load_params(None).ingest_code.max_file_bytes
    root = tmp_path / "repo"
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("print('a')\n")
    (root / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\x00cached")
    (root / "pkg" / "b.txt").write_bytes(b"text\x00with a NUL\n")
    (root / "logo.png").write_bytes(b"\x89PNG" + b"\x00" * 100)
    (root / "empty.py").write_bytes(b"")
    (root / "big.json").write_bytes(b"[" + b"1," * cap + b"1]")
    (root / "link.py").symlink_to(root / "pkg" / "a.py")
    listed = code.files_lmdata_reads([{"uri": str(root), "license_override": "MIT"}])
    paths = sorted(os.path.relpath(p, root) for p, _n in listed)
    assert paths == ["pkg/a.py", "pkg/b.txt"]
    counters = Counter()
    opts = CodeIngestOptions(max_file_bytes=cap)
    for _ in ingest_sources([str(root)], opts, counters=counters):
        pass
    assert sum(n for _p, n in listed) == counters["bytes_read"]
