"""Tokenization throughput: the whole `lmdata mix` stage vs raw `tokenizers` in one process.

    .venv/bin/python -m bench.bench_tokenize --mb 16 [--write]

1. Texts: web documents composed from the real texts in ../shared/data (bench.corpus pool:
   Common Crawl / DCLM / article texts in English, Lingua sentences in 74 other languages) and
   the interpreter's standard library `.py` files as code; written as gold-shaped Delta tables
   (gold/web_documents + silver/web_attributes languages, gold/code_files) under bench/out/.
2. A byte-level BPE tokenizer (vocab 32,000) trained once on a 4 MB sample; the mixture spec
   loads it (`tokenizer.path`) and takes every document exactly once (temperature 1).
3. Floor: one process, `Tokenizer.encode_batch` (batches of 2,000) over the same texts, one
   thread (TOKENIZERS_PARALLELISM=false) -> MB/s and tokens/s on one core.
4. lmdata: `lmdata mix --no-dvc` on local[2] (read Delta, measure, sample, shuffle, tokenize in
   2 Python workers, write .bin/.idx, sha256, manifest, card, shards gate); MB/s and tokens/s
   per core = throughput / 2, for the whole stage and for its tokenize+write phase.
Ratio = lmdata per core / floor per core (target >= 0.8).
5. --warm: the same `lmdata mix` as a thin Spark Connect client of one warm server
   (`lmdata.spark.connect`, what `make run`, Airflow and the compose stack use), interleaved
   with the raw floor (--pairs A B pairs, medians); its CPU is the client's process tree plus
   the server's (bench._measure.ServerCPU: driver, JVM, Python worker daemon and workers) during
   the command. The first command on the fresh server is reported apart; --cold adds one cold
   command (its own JVM); --event-log DIR keeps the server's Spark event log (jobs per tag).

    .venv/bin/python -m bench.bench_tokenize --mb 16 --warm --pairs 3 --cold [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from bench._measure import (
    REPO,
    ServerCPU,
    lmdata_env,
    lmdata_stats,
    machine,
    replace_section,
    run_tree,
    save_raw,
    start_server,
)

OUT = REPO / "bench" / "out"
VOCAB = 32000
DEFAULT_MB = 16.0  # 16.8 MB of text: issue 21's first mix target ("Tokenization")
# where a new section of this bench goes in BENCHMARKS.md: before the 200 MiB one (make bench's
# SIZE run, issue 21's second mix target) and Training
SECTIONS_AFTER = ("Tokenization (200 MiB)", "Training")
CORES = 2  # local[2]: the Spark runs' task slots (per core = throughput / 2)


def _texts(mb: float, seed: int) -> dict[str, list[tuple[str, str]]]:
    """source -> [(language, text)]: ~70% English web, ~10% other languages, ~20% code."""
    from bench.corpus import DEFAULT_DATA, load_pool

    rng = random.Random(seed)
    pool = load_pool(DEFAULT_DATA)
    target = int(mb * (1 << 20))
    out: dict[str, list[tuple[str, str]]] = {"web/en": [], "web/other": [], "code/python": []}
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code_files = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)
    rng.shuffle(code_files)
    langs = sorted(pool.sentences)
    size = {"web/en": 0, "web/other": 0, "code/python": 0}
    share = {"web/en": 0.7, "web/other": 0.1, "code/python": 0.2}
    serial = 0
    while sum(size.values()) < target:
        k = min(share, key=lambda s: size[s] / share[s])
        if k == "web/en":
            parts = []
            for _ in range(rng.randint(1, 4)):
                _title, lines, _lang = rng.choice(pool.docs)
                i = rng.randrange(len(lines))
                parts.append("\n".join(lines[i : i + rng.randint(3, 40)]))
            text, lang = "\n\n".join(parts), "en"
        elif k == "web/other":
            lang = rng.choice(langs)
            sents = pool.sentences[lang]
            i = rng.randrange(len(sents))
            text = " ".join(sents[i : i + rng.randint(4, 40)])
        else:
            p = code_files[serial % len(code_files)]
            text, lang = p.read_text(errors="replace"), "python"
        serial += 1
        text = f"{text}\n#{serial}"  # every document unique
        out[k].append((lang, text))
        size[k] += len(text.encode("utf-8"))
    return out


def _build_lake(lake: Path, texts: dict[str, list[tuple[str, str]]]) -> None:
    import hashlib

    import pyarrow as pa

    from lmdata.lake import delta

    web = texts["web/en"] + texts["web/other"]
    ids = [hashlib.sha1(t.encode()).hexdigest() for _, t in web]
    n = len(web)
    delta.write_table(
        str(lake / "gold/web_documents"),
        pa.table(
            {
                "doc_id": ids,
                "source": ["bench"] * n,
                "crawl": ["CC-MAIN-2099-01"] * n,
                "text": [t for _, t in web],
            }
        ),  # fmt: skip
        mode="overwrite",
        partition_by=["crawl"],
    )
    delta.write_table(
        str(lake / "silver/web_attributes"),
        pa.table(
            {
                "doc_id": ids,
                "crawl": ["CC-MAIN-2099-01"] * n,
                "lid_fasttext_v1__lang": [lang for lang, _ in web],
            }
        ),  # fmt: skip
        mode="overwrite",
        partition_by=["crawl"],
    )
    code = [t for _, t in texts["code/python"]]
    m = len(code)
    delta.write_table(
        str(lake / "gold/code_files"),
        pa.table(
            {
                "doc_id": [hashlib.sha1(("c" + t).encode()).hexdigest() for t in code],
                "repo_key": ["stdlib"] * m,
                "language": ["Python"] * m,
                "repo_license": ["PSF-2.0"] * m,
                "text": code,
            }
        ),  # fmt: skip
        mode="overwrite",
        partition_by=["repo_key"],
    )


_RAW = r"""
import json, sys, time
import pyarrow.parquet as pq
from tokenizers import Tokenizer
texts = pq.read_table(sys.argv[1]).column("text").to_pylist()
tok = Tokenizer.from_file(sys.argv[2])
tok.encode_special_tokens = True
best = cpu = None
for _ in range(int(sys.argv[3])):
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for i in range(0, len(texts), 2000):
        for e in tok.encode_batch(texts[i:i + 2000], add_special_tokens=False):
            n += len(e.ids)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    best = dt if best is None else min(best, dt)
    cpu = dc if cpu is None else min(cpu, dc)
