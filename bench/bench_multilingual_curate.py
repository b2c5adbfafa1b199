"""Benchmark (not a test): multilingual curation, lmdata vs datatrove running FineWeb-2's recipes.

    python -m bench.bench_multilingual_curate --mb 50     # builds/reuses the corpus, 2 run pairs
    python -m bench.bench_multilingual_curate --mb 5 --repeat 1 --no-write   # a quick check

Issue 17, item 8. Corpus: ``bench/multilingual_corpus.py --mb N`` (seed 0): >= N MiB of
compressed WET, documents resampled from the real Leipzig web sentences of every Lingua language
lid.176 knows whose datatrove word tokenizer works offline (the others are left out of BOTH sides
and listed), uniform over languages; 80% clean documents, 20% spam (one line repeated, word
lists, menus), gold language and kind in the URL.

Side by side, same input bytes, same machine, order alternated (lmdata first in odd runs,
datatrove first in even runs):

- lmdata: ``.venv/bin/lmdata ingest-cc`` + ``lmdata curate --source web`` on a fresh lake,
  ``--set spark.master=local[W]``, with the repository's params.yaml restricted to the filters
  FineWeb-2 runs: the ``lid_*``, ``gopher_repetition_*``, ``fineweb_*`` and ``gopher_quality_*``
  entries of the default ``curate.web.pipeline`` (whatever versions it names today, with their
  settings), normalize / repeated_lines / decontam / paragraph_dedup / substring_dedup off
  (datatrove's pipeline has none of them).
- datatrove 0.10.1 (``bench/datatrove_fineweb2.py`` in ``bench/out/datatrove-venv``):
  WarcReader -> LanguageFilter (ft176, the same lid.176.ftz) -> per language, FineWeb-2's
  ``language_score`` threshold + GopherRepetitionFilter + FineWebQualityFilter +
  GopherQualityFilter configured exactly as ``fineweb-2-pipeline.py`` step 5 from
  ``../shared/data/fineweb2-language-configs/configs/<code3>_<script>.yml``, each with
  datatrove's own word tokenizer for the language -> JsonlWriter. English: the same three
  filters with datatrove's (FineWeb English) defaults. LocalPipelineExecutor, tasks = WET files,
  workers = W.

Measured per side as one process tree (``bench._measure.run_tree``: wall, user+sys CPU seconds of
every process in the tree, peak RSS); lmdata's figures are ingest-cc + curate summed (datatrove
reads the WET inside its pipeline), curate alone is shown too. Ratio reported: datatrove CPU s /
lmdata CPU s (goal >= 3x), and MB/s per core (MiB of compressed WET / CPU seconds). Each side's
kept documents are joined back to the gold kinds (clean kept, spam dropped).

English row: lmdata's curate CPU seconds per GB on bench/corpus.py's English-dominant corpus
(``--en-mb``, same params), kept in ``bench/out/multilingual-curate-english-history.json`` so a
later run shows the change against the first recorded run of the same size (a regression > 15%
is flagged).

Raw results: ``bench/out/multilingual-curate-mb<N>-seed<S>.json``; rewrites the BENCHMARKS.md
section "Multilingual curate vs datatrove (FineWeb-2 recipes)".
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench import _measure as M
from bench import corpus as corpus_mod
from bench import eval_multilingual as ev
from bench import multilingual_corpus as mc

SECTION = "Multilingual curate vs datatrove (FineWeb-2 recipes)"
PEER_VENV = M.OUT / "datatrove-venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
PEER_SCRIPT = M.REPO / "bench" / "datatrove_fineweb2.py"
CONFIGS = ev.FW2 / "configs"
PREFIXES = ("lid_", "gopher_repetition_", "fineweb_", "gopher_quality_")
EN_HISTORY = M.OUT / "multilingual-curate-english-history.json"
# datatrove's per-language word tokenizers (assets/tokenizer_assignment.csv); KiwiTokenizer
# asks for kiwipiepy's "sbg" model, which kiwipiepy >= 0.22 no longer ships. stanza is left out:
# its models come from a hub these machines cannot reach.
PEER_EXTRAS = ["jieba", "sudachipy", "sudachidict-core", "kiwipiepy<0.22", "kiwipiepy-model<0.22",
               "pythainlp", "indic-nlp-library", "pyvi", "pyyaml"]  # fmt: skip
GB = 1e9

_PROBE = r"""
import json, sys
from datatrove.utils.word_tokenizers import load_word_tokenizer
out = {}
for key, text in json.loads(sys.argv[1]).items():
    try:
        words = load_word_tokenizer(key).word_tokenize(text)
        out[key] = "ok" if words else "no words"
    except BaseException as e:  # noqa: BLE001
        out[key] = f"{type(e).__name__}: {str(e)[:200]}"
