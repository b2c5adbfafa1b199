"""English-only curate budget (issue 17 item 8): the current code against the code before
language-aware curation, side by side in one run.

    python -m bench.bench_english_budget [--baseline-rev 03d4b2a] [--repeat 3] [--warm]

The baseline is the repository at ``--baseline-rev`` (``git archive`` of ``src`` and
``params.yaml`` into ``bench/out``), run from the same venv with ``PYTHONPATH`` pointing at its
``src`` (the venv's editable install comes after ``PYTHONPATH``; Spark's Python workers inherit
it). Both sides run ``lmdata ingest-cc`` + ``lmdata curate --source web`` through the CLI on the
same English Common Crawl-like corpus (``bench/corpus.py``), each with its own params.yaml
reduced to the language-ID + Gopher + FineWeb filter families (as the multilingual benchmark).
Sides alternate (the order rotates each round); medians of the rounds. ``--warm`` adds the
current code as thin clients of one warm Spark Connect server (what ``make run`` and Airflow
use; its process tree's CPU during each command is counted).

The budget: the current English-only curate CPU seconds per GB within 15% of the baseline's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tarfile
import time
from io import BytesIO
from pathlib import Path

from bench import _measure as M
from bench import bench_multilingual_curate as mlc
from bench import corpus as corpus_mod

SECTION = "English-only curate budget (issue 17)"
GB = 1e9
BUDGET = 0.15


def baseline_checkout(rev: str) -> Path:
    """``src`` and ``params.yaml`` of ``rev`` under bench/out (reused when present)."""
    sha = subprocess.run(["git", "rev-parse", "--short=12", rev], cwd=M.REPO, check=True,
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    dest = M.OUT / f"baseline-{sha}"
    if (dest / "params.yaml").exists():
        return dest
    blob = subprocess.run(["git", "archive", "--format=tar", sha, "src", "params.yaml"],
                          cwd=M.REPO, check=True, capture_output=True).stdout  # fmt: skip
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    return dest


#: the language-aware filters -> their English-only predecessors
V1_NAMES = {
    "lid_cascade_v2": "lid_fasttext_v1", "lid_cascade_v1": "lid_fasttext_v1",
    "lid_fasttext_v2": "lid_fasttext_v1", "gopher_repetition_v2": "gopher_repetition_v1",
    "gopher_quality_v2": "gopher_quality_v1", "c4_v2": "c4_v1", "fineweb_v2": "fineweb_v1",
}  # fmt: skip


def v1_params(src: Path, dest: Path) -> Path:
    """``src`` params.yaml with every language-aware web filter replaced by its *_v1 form."""
    import yaml

    params = yaml.safe_load(src.read_text())
    web = params["curate"]["web"]
    web["pipeline"] = {V1_NAMES.get(k, k): v for k, v in web["pipeline"].items()}
    web["languages"] = {}
    dest.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    return dest


def _step(run: dict, name: str, key: str) -> float:
    return run["steps"][name][key]


def _med(runs: list[dict], name: str, key: str) -> float:
    """Median over ``runs`` of one step's figure (M.median_of reads a top-level key)."""
    return M.median_of([{"v": _step(r, name, key)} for r in runs], "v")


