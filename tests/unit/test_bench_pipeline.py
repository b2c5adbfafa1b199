"""bench/bench_pipeline.py --warm (and bench/_measure.with_server, which it shares with the
multilingual bench): a step's figures as a thin client of the warm server, where its
raw results go (apart from the cold Scaling inputs) and what its table says."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # bench/ is a directory of the repository, not an installed package
    sys.path.insert(0, str(REPO))
B = importlib.import_module("bench.bench_pipeline")
M = importlib.import_module("bench._measure")


def test_with_server_adds_the_servers_cpu_and_memory_and_keeps_the_parts():
    step = {"wall_s": 10.0, "cpu_s": 2.5, "tree_peak_rss": 100, "rows_out": 7}
    got = M.with_server(step, 11.25, 900)
    assert got["cpu_s"] == 13.75 and got["client_cpu_s"] == 2.5 and got["server_cpu_s"] == 11.25
    assert got["tree_peak_rss"] == 1000
    assert (got["client_peak_rss"], got["server_peak_rss"]) == (100, 900)
    assert got["wall_s"] == 10.0 and got["rows_out"] == 7
    assert step["cpu_s"] == 2.5  # the input is left as it was


def _run(wall: float, cpu: float, server: float | None = None) -> dict:
    steps = {}
    for k, share in (("ingest-cc", 0.25), ("curate", 0.5), ("dedup", 0.25)):
        s = {"wall_s": wall * share, "cpu_s": cpu * share, "tree_peak_rss": 1 << 30,
             "rows_out": 10}  # fmt: skip
        steps[k] = M.with_server(s, server * share, 1 << 30) if server is not None else s
    return {"steps": steps, "wall_s": wall, "cpu_s": cpu + (server or 0), "loadavg_1min": [1, 2],
            "tree_peak_rss": 2 << 30, "single_peak_rss": 1 << 30, "docs_in": 100,
            "docs_filtered": 50, "docs_out": 40, "tokens": None}  # fmt: skip


def test_warm_results_file_is_apart_from_the_scaling_inputs(tmp_path):
    cold, warm = B.results_path(24, 0, False, tmp_path), B.results_path(24, 0, True, tmp_path)
    assert cold.name == "pipeline-results-mb24-seed0.json" and warm != cold
    meta = {"compressed_bytes": 25_000_000, "mb": 24}
    for path, wall in ((cold, 100.0), (warm, 40.0)):
        path.write_text(json.dumps({"meta": meta, "lmdata": [_run(wall, 50.0)],
                                    "peer": [], "stamp": "s", "tokenize": False}))  # fmt: skip
    pts = B.scaling_points(tmp_path)
    assert [p["lw"] for p in pts] == [100.0]  # the warm run does not replace the cold row


def test_report_names_the_warm_server_and_medians_its_cpu():
    meta = {"compressed_bytes": 25_000_000, "payload_bytes": 50 << 20, "mb": 24, "seed": 0,
            "root": "bench/out/x", "n_files": 1, "conversion_records": 100, "kinds": {"en": 100},
            "server_start_s": 5.04}  # fmt: skip
    lms = [_run(40.0, 4.0, 36.0), _run(60.0, 4.0, 56.0), _run(50.0, 4.0, 40.0)]
    peer = {"wall_s": 200.0, "cpu_s": 180.0, "tree_peak_rss": 1 << 30, "single_peak_rss": 1 << 29,
            "loadavg_1min": [1, 1], "stage_seconds": {"filter": 150.0}, "docs_filtered": 50,
            "docs_out": 40, "tokens": None}  # fmt: skip
    mach = {"cpu": "c", "cores": 2, "memory_gib": 1, "os": "o"}
    text = B.report(meta, lms, [peer] * 3, False, 2, mach)
    assert "thin clients of one warm Spark Connect server" in text
    assert "started once in 5.0 s" in text
    assert "curate 20.0" in text  # median server CPU of curate: 0.5 x (36, 56, 40) -> 20.0
    assert "| wall time, median (best) | 0.25x (0.20x) |" in text  # 50 / 200 (40 / 200)
    assert "| CPU seconds, median | 0.24x |" in text  # (4 + 40) / 180
    cold = B.report({**meta, "server_start_s": None}, [_run(50.0, 44.0)], [peer], False, 2, mach)
    assert "warm" not in cold.lower().split("what differs")[0]