print(json.dumps({"seconds": best, "cpu_seconds": cpu, "tokens": n}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=DEFAULT_MB)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2, help="raw runs (best of)")
    ap.add_argument(
        "--mb-small",
        type=float,
        default=8.0,
        help="a second, smaller run: the difference gives the marginal cost (fixed JVM/Spark "
        "start-up costs cancel out)",
    )
    ap.add_argument("--warm", action="store_true",
                    help="lmdata mix as a thin client of one warm Spark Connect server, "
                    "interleaved with the raw floor (--pairs times; medians)")  # fmt: skip
    ap.add_argument("--pairs", type=int, default=3, help="--warm: raw/mix pairs")
    ap.add_argument("--cold", action="store_true", help="--warm: also one cold command")
    ap.add_argument("--event-log", default=None,
                    help="--warm: the server writes Spark's event log to this directory")  # fmt: skip
    ap.add_argument("--write", action="store_true", help="write the BENCHMARKS.md section")
    ap.add_argument("--from-json", default=None, help="only write the section from a result")
    a = ap.parse_args(argv)
    if a.from_json:
        o = json.loads(Path(a.from_json).read_text())
        replace_section(section_title(o.get("mb_arg", a.mb)), _section(o, a),
                        before=SECTIONS_AFTER)  # fmt: skip
        return 0
    if a.warm:
        out = _warm(a)
        print(json.dumps(out, indent=2))
        save_raw(OUT / warm_results_name(a.mb), out)  # for run_all's summary
        if a.write:
            replace_section(section_title(a.mb), _section(out, a),
                            before=SECTIONS_AFTER)  # fmt: skip
        return 0
    out = _one(a.mb, a)
    if a.mb_small:
        small = _one(a.mb_small, a)
        # marginal CPU per MB of the mix stage, between the two sizes
        d_mb = out["mb"] - small["mb"]
        d_cpu = out["mix_cpu_s"] - small["mix_cpu_s"]
        out["small"] = {k: small[k] for k in ("mb", "mix_cpu_s", "mix_stage_s", "raw_cpu_s")}
        out["marginal_mix_mb_per_cpu_s"] = round(d_mb / d_cpu, 3) if d_cpu > 0 else None
        out["ratio_cpu_marginal"] = (
            round(out["marginal_mix_mb_per_cpu_s"] / out["raw_mb_per_cpu_s"], 3)
            if d_cpu > 0
            else None
        )
    print(json.dumps(out, indent=2))
    save_raw(OUT / "tokenize-results.json", out)  # for run_all
    if a.write:
        replace_section(section_title(a.mb), _section(out, a),
                        before=SECTIONS_AFTER)  # fmt: skip
    return 0


