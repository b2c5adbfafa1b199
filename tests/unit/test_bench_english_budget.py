"""bench/bench_english_budget.py: the *_v1 params it derives and its table (medians, verdicts
against the 15% budget)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # bench/ is a directory of the repository, not an installed package
    sys.path.insert(0, str(REPO))
B = importlib.import_module("bench.bench_english_budget")


def _run(curate_cpu: float, load: float = 1.0) -> dict:
    return {
        "steps": {
            "curate": {"cpu_s": curate_cpu, "wall_s": curate_cpu / 2},
            "ingest-cc": {"cpu_s": 10.0, "wall_s": 5.0},
        },
        "docs_in": 100,
        "docs_kept": 60,
        "loadavg_1min": [load, load + 1],
    }


def test_v1_params_swap_every_language_aware_filter(tmp_path: Path) -> None:
    src = tmp_path / "p.yaml"
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["curate"]["web"]["languages"] = {"zh": {"gopher_quality_v2": {"min_stop_word_count": 1}}}
    src.write_text(yaml.safe_dump(params, sort_keys=False))
    out = yaml.safe_load(B.v1_params(src, tmp_path / "v1.yaml").read_text())
    pipe = list(out["curate"]["web"]["pipeline"])
    assert not [k for k in pipe if k.endswith("_v2") or k.startswith("lid_cascade")]
    assert {"lid_fasttext_v1", "gopher_quality_v1", "fineweb_v1"} <= set(pipe)
    assert out["curate"]["web"]["languages"] == {}  # per-language overrides name v2 filters
    assert pipe.index("lid_fasttext_v1") < pipe.index("gopher_quality_v1")  # order kept


def test_report_takes_medians_and_judges_the_budget() -> None:
    raw = {
        "gb": 0.02,
        "corpus": "bench/out/x",
        "mb": 20,
        "sides": {
            "baseline": [_run(40), _run(50), _run(100)],  # median 50, not the mean
            "current": [_run(60), _run(58), _run(59)],  # +18%: over
            "warm": [_run(55), _run(54), _run(56)],  # +10%: within
        },
        "labels": {"baseline": "before", "current": "cold", "warm": "warm"},
        "code": {"baseline": "git a", "current": "git b", "warm": "git b"},
        "filters": {"baseline": ["lid_fasttext_v1"], "current": ["lid_cascade_v2"]},
        "order": [["baseline", "current", "warm"]],
    }
    md = B.report(raw)
    rows = {line.split(" | ")[0].strip("| "): line for line in md.splitlines()[2:5]}
    assert "| 50.0 |" in rows["before"] and "reference" in rows["before"]
    assert "+18.0% (**over** the 15% budget)" in rows["cold"]
    assert "+10.0% (within the 15% budget)" in rows["warm"]
    assert "2,500" in rows["before"]  # CPU s per GB = 50 / 0.02
    assert "1-min load during the runs: 1.00-2.00" in md