def report(raw: dict) -> str:
    gb = raw["gb"]
    sides = raw["sides"]
    ref = "baseline" if sides.get("baseline") else "current"
    base = _med(sides[ref], "curate", "cpu_s")
    lines = [
        "| side | code | runs | curate CPU s (median) | per run | curate CPU s per GB | vs reference "
        "| curate wall s (median) | ingest CPU s (median) | docs in -> kept |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for side, label in raw["labels"].items():
        runs = sides.get(side) or []
        if not runs:
            continue
        cpu = _med(runs, "curate", "cpu_s")
        wall = _med(runs, "curate", "wall_s")
        ing = _med(runs, "ingest-cc", "cpu_s")
        ch = cpu / base - 1
        verdict = "reference" if side == ref else (
            f"{ch:+.1%}" + (f" ({'within' if ch <= BUDGET else '**over**'} the 15% budget)"
                            if ref == "baseline" else ""))  # fmt: skip
        per = ", ".join(f"{_step(r, 'curate', 'cpu_s'):.0f}" for r in runs)
        lines.append(
            f"| {label} | {raw['code'][side]} | {len(runs)} | {cpu:.1f} | {per} | {cpu / gb:,.0f} "
            f"| {verdict} | {wall:.1f} | {ing:.1f} | {runs[0]['docs_in']:,} -> "
            f"{runs[0]['docs_kept']:,} |"
        )
    loads = [x for rs in sides.values() for r in rs for x in r["loadavg_1min"]]
    lines += [
        "",
        f"Corpus: `{raw['corpus']}` ({raw['mb']:g} MiB asked, {gb:.3f} GB compressed WET). "
        f"1-min load during the runs: {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} "
        "cores. CPU = user+sys of every process of the command (and of the warm server's "
        "process tree during it). Filters: baseline "
        f"{', '.join(raw['filters'].get('baseline', []))}; current "
        f"{', '.join(raw['filters']['current'])}.",
        "Order per round: " + "; ".join(f"#{i + 1}: {' -> '.join(o)}"
                                        for i, o in enumerate(raw["order"])) + ".",
    ]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline-rev", default="03d4b2a",
                   help="the code before issue 17 (default: 03d4b2a)")  # fmt: skip
    p.add_argument("--repeat", type=int, default=3, help="rounds (the order rotates)")
    p.add_argument("--mb", type=float, default=20, help="MiB of English WET (bench/corpus.py)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--warm", action="store_true", help="add the current code on a warm server")
    p.add_argument("--v1-filters", action="store_true",
                   help="add the current code with the *_v1 (English-only) filters, cold: the "
                   "language-aware filters' own share of the difference")  # fmt: skip
    p.add_argument("--no-baseline", action="store_true", help="leave the old checkout out")
    p.add_argument("--nice", type=int, default=10, help="run every side under nice -n N")
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    p.add_argument("--from-json", type=Path, help="re-render from a results file (no run)")
    a = p.parse_args(argv)
    out_json = M.OUT / f"english-budget-mb{a.mb:g}.json"
    if a.from_json:
        raw = json.loads(a.from_json.read_text())
    else:
        root = corpus_mod.build(a.mb, 0, M.OUT, log=lambda s: print(s, flush=True), file_mb=10)
        meta = json.loads((root / "corpus.json").read_text())
        base_dir = baseline_checkout(a.baseline_rev)
        workdir = M.OUT / "english-budget-work"
        master = f"local[{a.workers}]"
        p_base, f_base = mlc.bench_params(workdir / "params-baseline.yaml", master,
                                          base_dir / "params.yaml")  # fmt: skip
        p_cur, f_cur = mlc.bench_params(workdir / "params-current.yaml", master)
        p_v1 = v1_params(p_cur, workdir / "params-current-v1.yaml")
        sides = [
            *([] if a.no_baseline else ["baseline"]),
            "current",
            *(["current_v1"] if a.v1_filters else []),
            *(["warm"] if a.warm else []),
        ]
        raw = {
            "command": "python -m bench.bench_english_budget"
            + (f" --baseline-rev {a.baseline_rev}" if a.baseline_rev != "03d4b2a" else "")
            + (f" --repeat {a.repeat}" if a.repeat != 3 else "")
            + (f" --mb {a.mb:g}" if a.mb != 20 else "") + (" --warm" if a.warm else "")
            + (" --v1-filters" if a.v1_filters else "")
            + (" --no-baseline" if a.no_baseline else ""),
            "stamp": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "corpus": str(root.relative_to(M.REPO)), "mb": a.mb,
            "gb": meta["compressed_bytes"] / GB,
            "code": {"baseline": f"git {base_dir.name.removeprefix('baseline-')}",
                     **dict.fromkeys(("current", "current_v1", "warm"), f"git {mlc.ev._git()}")},
            "labels": {"baseline": "before issue 17 (one JVM per command)",
                       "current": "current (one JVM per command)",
                       "current_v1": "current code, *_v1 English-only filters (one JVM per command)",
                       "warm": "current, thin clients of a warm Spark server"},
            "filters": {"baseline": f_base, "current": f_cur,
                        "current_v1": [V1_NAMES.get(f, f) for f in f_cur]},
            "sides": {s: [] for s in sides}, "order": [],
        }  # fmt: skip
        for f in root.rglob("*.wet.gz"):  # warm the page cache for every side
            f.read_bytes()
        server = None
        if a.warm:
            url, pid, secs = M.start_server(workdir, p_cur)
            server, raw["server_start_s"] = (url, pid), round(secs, 2)
        try:
            for i in range(a.repeat):
                order = sides[i % len(sides) :] + sides[: i % len(sides)]
                raw["order"].append(order)
                for side in order:
                    print(f"{side} #{i + 1} (load {os.getloadavg()[0]:.1f}) ...", flush=True)
                    kw: dict = {"tag": f"en-{side}", "gold": False}
                    if side == "baseline":
                        kw["env_extra"] = {"PYTHONPATH": str(base_dir / "src")}
                    if side == "warm":
                        kw["server"] = server
                    params = {"baseline": p_base, "current_v1": p_v1}.get(side, p_cur)
                    raw["sides"][side].append(
                        mlc.run_lmdata(root, corpus_mod.CRAWL, i + 1, workdir, params, a.nice,
                                       **kw))  # fmt: skip
                out_json.write_text(json.dumps(raw, indent=1) + "\n")
        finally:
            if server is not None:
                from lmdata.spark import connect

                connect.stop(workdir / "spark-connect")
    md = report(raw)
    print(md)
    if not a.no_write:
        M.replace_section(SECTION, f"`{raw['command']}` ({raw['stamp']})\n\n{md}",
                          before="Scaling")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