def _prepare(mb: float, a) -> dict:
    """The corpus, its gold-shaped lake, the tokenizer, the floor's Parquet file and the spec."""
    work = OUT / f"tokenize-mb{mb:g}-seed{a.seed}"
    lake, specs = work / "lake", work / "specs"
    work.mkdir(parents=True, exist_ok=True)
    texts = _texts(mb, a.seed)
    all_texts = [t for v in texts.values() for _, t in v]
    nbytes = sum(len(t.encode("utf-8")) for t in all_texts)
    print(f"corpus: {len(all_texts)} documents, {nbytes / 1e6:.1f} MB", flush=True)
    if not (lake / "gold/code_files/_delta_log").exists():
        _build_lake(lake, texts)
    tok_path = work / "tokenizer.json"
    if not tok_path.exists():
        from lmdata.tokens.train import train_bpe

        rng = random.Random(a.seed)
        sample, got = [], 0
        for t in rng.sample(all_texts, len(all_texts)):
            if got > 4 << 20:
                break
            sample.append(t)
            got += len(t)
        tok = train_bpe(sample, vocab_size=VOCAB, special_tokens=["<|endoftext|>"])
        tok.save(str(tok_path))
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts_file = work / "texts.parquet"
    pq.write_table(pa.table({"text": all_texts}), texts_file)
    specs.mkdir(exist_ok=True)
    spec = {
        "name": "bench_tok",
        "seed": 1,
        "sources": [
            {"name": "web/en", "table": "gold/web_documents", "languages": ["en"]},
            {"name": "web/other", "table": "gold/web_documents", "exclude_languages": ["en"]},
            {"name": "code/python", "table": "gold/code_files"},
        ],
        "sampling": {"temperature": 1.0},
        "tokenizer": {"path": str(tok_path), "train_sample_bytes": 1_000_000},
        "shards": {"count": 2},
    }
    import yaml

    (specs / "bench_tok.yaml").write_text(yaml.safe_dump(spec))
    return {"work": work, "lake": lake, "specs": specs, "repo": work / "mixtures",
            "tok_path": tok_path, "texts_file": texts_file, "nbytes": nbytes,
            "documents": len(all_texts)}  # fmt: skip