print(json.dumps(out))
"""


# --------------------------------------------------------------------------- setup


def peer_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{PEER_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(HF_HUB_OFFLINE="1", DATATROVE_COLORIZE_LOGS="0", TQDM_DISABLE="1")
    return env


def ensure_peer_extras() -> None:
    """pip-install the per-language word tokenizers into the datatrove venv (a venv made by an
    older `make bench/out/datatrove-venv/bin/python` lacks them; quick when satisfied)."""
    subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", *PEER_EXTRAS], check=True,
                   env=peer_env())  # fmt: skip


def routes_for(langs: list[str]) -> dict[str, str]:
    """lid.176 label -> FineWeb-2 key (``en`` -> "en": FineWeb English defaults)."""
    out = {}
    for lang in langs:
        label = ev.LID_LABEL.get(lang, lang)
        out[label] = "en" if lang == "en" else ev.FW2_KEY[lang]
    return out


def probe_tokenizers(langs: list[str], sents: Path) -> dict[str, str]:
    """Which languages' datatrove word tokenizers work here (offline), in the peer venv."""
    sample = {}
    for lang in langs:
        key = "en" if lang == "en" else ev.FW2_KEY[lang]
        sample[key] = mc.load_sentences(sents, [lang])[lang][0]
    r = subprocess.run([str(PEER_PYTHON), "-c", _PROBE, json.dumps(sample)], capture_output=True,
                       text=True, env=peer_env(), timeout=900)  # fmt: skip
    if r.returncode != 0:
        raise RuntimeError(f"tokenizer probe failed: {r.stderr[-3000:]}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    return {lang: res["en" if lang == "en" else ev.FW2_KEY[lang]] for lang in langs}


def bench_params(
    dest: Path, master: str, src: Path = M.REPO / "params.yaml"
) -> tuple[Path, list[str]]:
    """params.yaml with curate.web.pipeline = the default's FineWeb-2 filter families only."""
    import yaml

    params = yaml.safe_load(src.read_text())
    params["spark"]["master"] = master
    web = params["curate"]["web"]
    pipe = {k: v for k, v in (web["pipeline"] or {}).items() if k.startswith(PREFIXES)}
    web["pipeline"] = pipe
    # datatrove's FineWeb-2 step 5 has none of these
    for step in ("normalize", "repeated_lines", "decontam", "paragraph_dedup", "substring_dedup"):
        if step in web:
            web[step] = None
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    return dest, list(pipe)


# --------------------------------------------------------------------------- runs


def _nice(cmd: list[str], nice: int) -> list[str]:
    """Run ``cmd`` at niceness ``nice`` (absolute: a benchmark started under ``nice`` already is
    not pushed further down)."""
    add = nice - os.nice(0)
    return ["nice", "-n", str(add), *cmd] if add > 0 else cmd


def _gold_rates(urls_kept: set[str] | None, urls_all: list[str]) -> dict:
    """clean kept / spam dropped (by kind) on the bench corpus, from the kept URLs."""
    n, k = Counter(), Counter()
    for u in urls_all:
        p = mc.parse_url(u)
        if p:
            n[p[1]] += 1
            k[p[1]] += u in urls_kept
    out = {"clean_kept": k["clean"] / n["clean"] if n["clean"] else None}
    spam_n = sum(n[x] for x in mc.SPAM_KINDS)
    out["spam_dropped"] = 1 - sum(k[x] for x in mc.SPAM_KINDS) / spam_n if spam_n else None
    for x in mc.SPAM_KINDS:
        out[f"{x}_dropped"] = 1 - k[x] / n[x] if n[x] else None
    return out


def run_lmdata(root: Path, crawl: str, n: int, workdir: Path, params: Path, nice: int,
               tag: str = "ml", gold: bool = True,
               server: tuple[str, int] | None = None,
               env_extra: dict[str, str] | None = None) -> dict:  # fmt: skip
    """ingest-cc + curate through the CLI; with ``server`` (url, pid) as thin clients of that
    warm Spark, whose CPU seconds during each step are added to the step's. ``env_extra``: more
    environment for the commands (e.g. PYTHONPATH of an older checkout's ``src``)."""
    if server is not None:
        tag = f"{tag}-warm"
    lake = workdir / f"lmdata-lake-{tag}-{n}"
    shutil.rmtree(lake, ignore_errors=True)
    base = [str(M.VENV_BIN / "lmdata")]
    common = ["--lake", str(lake), "--params", str(params)]
    steps = [
        ("ingest-cc", [*base, "ingest-cc", *common, "--source", str(root), "--crawl", crawl,
                       "--format", "wet", "--run-id", f"bench-{tag}-{n}"]),
        ("curate", [*base, "curate", *common, "--source", "web", "--run-id", f"bench-{tag}-{n}"]),
    ]  # fmt: skip
    out: dict = {"steps": {}, "loadavg_1min": [round(os.getloadavg()[0], 2)]}
    env = M.lmdata_env(**({"LMDATA_SPARK_REMOTE": server[0]} if server else {}),
                       **(env_extra or {}))  # fmt: skip
    for name, cmd in steps:
        with M.ServerCPU(server[1] if server else None) as srv:
            r = M.run_tree(_nice(cmd, nice), workdir / f"lmdata-run-{tag}-{n}" / name, M.REPO,
                           env)  # fmt: skip
        stats = M.lmdata_stats(r, f"lmdata {name}")
        out["steps"][name] = {
            **{k: r[k] for k in ("wall_s", "cpu_s", "tree_peak_rss", "single_peak_rss",
                                 "loadavg_1min")},
            "rows_in": stats.get("rows_in"), "rows_out": stats.get("rows_out"),
        }  # fmt: skip
        if server is not None:  # client + server, as bench_pipeline's warm rows
            out["steps"][name] = M.with_server(out["steps"][name], srv.cpu_s,
                                               srv.sampler.peak_tree)  # fmt: skip
        if name == "curate":
            out["dropped"] = dict(Counter(stats.get("dropped", {})).most_common(12))
        print(f"  lmdata {tag} {name}: {r['wall_s']:.1f} s wall, "
              f"{r['cpu_s'] + srv.cpu_s:.0f} CPU s ({srv.cpu_s:.0f} of them the server's), rows "
              f"{stats.get('rows_in')} -> {stats.get('rows_out')}", flush=True)  # fmt: skip
    st = out["steps"]
    out["wall_s"] = sum(s["wall_s"] for s in st.values())
    out["cpu_s"] = sum(s["cpu_s"] for s in st.values())
    out["tree_peak_rss"] = max(s["tree_peak_rss"] for s in st.values())
    out["docs_in"] = st["ingest-cc"]["rows_out"]
    out["docs_kept"] = st["curate"]["rows_out"]
    out["loadavg_1min"].append(round(os.getloadavg()[0], 2))
    if gold:
        from lmdata.lake import delta

        uri = delta.table_uri(str(lake), "silver/web_attributes")
        rows = delta.read_arrow(uri, columns=["url", "drop_reason"]).to_pylist()
        out["gold"] = _gold_rates({r["url"] for r in rows if r["drop_reason"] is None},
                                  [r["url"] for r in rows])  # fmt: skip
    shutil.rmtree(lake, ignore_errors=True)
    return out


def _corpus_urls(root: Path) -> list[str]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    urls = []
    for p in sorted(root.rglob("*.warc.wet.gz")):
        for rec in ArchiveIterator(
            str(p), record_types=WarcRecordType.conversion, parse_http=False
        ):
            urls.append(rec.headers["WARC-Target-URI"])
    return urls


def run_peer(root: Path, n: int, workers: int, workdir: Path, routes: dict, nice: int,
             urls: list[str]) -> dict:  # fmt: skip
    from bench.bench_pipeline import lid_model

    work = workdir / f"datatrove-work-{n}"
    shutil.rmtree(work, ignore_errors=True)
    cmd = [str(PEER_PYTHON), str(PEER_SCRIPT), "--corpus", str(root), "--work", str(work),
           "--workers", str(workers), "--lid-model", str(lid_model()), "--configs", str(CONFIGS),
           "--routes", json.dumps(routes)]  # fmt: skip
    r = M.run_tree(_nice(cmd, nice), workdir / f"datatrove-run-{n}", M.REPO, peer_env())
    if r["rc"] != 0:
        raise RuntimeError(f"datatrove failed (exit {r['rc']}): {' '.join(cmd)}\n"
                           f"--- stderr (tail)\n{r['stderr'][-8000:]}")  # fmt: skip
    line = [x for x in r["stdout"].splitlines() if x.startswith("{")][-1]
    res = json.loads(line)
    kept = set()
    for p in sorted((work / "kept").glob("*.jsonl.gz")):
        with gzip.open(p, "rt", encoding="utf-8") as f:
            for x in f:
                d = json.loads(x)
                kept.add((d.get("metadata") or {}).get("url") or d.get("id"))
    rc = Counter()
    for k, v in res["routes"].items():
        parts = k.split(":", 2)
        if len(parts) == 3:
            rc[parts[2]] += v
        elif parts[-1] == "no_recipe":
            rc["no_recipe"] += v
    out = {
        **{k: r[k] for k in ("wall_s", "cpu_s", "tree_peak_rss", "single_peak_rss",
                             "loadavg_1min")},
        "pipeline_seconds": res["seconds"], "docs_kept": len(kept),
        "dropped": dict(rc.most_common(12)), "gold": _gold_rates(kept, urls),
    }  # fmt: skip
    print(f"  datatrove: {r['wall_s']:.1f} s wall, {r['cpu_s']:.0f} CPU s, kept {len(kept)}",
          flush=True)  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return out


def english_row(a, workdir: Path, params: Path) -> dict:
    root = corpus_mod.build(a.en_mb, 0, M.OUT, log=lambda s: print(s, flush=True), file_mb=10)
    meta = json.loads((root / "corpus.json").read_text())
    r = run_lmdata(root, corpus_mod.CRAWL, 1, workdir, params, a.nice, tag="en", gold=False)
    gb = meta["compressed_bytes"] / GB
    cur = r["steps"]["curate"]
    row = {
        "stamp": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "git": ev._git(),
        "corpus": str(root.relative_to(M.REPO)), "mb": a.en_mb, "gb": gb,
        "docs_in": r["docs_in"], "docs_kept": r["docs_kept"],
        "curate_cpu_s": cur["cpu_s"], "curate_wall_s": cur["wall_s"],
        "curate_cpu_s_per_gb": cur["cpu_s"] / gb, "ingest_cpu_s": r["steps"]["ingest-cc"]["cpu_s"],
        "loadavg_1min": cur["loadavg_1min"], "filters": a.filters, "label": a.label,
    }  # fmt: skip
    hist = json.loads(EN_HISTORY.read_text()) if EN_HISTORY.exists() else []
    hist.append(row)
    EN_HISTORY.write_text(json.dumps(hist, indent=1) + "\n")
    return row


# --------------------------------------------------------------------------- report


def _med(runs: list[dict], key: str) -> float:
    return M.median_of(runs, key)


def report(raw: dict) -> str:
    meta, lms, pes = raw["meta"], raw["lmdata"], raw["peer"]
    mib_in = meta["compressed_bytes"] / M.MIB
    gb = meta["compressed_bytes"] / GB
    w = raw["workers"]
    lines = [
        "| run | wall s (median) | CPU s (median) | CPU s per GB | MB/s per core (MiB WET / CPU s) "
        "| peak RSS (median) | docs kept | clean kept | spam dropped |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def row(name, runs, cpu_key="cpu_s", wall_key="wall_s"):
        c = M.median_of(runs, cpu_key)
        g = runs[0].get("gold") or {}
        return (f"| {name} | {M.median_of(runs, wall_key):,.1f} | {c:,.0f} | {c / gb:,.0f} | "
                f"{mib_in / c:.3f} | {M.mib(M.median_of(runs, 'tree_peak_rss'))} | "
                f"{runs[0]['docs_kept']:,} | {ev._p(g.get('clean_kept'))} | "
                f"{ev._p(g.get('spam_dropped'))} |")  # fmt: skip

    lines.append(row(f"lmdata ingest-cc + curate (`local[{w}]`)", lms))
    cur = [{**r["steps"]["curate"], "docs_kept": r["docs_kept"], "gold": r.get("gold")}
           for r in lms]  # fmt: skip
    lines.append(row("lmdata curate alone", cur))
    warm = raw.get("lmdata_warm") or []
    if warm:
        lines.append(row("lmdata ingest-cc + curate, warm Spark server (clients + server CPU)",
                         warm))  # fmt: skip
        wcur = [{**r["steps"]["curate"], "docs_kept": r["docs_kept"], "gold": r.get("gold")}
                for r in warm]  # fmt: skip
        lines.append(row("lmdata curate alone, warm Spark server", wcur))
    if pes:
        lines.append(row(f"datatrove 0.10.1 FineWeb-2 recipes (workers={w})", pes))
    lines.append("")
    if pes:
        pc, lc, cc_ = _med(pes, "cpu_s"), _med(lms, "cpu_s"), M.median_of(cur, "cpu_s")
        pw, lw = _med(pes, "wall_s"), _med(lms, "wall_s")
        ok = "meets" if pc / lc >= 3 else "**misses**"
        lines += [
            f"**datatrove CPU s / lmdata CPU s = {pc / lc:.2f}x** (ingest + curate; goal >= 3x: "
            f"{ok} it); against curate alone {pc / cc_:.2f}x; wall {pw / lw:.2f}x. Medians of "
            f"{len(lms)} run pair(s), order alternated.",
            "",
        ]
        if warm:
            wc = _med(warm, "cpu_s")
            ok = "meets" if pc / wc >= 3 else "**misses**"
            lines += [
                f"**On the warm Spark server (`lmdata.spark.connect`, what `make run` and "
                f"Airflow use): datatrove CPU s / lmdata CPU s = {pc / wc:.2f}x** (goal >= 3x: "
                f"{ok} it); curate alone {pc / M.median_of(wcur, 'cpu_s'):.2f}x; wall "
                f"{pw / _med(warm, 'wall_s'):.2f}x. The server's start "
                f"({raw.get('server_start_s', 0):.1f} s wall) is paid once per server, not "
                "counted; its CPU during each step is.",
                "",
            ]
    order = []
    for i, (a_, b_) in enumerate(zip(lms, pes, strict=False), 1):
        first = "lmdata" if i % 2 else "datatrove"
        order.append(f"#{i} ({first} first): lmdata {a_['wall_s']:.0f} s / {a_['cpu_s']:.0f} "
                     f"CPU s (load {a_['loadavg_1min'][0]}->{a_['loadavg_1min'][1]}), datatrove "
                     f"{b_['wall_s']:.0f} s / {b_['cpu_s']:.0f} CPU s (load "
                     f"{b_['loadavg_1min'][0]}->{b_['loadavg_1min'][1]})")  # fmt: skip
    langs = meta["langs"]
    lines += [
        f"Corpus: `{meta['root']}` (`python -m bench.multilingual_corpus --out bench/out --mb "
        f"{meta['mb']:g}`, seed {meta['seed']}): {meta['n_files']} WET files, {mib_in:,.1f} MiB "
        f"compressed, {meta['payload_bytes'] / M.MIB:,.1f} MiB payload, "
        f"{meta['conversion_records']:,} documents in {len(langs)} languages ({', '.join(langs)}); "
        "kinds " + ", ".join(f"{k} {v:,}" for k, v in meta["kinds"].items()) + ".",
    ]  # fmt: skip
    if raw.get("excluded"):
        lines.append(
            "Left out of both sides (datatrove's word tokenizer for them does not work offline "
            "here): " + "; ".join(f"{k} ({v})" for k, v in raw["excluded"].items()) + "."
        )
    lines += [
        f"lmdata filters (from params.yaml's default pipeline): {', '.join(raw['filters'])}; "
        "normalize, repeated_lines, decontam, paragraph_dedup, substring_dedup off. datatrove: LanguageFilter (ft176, same "
        "lid.176.ftz) -> per language FineWeb-2's language_score, GopherRepetitionFilter, "
        "FineWebQualityFilter, GopherQualityFilter as in fineweb-2-pipeline.py step 5 with "
        "its per-language word tokenizers (English: FineWeb's defaults), one router step.",
        f"Dropped (first run), lmdata: {json.dumps(lms[0].get('dropped', {}))}"
        + (f"; datatrove: {json.dumps(pes[0].get('dropped', {}))}." if pes else "."),
    ]
    if order:
        lines.append("Runs: " + "; ".join(order) + ".")
    en = raw.get("english")
    if en:
        hist = json.loads(EN_HISTORY.read_text()) if EN_HISTORY.exists() else []
        same = [h for h in hist if h["mb"] == en["mb"]]  # the baseline: labelled, else first
        base = next((h for h in same if h.get("label")), same[0] if same else en)
        lines += [
            "",
            "| English-only curate (bench/corpus.py) | corpus | docs in -> kept | curate CPU s "
            "| curate CPU s per GB | vs baseline |",
            "|---|---|---|---|---|---|",
        ]
        for h in same if same else [en]:  # every recorded run at this size, oldest first
            ch = h["curate_cpu_s_per_gb"] / base["curate_cpu_s_per_gb"] - 1
            flag = " **REGRESSION > 15%**" if ch > 0.15 else ""
            what = (
                "baseline: " + h["label"]
                if h is base and h.get("label")
                else ("this run" if h["stamp"] == en["stamp"] else "run")
            )
            lines.append(
                f"| {what} ({h['stamp']}, git {h['git']}; {', '.join(h['filters'])}) | "
                f"`{h['corpus']}` ({h['gb']:.3f} GB) | {h['docs_in']:,} -> {h['docs_kept']:,} | "
                f"{h['curate_cpu_s']:,.0f} | {h['curate_cpu_s_per_gb']:,.0f} | "
                f"{'baseline' if h is base else f'{ch:+.1%}{flag}'} |"
            )  # fmt: skip
    m = raw["machine"]
    lines += [
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, shared with other "
        "sessions' Spark tests (both sides under `nice`); CPU seconds are the steadier figure.",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_multilingual_curate",
                                description=__doc__.split("\n")[0])  # fmt: skip
    p.add_argument("--mb", type=float, default=50, help="MiB of compressed multilingual WET")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=2, help="run pairs (order alternates)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--en-mb", type=float, default=20, help="English corpus size (bench/corpus.py)")
    p.add_argument("--no-english", action="store_true", help="skip the English-only row")
    p.add_argument("--no-peer", action="store_true", help="lmdata only")
    p.add_argument(
        "--english-only", action="store_true", help="only the English row (appended to the history)"
    )
    p.add_argument(
        "--label",
        default=None,
        help="with --english-only: mark this run as the baseline (e.g. 'before #17')",
    )
    p.add_argument(
        "--params",
        type=Path,
        default=M.REPO / "params.yaml",
        help="the params.yaml whose default pipeline is benchmarked",
    )
    p.add_argument("--warm", action="store_true",
                   help="also run lmdata as clients of one warm Spark Connect server")  # fmt: skip
    p.add_argument("--nice", type=int, default=10, help="run both sides under nice -n N")
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    p.add_argument("--from-json", type=Path, help="re-render the section from a raw results file")
    a = p.parse_args(argv)
    if a.from_json:
        raw = json.loads(a.from_json.read_text())
        md = report(raw)
        print(md)
        if not a.no_write:
            M.replace_section(
                SECTION, f"`{raw['command']}` ({raw['stamp']})\n\n{md}", before="Scaling"
            )
        return 0
    if not PEER_PYTHON.exists() and not a.no_peer:
        raise SystemExit(f"{PEER_PYTHON} not found: `make bench/out/datatrove-venv/bin/python`, "
                         f"then {PEER_PYTHON.parent}/pip install {' '.join(PEER_EXTRAS)}")  # fmt: skip
    if a.english_only:
        workdir = M.OUT / "multilingual-curate-work"
        params, a.filters = bench_params(workdir / "params-en.yaml", f"local[{a.workers}]",
                                         a.params)  # fmt: skip
        row = english_row(a, workdir, params)
        print(json.dumps(row, indent=1))
        return 0
    sents = mc.DEFAULT_SENTENCES
    langs = [x for x in mc.available_languages(sents) if x not in ev.NOT_IN_LID176]
    excluded = {}
    if not a.no_peer:
        ensure_peer_extras()
        print("probing datatrove's word tokenizers ...", flush=True)
        probe = probe_tokenizers(langs, sents)
        excluded = {
            x: v + ("; stanza fetches its models from a hub these machines cannot reach"
                    if "stanza" in v else "")
            for x, v in probe.items() if v != "ok"
        }  # fmt: skip
        langs = [x for x in langs if x not in excluded]
        for x, v in excluded.items():
            print(f"  excluded {x} ({ev.FW2_KEY.get(x)}): {v}", flush=True)
    root = mc.build_bench(a.mb, a.seed, M.OUT, langs=langs, log=lambda s: print(s, flush=True))
    meta = json.loads((root / "corpus.json").read_text())
    meta["root"] = str(root.relative_to(M.REPO))
    workdir = M.OUT / "multilingual-curate-work"
    params, a.filters = bench_params(workdir / "params.yaml", f"local[{a.workers}]", a.params)
    routes = routes_for(langs)
    urls = _corpus_urls(root)
    for f in root.rglob("*.wet.gz"):  # warm the page cache for both sides
        f.read_bytes()
    cmd = (
        f"python -m bench.bench_multilingual_curate --mb {a.mb:g}"
        + (f" --repeat {a.repeat}" if a.repeat != 2 else "")
        + (" --no-peer" if a.no_peer else "")
        + (" --warm" if a.warm else "")
    )
    raw = {
        "command": cmd, "stamp": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "git": ev._git(), "machine": M.machine(("pyspark", "deltalake")), "meta": meta,
        "workers": a.workers, "filters": a.filters, "excluded": excluded, "routes": routes,
        "lmdata": [], "peer": [], "lmdata_warm": [],
        "order": "order rotated (each side first in turn)",
    }  # fmt: skip
    out_json = M.OUT / f"multilingual-curate-mb{a.mb:g}-seed{a.seed}.json"
    if not a.no_english:  # first: a long run stopped early still has it
        print(f"English-only curate on bench/corpus.py --mb {a.en_mb:g} ...", flush=True)
        raw["english"] = english_row(a, workdir, params)
        out_json.write_text(json.dumps(raw, indent=1) + "\n")
    server = None
    if a.warm:
        url, pid, secs = M.start_server(workdir, params)
        server, raw["server_start_s"] = (url, pid), round(secs, 2)
        print(f"warm Spark server at {url} in {secs:.1f} s", flush=True)
    sides = ["lmdata", *(["warm"] if a.warm else []), *([] if a.no_peer else ["peer"])]
    try:
        for i in range(1, a.repeat + 1):
            k = (i - 1) % len(sides)  # rotate the order: each side goes first in turn
            for side in sides[k:] + sides[:k]:
                print(f"{side} #{i} (load {os.getloadavg()[0]:.1f}) ...", flush=True)
                if side == "lmdata":
                    raw["lmdata"].append(run_lmdata(root, mc.CRAWL, i, workdir, params, a.nice))
                elif side == "warm":
                    raw["lmdata_warm"].append(run_lmdata(root, mc.CRAWL, i, workdir, params,
                                                         a.nice, server=server))  # fmt: skip
                else:
                    raw["peer"].append(run_peer(root, i, a.workers, workdir, routes, a.nice, urls))
            out_json.write_text(json.dumps(raw, indent=1) + "\n")
    finally:
        if server is not None:
            from lmdata.spark import connect

            connect.stop(workdir / "spark-connect")
    md = report(raw)
    print()
    print(md)
    print(f"\nraw results: {out_json}")
    if not a.no_write:
        M.replace_section(
            SECTION, f"`{cmd}` ({raw['stamp']}; git {raw['git']})\n\n{md}", before="Scaling"
        )
        print(f"wrote {M.BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