def _raw(p: dict, repeat: int) -> dict:
    """The floor: raw tokenizers, one process, one thread (best of `repeat`)."""
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", RAYON_NUM_THREADS="1")
    raw = subprocess.run(
        [sys.executable, "-c", _RAW, str(p["texts_file"]), str(p["tok_path"]), str(repeat)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    r = json.loads(raw.stdout.strip().splitlines()[-1])
    print(f"raw encode_batch (1 core): {r['seconds']:.1f}s {r['cpu_seconds']:.1f} CPU s "
          f"{p['nbytes'] / 1e6 / r['seconds']:.2f} MB/s {r['tokens'] / r['seconds']:,.0f} tok/s",
          flush=True)  # fmt: skip
    return r


def _mix(p: dict, server: tuple[str, int] | None = None, tag: str = "") -> tuple[dict, dict]:
    """`lmdata mix --no-dvc` on local[2] (run_tree result, LMDATA_STATS); with `server` (url,
    pid) a thin client of that warm Spark: the result's cpu_s adds the server tree's CPU during
    the command (client_cpu_s / server_cpu_s keep the parts)."""
    cmd = [str(REPO / ".venv/bin/lmdata"), "mix", "--mixture", "bench_tok",
           "--spec-dir", str(p["specs"]), "--lake", str(p["lake"]), "--out", str(p["repo"]),
           "--no-dvc", "--run-id", f"bench-{time.time():.0f}"]  # fmt: skip
    if server is None:
        cmd += ["--set", f"spark.master=local[{CORES}]", "--set", "spark.driver_memory=3g"]
    env = lmdata_env(**({"LMDATA_SPARK_REMOTE": server[0]} if server else {}))
    with ServerCPU(server[1] if server else None) as srv:
        res = run_tree(cmd, p["work"] / f"run{tag}", env=env)
    res["client_cpu_s"], res["server_cpu_s"] = res["cpu_s"], srv.cpu_s
    res["server_cpu_by_kind"] = srv.by_kind
    res["cpu_s"] = res["cpu_s"] + srv.cpu_s
    stats = lmdata_stats(res, "lmdata mix")
    print(f"lmdata mix{' (warm)' if server else ''}: {res['wall_s']:.1f} s wall, "
          f"{res['cpu_s']:.1f} CPU s ({srv.cpu_s:.1f} the server's), load "
          f"{res['loadavg_1min']}; server {srv.by_kind}", flush=True)  # fmt: skip
    return res, stats


def _one(mb: float, a) -> dict:
    p = _prepare(mb, a)
    r = _raw(p, a.repeat)
    res, stats = _mix(p)
    return _row(p, r, res, stats)


def _row(p: dict, r: dict, res: dict, stats: dict) -> dict:
    """One raw run + one mix run -> the figures the table prints."""
    nbytes, cores = p["nbytes"], CORES
    raw_mbs, raw_tps = nbytes / 1e6 / r["seconds"], r["tokens"] / r["seconds"]
    tokens = stats["counters"]["tokens"]
    docs = stats["rows_out"]
    assert docs == p["documents"], (docs, p["documents"])
    stage_s = stats["seconds"]
    tw_s = stats["counters"]["ms_tokenize_write"] / 1000
    # tokens in the shards include one end-of-document id per document
    content_tokens = tokens - docs
    whole_mbs = nbytes / 1e6 / stage_s / cores
    # per CPU-second: independent of how busy the (shared) machine is
    raw_mb_cpu = nbytes / 1e6 / r["cpu_seconds"]
    mix_mb_cpu = nbytes / 1e6 / res["cpu_s"]
    tw_mbs = nbytes / 1e6 / tw_s / cores
    out = {
        "mb": round(nbytes / 1e6, 2),
        "documents": docs,
        "tokens_raw": r["tokens"],
        "tokens_lmdata": content_tokens,
        "raw_s": round(r["seconds"], 2),
        "raw_mb_s_core": round(raw_mbs, 3),
        "raw_tok_s_core": round(raw_tps),
        "mix_wall_s": round(res["wall_s"], 1),
        "mix_stage_s": stage_s,
        "mix_phases_ms": {k: v for k, v in stats["counters"].items() if k.startswith("ms_")},
        "mix_mb_s_core": round(whole_mbs, 3),
        "mix_tok_s_core": round(content_tokens / stage_s / cores),
        "tokwrite_mb_s_core": round(tw_mbs, 3),
        "tokwrite_tok_s_core": round(content_tokens / tw_s / cores),
        "ratio_stage": round(whole_mbs / raw_mbs, 3),
        "raw_cpu_s": round(r["cpu_seconds"], 2),
        "mix_cpu_s": round(res["cpu_s"], 2),
        "mix_client_cpu_s": round(res.get("client_cpu_s", res["cpu_s"]), 2),
        "mix_server_cpu_s": round(res.get("server_cpu_s", 0.0), 2),
        "mix_server_cpu_by_kind": res.get("server_cpu_by_kind", {}),
        "raw_mb_per_cpu_s": round(raw_mb_cpu, 3),
        "mix_mb_per_cpu_s": round(mix_mb_cpu, 3),
        "ratio_cpu": round(mix_mb_cpu / raw_mb_cpu, 3),
        "ratio_tokenize_write": round(tw_mbs / raw_mbs, 3),
        "loadavg": res["loadavg_1min"],
        "machine": machine(("tokenizers", "pyspark")),
    }
    assert r["tokens"] == content_tokens, "lmdata and raw tokenizers disagree on the token count"
    (p["work"] / "result.json").write_text(json.dumps(out, indent=2))
    return out


def warm_results_name(mb: float) -> str:
    """bench/out/<this>: the --warm raw results at ``mb`` (run_all's tokenize rows read them)."""
    return f"tokenize-warm-results-mb{mb:g}.json"


def section_title(mb: float) -> str:
    """The default 16 MB run writes "Tokenization" (issue 21's 16.8 MB target); any other size
    its own section, so `make bench`'s 200 MiB run does not replace the 16 MB one."""
    return "Tokenization" if mb == DEFAULT_MB else f"Tokenization ({mb:g} MiB)"


def target(mb: float) -> tuple[str, float]:
    """Issue 21's target for the whole `mix` stage at this size: (wording, minimum CPU ratio
    floor/lmdata). <= 2x the raw CPU at 16.8 MB; <= 1.3x at 200 MiB (and above)."""
    if mb >= 100:
        return "<= 1.3x raw `encode_batch` CPU at 200 MiB, i.e. CPU ratio >= 0.77", 1 / 1.3
    return "<= 2x raw `encode_batch` CPU at 16.8 MB, i.e. CPU ratio >= 0.5", 0.5


def _warm(a) -> dict:
    """One warm Spark Connect server (lmdata.spark.connect, local[2], the repository's
    params.yaml otherwise); a first, unmeasured-in-the-medians mix warms it (JIT, the Python
    worker daemon); then raw floor and warm mix interleaved (A B A B ...), `--pairs` times;
    the medians are the row. With --cold, one cold command (its own JVM) after the pairs."""
    import yaml

    from lmdata.spark import connect

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    p = _prepare(a.mb, a)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["spark"].update(master=f"local[{CORES}]", driver_memory="3g")
    params["spark"]["conf"] = {**(params["spark"].get("conf") or {}), **_server_conf(a)}
    pfile = p["work"] / "params-warm.yaml"
    pfile.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    url, pid, start_s = start_server(p["work"], pfile)
    print(f"warm Spark server at {url} in {start_s:.1f} s", flush=True)
    pairs, first = [], None
    try:
        res, stats = _mix(p, (url, pid), tag="-warm-first")
        first = {"cpu_s": round(res["cpu_s"], 2), "wall_s": round(res["wall_s"], 1),
                 "server_cpu_s": round(res["server_cpu_s"], 2)}  # fmt: skip
        for i in range(a.pairs):
            r = _raw(p, 1)
            res, stats = _mix(p, (url, pid), tag=f"-warm-{i}")
            pairs.append(_row(p, r, res, stats))
    finally:
        connect.stop(p["work"] / "spark-connect")
    med = {k: statistics.median(x[k] for x in pairs)
           for k in ("mix_cpu_s", "mix_client_cpu_s", "mix_server_cpu_s", "raw_cpu_s",
                     "ratio_cpu", "ratio_stage", "ratio_tokenize_write", "mix_wall_s",
                     "mix_stage_s")}  # fmt: skip
    out = {**pairs[-1], "pairs": pairs, "median": med, "first": first, "mb_arg": a.mb,
           "command": " ".join(["python -m bench.bench_tokenize", *sys.argv[1:]]),
           "server_start_s": round(start_s, 1), "stamp": stamp,
           "loadavg": [min(x["loadavg"][0] for x in pairs), max(x["loadavg"][1] for x in pairs)],
           "order": "raw floor then warm mix in every pair"}  # fmt: skip
    if a.cold:
        out["cold"] = _one(a.mb, a)
    return out


def _server_conf(a) -> dict:
    """Extra server settings: Spark's event log (job/stage timings per tag) with --event-log."""
    if not a.event_log:
        return {}
    d = Path(a.event_log).resolve()
    d.mkdir(parents=True, exist_ok=True)
    return {"spark.eventLog.enabled": "true", "spark.eventLog.dir": d.as_uri()}


def _section(o: dict, a) -> str:
    if o.get("pairs"):
        return _warm_section(o)
    m = o["machine"]
    return f"""`python -m bench.bench_tokenize --mb {a.mb:g} --mb-small {a.mb_small:g} --repeat {a.repeat} --write` ({m["utc"]}; {m["cpu"]}, {m["cores"]}
cores, load average {o["loadavg"][0]} before / {o["loadavg"][1]} after: the machine is shared,
so absolute numbers are noisy; tokenizers {m["versions"].get("tokenizers")}, pyspark
{m["versions"].get("pyspark")}).

Same {o["mb"]} MB of text ({o["documents"]:,} documents: web pages composed from ../shared/data in
English and 74 other languages, standard-library Python files), same byte-level BPE tokenizer
(vocab {VOCAB:,}); both sides produce the same {o["tokens_raw"]:,} tokens.

| | seconds | MB/s per core | tokens/s per core | ratio to the floor |
|---|---|---|---|---|
| raw `tokenizers` `encode_batch`, one process, one thread (the floor) | {o["raw_s"]} | {o["raw_mb_s_core"]} | {o["raw_tok_s_core"]:,} | 1.00 |
| `lmdata mix` tokenize + write phase (local[2], 2 Python workers) | {o["mix_phases_ms"]["ms_tokenize_write"] / 1000:.1f} | {o["tokwrite_mb_s_core"]} | {o["tokwrite_tok_s_core"]:,} | {o["ratio_tokenize_write"]:.2f} |
| `lmdata mix` whole stage (read Delta, sample + shuffle, tokenize, write .bin/.idx, sha256, manifest, card, shards gate; no DVC; this spec reads the text once: no sizes job, no tokenizer sample) | {o["mix_stage_s"]:.1f} | {o["mix_mb_s_core"]} | {o["mix_tok_s_core"]:,} | {o["ratio_stage"]:.2f} |

By CPU time (user+sys of every process: raw {o["raw_cpu_s"]} s; `lmdata mix` {o["mix_cpu_s"]} s
for the JVM, the driver and the Python workers of the whole command), which does not depend on
how busy the shared machine was: raw {o["raw_mb_per_cpu_s"]} MB per CPU-second, lmdata
{o["mix_mb_per_cpu_s"]}: ratio **{o["ratio_cpu"]:.2f}** at {o["mb"]} MB. The stage has fixed costs
(JVM start, Delta snapshots, Spark planning) that a larger input amortizes{_marginal(o)}.
The text is read once (Parquet decode + the web language join), shuffled once through the JVM
(global shuffle), copied JVM -> Arrow -> Python, then written and hashed (sha256) again.

Per core = throughput / 2 for the Spark run (2 task slots). Phases of the stage (ms):
`{json.dumps(o["mix_phases_ms"], sort_keys=True)}`; the command's wall time including the JVM
start was {o["mix_wall_s"]} s. The tokenize+write phase includes the global shuffle of the text
(Spark exchange), Arrow transfer to the Python workers, `.bin`/`.idx` writing and sha256.
Target (issue 21): the whole stage <= 2x raw `encode_batch` CPU at 16.8 MB, i.e. CPU ratio
>= 0.5: {"**met**" if o["ratio_cpu"] >= 0.5 else "**not met**"} here ({o["ratio_cpu"]:.2f}).
{_compare(o)}"""


def _warm_section(o: dict) -> str:
    """The --warm result: medians of the interleaved raw / warm-mix pairs, the server's CPU by
    process, the first command on a fresh server, the cold command when run, and `notes`."""
    m, med, pairs = o["machine"], o["median"], o["pairs"]
    kinds = sorted({k for x in pairs for k in x.get("mix_server_cpu_by_kind", {})})
    by_kind = ", ".join(
        f"{k} {statistics.median(x.get('mix_server_cpu_by_kind', {}).get(k, 0.0) for x in pairs):.2f}"
        for k in kinds
    )
    loads = [x["loadavg"][0] for x in pairs] + [pairs[-1]["loadavg"][1]]
    cmd = o.get("command") or f"python -m bench.bench_tokenize --mb {o['mb_arg']:g} --warm"
    lines = [
        f"`{cmd}` ({m['utc']}; {m['cpu']}, "
        f"{m['cores']} cores, 1-min load average {min(loads)}-{max(loads)} during the pairs: "
        f"the machine is shared, CPU seconds are the robust figure; tokenizers "
        f"{m['versions'].get('tokenizers')}, pyspark {m['versions'].get('pyspark')}).",
        "",
        f"Same {o['mb']} MB of text ({o['documents']:,} documents: web pages composed from "
        "../shared/data in English and 74 other languages, standard-library Python files), same "
        f"byte-level BPE tokenizer (vocab {VOCAB:,}); both sides produce the same "
        f"{o['tokens_raw']:,} tokens. `lmdata mix --no-dvc` runs as a thin Spark Connect client "
        "of one warm server (`lmdata.spark.connect`, local[2], what `make run`, Airflow and the "
        "compose stack use); its CPU is the client's process tree plus the server's whole "
        "process tree (driver, JVM, Python worker daemon and workers) during the command. "
        "Raw floor and warm mix interleaved (A B A B ...), one raw run per pair.",
        "",
        "| | runs | raw CPU s | mix CPU s (client + server) | client CPU s | server CPU s "
        "| CPU ratio floor/lmdata | mix wall s | stage s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, x in enumerate(pairs, 1):
        lines.append(
            f"| pair {i} (load {x['loadavg'][0]}) | 1 | {x['raw_cpu_s']:.2f} | {x['mix_cpu_s']:.2f} "
            f"| {x['mix_client_cpu_s']:.2f} | {x['mix_server_cpu_s']:.2f} | {x['ratio_cpu']:.3f} "
            f"| {x['mix_wall_s']} | {x['mix_stage_s']:.1f} |"
        )
    lines.append(
        f"| **median** | {len(pairs)} | {med['raw_cpu_s']:.2f} | {med['mix_cpu_s']:.2f} "
        f"| {med['mix_client_cpu_s']:.2f} | {med['mix_server_cpu_s']:.2f} "
        f"| **{med['ratio_cpu']:.3f}** | {med['mix_wall_s']} | {med['mix_stage_s']:.1f} |"
    )
    f = o.get("first")
    if f:
        lines.append(
            f"| first command on a fresh server (not in the medians) | 1 | - | {f['cpu_s']:.2f} "
            f"| - | {f['server_cpu_s']:.2f} | - | {f['wall_s']} | - |"
        )
    c = o.get("cold")
    if c:
        lines.append(
            f"| cold: its own JVM (`spark-submit`-like local session) | 1 | {c['raw_cpu_s']:.2f} "
            f"| {c['mix_cpu_s']:.2f} | {c['mix_cpu_s']:.2f} | - | {c['ratio_cpu']:.3f} "
            f"| {c['mix_wall_s']} | {c['mix_stage_s']:.1f} |"
        )
    wording, need = target(o.get("mb_arg", DEFAULT_MB))
    ok = "**met**" if med["ratio_cpu"] >= need else "**not met**"
    lines += [
        "",
        (f"Server CPU by process (medians, s): {by_kind}. " if by_kind else "")
        + f"The server started in "
        f"{o['server_start_s']} s (paid once per server, not counted). Target (issue 21): the "
        f"whole stage {wording}: "
        f"{ok} on the warm server ({med['ratio_cpu']:.3f}, median of {len(pairs)} pairs).",
    ]
    lines += [f"\n{n}" for n in o.get("notes", [])]
    return "\n".join(lines)


def _marginal(o: dict) -> str:
    small = o.get("small")
    if not small:
        return " (no second, smaller run this time: --mb-small 0)"
    return f""": a second run on
{small["mb"]} MB took {small["mix_cpu_s"]} CPU-s, so the extra
{round(o["mb"] - small["mb"], 2)} MB cost {o.get("marginal_mix_mb_per_cpu_s")} MB per
CPU-second: marginal ratio **{o.get("ratio_cpu_marginal")}** (what a large mixture approaches)"""


def _compare(o: dict) -> str:
    """Interleaved before/after runs and notes (where the time goes), when the result carries
    them (`compare`: {{"before": [run results], "after": [...], "label": ...}}, `notes`)."""
    out = []
    c = o.get("compare")
    if c:
        out.append(
            f"\nBefore/after ({c.get('label', '')}; runs interleaved before, after, before, ...; "
            "CPU seconds of the whole command, the JVM included):\n\n"
            "| | runs | mix CPU s (median) | raw CPU s (median) | CPU ratio (median) "
            "| stage wall s (median) |\n|---|---|---|---|---|---|"
        )
        for side in ("before", "after"):
            med = {k: statistics.median(r[k] for r in c[side])
                   for k in ("mix_cpu_s", "raw_cpu_s", "ratio_cpu", "mix_stage_s")}  # fmt: skip
            out.append(
                f"| {side} | {len(c[side])} | {med['mix_cpu_s']:.1f} | {med['raw_cpu_s']:.2f} "
                f"| {med['ratio_cpu']:.3f} | {med['mix_stage_s']:.1f} |"
            )
    out += [f"\n{n}" for n in o.get("notes", [])]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
