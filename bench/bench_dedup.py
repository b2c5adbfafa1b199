"""Benchmark (not a test): the whole fuzzy dedup, `lmdata dedup` side by side with text-dedup.

    python -m bench.bench_dedup --mb 500       # builds/reuses bench/out/dedup-mb500-seed0

Corpus (built once, cached under ``bench/out/dedup-mb<mb>-seed<seed>/``): at least ``--mb`` MiB
of UTF-8 document text, composed deterministically from the real texts of bench/corpus.py's pool
(``load_pool``: CC / DCLM / Zyte documents, Lingua's sentences in 74 languages, Wikipedia talk
comments), with bench/corpus.py's record kinds and rates (71% en, 10% foreign, 4.5% comments,
4.5% junk pages, 5% exact duplicates, 5% near duplicates with 1..5 words replaced). One change
against bench/corpus.py: an ``en`` or ``foreign`` document is a random SAMPLE of sentences from
the pool (not runs of consecutive lines of one source document), so that originals are not
near-duplicates of each other: the ~3 MB pool would otherwise put every long source document at
the head of ~100 documents, and MinHash would (rightly) cluster them. Comments and junk pages
are bench/corpus.py's own builders (junk pages are templated, so they do cluster, as on the web).
Written twice from the same Arrow chunks:

- ``lake/silver/web_documents``: a Delta table (lmdata.document.WEB_DOCUMENT_SCHEMA,
  partitioned by crawl), written with ``lmdata.lake.delta.write_table`` one chunk per commit;
- ``peer/part-NNNNN.parquet``: the same rows as plain Parquet, for text-dedup;
- ``truth.parquet``: doc_id, kind, and for injected duplicates the doc_id of their original.

Runs: ``--repeat`` (default 3) pairs interleaved with the order alternated (lmdata, peer; peer,
lmdata; ...), then one lmdata run per ``--small-driver``
heap, default 1g and 512m; a failing small-heap run is reported, not raised):

- lmdata: ``.venv/bin/lmdata dedup --lake <bench lake> --run-id bench-<n> --rebuild --set
  spark.master=local[2]`` (exact text key + URL + MinHash-LSH, word 5-grams, 112 permutations,
  14 bands x 8 rows, no verification: params.yaml's defaults), reading silver/web_documents and
  writing gold/web_documents, silver/web_dedup and dedup/minhash_index (real Delta tables; the
  outputs are deleted after each run, so every run starts from the same lake).
- peer: text-dedup 0.4.1 (PyPI; it needs Python >= 3.12, so it lives in its own venv
  ``bench/out/peer-venv``), ``python -m text_dedup.minhash`` with a config.toml: local parquet
  files, ``num_proc = 2``, ``ngram_size = 5``, ``num_perm = 112``, ``bands = 14``, ``rows = 8``,
  ``check_false_positive = false`` (lmdata does not verify either), ``save_clusters = true``;
  it loads the Parquet into a HF datasets Arrow cache (a fresh cache directory per run, so no
  run reuses another's cached map results), filters docs with < 5 tokens, fingerprints, groups
  band buckets with polars, builds all pairs of each bucket, runs polars-grouper's connected
  components, filters, and saves the kept rows with ``save_to_disk``.

Both time the whole command (wall clock, process start to exit). For lmdata the stage's own
``seconds`` (LMDATA_STATS) and the phases between its job-group log lines are also kept; for the
peer, its own timer report (Preprocessing, MinHashing, Clustering, Filtering, Saving). Memory and
CPU: psutil samples (every 0.2 s) of the whole process tree under the command (bench_ingest's
TreeSampler: summed RSS, largest process, user+sys CPU per process as last seen).
GB = 10^9 bytes of UTF-8 text; GB per core-hour = GB / (wall hours x cores), cores = 2 for both
(local[2]; num_proc = 2 and a 2-thread polars pool on this 2-CPU machine).

Duplicates found: lmdata's LMDATA_STATS ``dropped`` by reason; for text-dedup its Before/After
counts and its clusters.pickle (doc index -> cluster). text-dedup 0.4.1 with
``check_false_positive = false`` removes EVERY member of a duplicate cluster, keeper included
(its cluster ids are polars-grouper's group numbers, not document indices; upstream issue
ChenghaoMou/text-dedup#129, fixed after 0.4.1 by #130), so for text-dedup the table reports both
what it removed and what it would remove with one keeper per cluster (docs in clusters minus
clusters). Recall of the injected duplicates (same cluster as their original) is given for both.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import pickle
import re
import shutil
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from bench import _measure as M
from bench import corpus as corpus_mod
from bench.bench_ingest import _log_time

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
OUT = REPO / "bench" / "out"
PEER_PYTHON = OUT / "peer-venv" / "bin" / "python"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
MIB = 1 << 20
SECTION = "## Fuzzy dedup (speed)"
BUILDER_VERSION = 1
CHUNK_DOCS = 10_000  # documents per Delta commit / Parquet file
SILVER = "silver/web_documents"
OUTPUTS = ("gold", "silver/web_dedup", "dedup", "_meta")  # written by the stage: removed per run
_SENT = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[A-Z0-9])")


# --------------------------------------------------------------------------- corpus


class DedupComposer(corpus_mod.Composer):
    """bench/corpus.py's Composer with sentence-sampled en / foreign documents."""

    def __init__(self, pool: corpus_mod.Pool, rng) -> None:
        super().__init__(pool, rng)
        units: dict[str, None] = {}  # first-seen order, no repeats
        for _title, lines, lang in pool.docs:
            if not lang.startswith("eng"):
                continue
            for ln in lines:
                for s in _SENT.split(ln):
                    s = s.strip()
                    if len(s) >= 20:
                        units.setdefault(s, None)
        self.en_units = list(units)

    def _paragraphs(self, sents: list[str], lo: int, hi: int) -> list[str]:
        out, i = [], 0
        while i < len(sents):
            n = self.rng.randint(lo, hi)
            out.append(" ".join(sents[i : i + n]))
            i += n
        return out

    def en_doc(self, site: str) -> tuple[str, str, str]:
        r, units = self.rng, self.en_units
        target = min(60_000, max(300, int(r.lognormvariate(math.log(3000), 0.9))))
        first = units[r.randrange(len(units))]
        title = " ".join(first.split()[:9])
        out = [title]
        if r.random() < 0.6:  # site chrome, as WET keeps it
            out += [site] + r.sample(corpus_mod.NAV, r.randint(3, 8))
        sents, size = [], 0
        while size < target:
            s = units[r.randrange(len(units))]
            sents.append(s)
            size += len(s) + 1
        out += self._paragraphs(sents, 1, 6)
        if r.random() < 0.5:
            foot = r.choice(corpus_mod.FOOTERS).format(year=r.randint(2000, 2099), site=site)
            out += foot.split("\n")
        return "\n".join(out), "eng", title

    def foreign_doc(self, lang1: str) -> tuple[str, str, str]:
        r = self.rng
        sents = self.pool.sentences[lang1]
        chosen = r.sample(sents, min(len(sents), r.randint(4, 40)))
        title = chosen[0][:80]
        return (
            "\n".join([title] + self._paragraphs(chosen, 1, 4)),
            corpus_mod.ISO3.get(lang1, lang1),
            title,
        )


def corpus_root(mb: int, seed: int) -> Path:
    return OUT / f"dedup-mb{mb}-seed{seed}"


def build_corpus(mb: int, seed: int, force: bool = False, log=print) -> Path:
    """Build (or reuse) the corpus: lake/silver/web_documents, peer/*.parquet, truth.parquet."""
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    from lmdata.document import WEB_DOCUMENT_SCHEMA
    from lmdata.lake import delta

    root = corpus_root(mb, seed)
    done = root / "corpus.json"
    if done.exists() and not force:
        meta = json.loads(done.read_text())
        if meta.get("builder_version") == BUILDER_VERSION:
            return root
    t0 = time.time()
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "peer").mkdir(parents=True)
    silver = delta.table_uri(str(tmp / "lake"), SILVER)
    rng = random.Random(seed)
    pool = corpus_mod.load_pool(corpus_mod.DEFAULT_DATA)
    comp = DedupComposer(pool, rng)
    kinds, weights = list(corpus_mod.KINDS), list(corpus_mod.KINDS.values())
    history: list[tuple[bytes, str, str]] = []  # (payload, lang, doc_id) of originals
    counts: Counter = Counter()
    truth = {"doc_id": [], "kind": [], "original": []}
    rows: list[dict] = []
    target = mb * MIB
    text_bytes = serial = nfile = 0
    clock = 4070908800.0  # 2099-01-01T00:00:00Z
    crawl = corpus_mod.CRAWL

    def flush() -> None:
        nonlocal rows, nfile
        if not rows:
            return
        t = pa.Table.from_pylist(rows, schema=WEB_DOCUMENT_SCHEMA)
        delta.write_table(silver, t, mode="append", partition_by=["crawl"])
        pq.write_table(t, tmp / "peer" / f"part-{nfile:05d}.parquet", compression="zstd")
        nfile += 1
        rows = []
        log(f"  chunk {nfile}: {serial:,} docs, {text_bytes / MIB:,.0f} MiB text "
            f"({time.time() - t0:.0f}s)")  # fmt: skip

    while text_bytes < target:
        serial += 1
        clock += rng.expovariate(1 / 0.09)
        kind = rng.choices(kinds, weights)[0]
        if kind in ("exact_dup", "near_dup") and len(history) < 100:
            kind = "en"
        lang1 = rng.choice(comp.langs) if kind == "foreign" else "en"
        original = None
        if kind in ("exact_dup", "near_dup"):
            src, lang, original = history[rng.randrange(len(history))]
            payload = src if kind == "exact_dup" else comp.near_dup(src)
            title = payload[:60].decode("utf-8", "ignore").split("\n")[0]
            url, _ = comp.url(serial, title)
        else:
            title = rng.choice(pool.words)
            url, site = comp.url(serial, title, lang1)
            if kind == "en":
                text, lang, title = comp.en_doc(site)
            elif kind == "foreign":
                text, lang, title = comp.foreign_doc(lang1)
            elif kind == "comments":
                text, lang, title = comp.comments_doc()
            else:
                host = url.split("/")[2]
                text, lang, title = comp.junk_doc(host, "/" + url.split("/", 3)[3])
            payload = text.encode("utf-8")
        doc_id = hashlib.sha1(f"{crawl}\n{url}".encode()).hexdigest()[:32]
        if original is None:
            if len(history) < 5000:
                history.append((payload, lang, doc_id))
            else:
                history[rng.randrange(5000)] = (payload, lang, doc_id)
        rows.append(
            {
                "doc_id": doc_id,
                "source": "cc-wet",
                "url": url,
                "host": url.split("/")[2],
                "crawl": crawl,
                "warc_file": f"bench://dedup/{crawl}/{serial // CHUNK_DOCS:05d}.warc.wet.gz",
                "record_offset": serial,
                "record_id": corpus_mod._urn(rng),
                "warc_date": corpus_mod._iso(clock),
                "content_type": "text/plain",
                "charset": None,
                "html_lang": None,
                "cc_lang": lang,
                "text": payload.decode("utf-8"),
                "byte_length": len(payload),
                "ingest_run_id": "bench-dedup-corpus",
                "slice": "0/1",
            }
        )
        truth["doc_id"].append(doc_id)
        truth["kind"].append(kind)
        truth["original"].append(original)
        counts[kind] += 1
        text_bytes += len(payload)
        if len(rows) >= CHUNK_DOCS:
            flush()
    flush()
    pq.write_table(pa.table(truth), tmp / "truth.parquet")
    assert len(set(truth["doc_id"])) == serial, "doc_id collision"
    peer_bytes = sum(p.stat().st_size for p in (tmp / "peer").glob("*.parquet"))
    meta = {
        "builder_version": BUILDER_VERSION,
        "mb": mb,
        "seed": seed,
        "crawl": crawl,
        "docs": serial,
        "text_bytes": text_bytes,
        "files": nfile,
        "peer_parquet_bytes": peer_bytes,
        "kinds": dict(counts),
        "en_units": len(comp.en_units),
        "pool": {
            "documents": len(pool.docs),
            "sentence_languages": len(pool.sentences),
            "sentences": sum(len(v) for v in pool.sentences.values()),
            "comments": len(pool.comments),
        },
        "build_seconds": round(time.time() - t0, 1),
    }
    (tmp / "corpus.json").write_text(json.dumps(meta, indent=1) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp, root)
    return root


def _warm(root: Path) -> None:
    for p in sorted(root.rglob("*.parquet")):
        with open(p, "rb") as fh:
            while fh.read(1 << 24):
                pass


# --------------------------------------------------------------------------- running


def _clean_lake(lake: Path) -> None:
    for name in OUTPUTS:
        shutil.rmtree(lake / name, ignore_errors=True)


_PHASES = (  # lmdata log lines (lazy Spark: a phase runs the jobs that its code triggers)
    ("start", None),
    ("read", r"\[dedup\] read "),
    ("keys", r"\[dedup\] keys, MinHash"),
    ("components", r"\[dedup\] connected components"),
    ("converged", r"connected components converged"),
    ("write_index", r"\[dedup\] write dedup/minhash_index"),
    ("write_gold", r"\[dedup\] write gold/web_documents"),
    ("write_attrs", r"\[dedup\] write silver/web_dedup"),
    ("end", r"dedup \[ok\]"),
)
_PHASE_LABELS = {
    "start->read": "process start + Spark session",
    "read->keys": "plan the read",
    "keys->components": "plan keys",
    "components->converged": "read + MinHash signatures + LSH buckets + connected components",
    "converged->write_index": "labels, keepers, counts",
    "write_index->write_gold": "write dedup/minhash_index",
    "write_gold->write_attrs": "write gold/web_documents",
    "write_attrs->end": "write silver/web_dedup + commit",
}


def _log_time_any(text: str, pattern: str) -> float | None:
    """Like bench_ingest._log_time, for any `lmdata.*` logger (e.g. lmdata.spark.dedup)."""
    import datetime as dt

    ts = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO lmdata[\w.]*: "
    m = re.search(ts + pattern, text, re.M)
    if not m:
        return None
    return dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def run_lmdata(root: Path, n: int, master: str, workdir: Path, extra: list[str],
               analyse: bool, allow_fail: bool = False) -> dict:  # fmt: skip
    lake = root / "lake"
    _clean_lake(lake)
    cmd = [
        str(VENV_BIN / "lmdata"), "dedup", "--lake", str(lake), "--run-id", f"bench-{n}",
        "--rebuild", "--set", f"spark.master={master}", *extra,
    ]  # fmt: skip
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("LMDATA_SPARK_CONF", None)
    env.pop("LMDATA_SPARK_MASTER", None)
    r = M.run_tree(cmd, workdir / f"lmdata-run-{n}", REPO, env)
    line = next((x for x in r["stdout"].splitlines() if x.startswith("LMDATA_STATS ")), None)
    logs = r["stdout"] + "\n" + r["stderr"]
    to_disk = len(re.findall(r"Persisting block \S+ to disk instead", logs))
    if allow_fail and (r["rc"] != 0 or line is None or '"status": "ok"' not in line):
        _clean_lake(lake)
        groups = re.findall(r"INFO lmdata: \[dedup\] (.+)", logs)
        cause = re.findall(r"(java\.lang\.\w+Error[^\n\\]*)", logs)  # up to a newline or "\\n"
        err = json.loads(line.split(" ", 1)[1]).get("error") if line else None
        err = err.strip().splitlines()[0][:300] if err else None
        return {
            "cmd": " ".join(cmd),
            "failed": True,
            "rc": r["rc"],
            "wall_s": r["wall_s"],
            "last_job_group": groups[-1] if groups else None,
            "jvm_error": cause[0] if cause else None,
            "stats_error": err,
            "cache_blocks_to_disk": to_disk,
            **{
                k: r[k]
                for k in ("tree_peak_rss", "single_peak_rss", "max_procs", "cpu_s", "loadavg_1min")
            },  # fmt: skip
        }
    stats = M.lmdata_stats(r, "lmdata dedup")
    marks = {"start": r["t_start"]}
    for name, pat in _PHASES[1:]:
        marks[name] = _log_time(logs, pat) or _log_time_any(logs, pat)
    phases = {}
    names = [p for p, _ in _PHASES if marks.get(p)]
    for a, b in zip(names, names[1:], strict=False):
        phases[f"{a}->{b}"] = round(marks[b] - marks[a], 2)
    rounds = re.search(r"connected components converged after (\d+) rounds", logs)
    res = {
        "cmd": " ".join(cmd),
        "wall_s": r["wall_s"],
        "stage_s": float(stats["seconds"]),
        "phases": phases,
        "cc_rounds": int(rounds.group(1)) if rounds else None,
        "cache_blocks_to_disk": to_disk,  # Spark: "Persisting block ... to disk instead"
        "rows_in": int(stats.get("rows_in", 0)),
        "rows_out": int(stats.get("rows_out", 0)),
        "dropped": dict(stats.get("dropped", {})),
        "counters": dict(stats.get("counters", {})),
        **{
            k: r[k]
            for k in ("tree_peak_rss", "single_peak_rss", "max_procs", "cpu_s", "loadavg_1min")
        },
    }
    if analyse:
        from lmdata.lake import delta

        attrs = delta.read_arrow(
            delta.table_uri(str(lake), "silver/web_dedup"),
            columns=["doc_id", "cluster_id", "cluster_size", "duplicate_of", "dedup_reason"],
        )
        gold_rows = sum(
            f.num_records or 0
            for f in delta.snapshot_files(delta.table_uri(str(lake), "gold/web_documents"))[1]
        )
        res["gold_rows"] = gold_rows
        res["_clusters"] = dict(
            zip(
                attrs.column("doc_id").to_pylist(),
                attrs.column("cluster_id").to_pylist(),
                strict=True,
            )  # fmt: skip
        )
        res["_removed"] = {
            d
            for d, k in zip(
                attrs.column("doc_id").to_pylist(),
                attrs.column("duplicate_of").to_pylist(),
                strict=True,
            )
            if k  # fmt: skip
        }
    _clean_lake(lake)
    return res


_PEER_TOML = """\
[input]
input_type = "local_files"
file_type = "parquet"

[input.read_arguments]
path = "parquet"
data_files = {data_files}
split = "train"
cache_dir = "{cache}"

[algorithm]
algorithm_name = "minhash"
text_column = "text"
seed = 42
num_proc = {num_proc}
num_perm = 112
bands = 14
rows = 8
threshold = 0.7
ngram_size = 5
hash_bits = 64
check_false_positive = false

[output]
output_dir = "{out}"
clean_cache = false
save_clusters = true

[debug]
enable_profiling = false
"""
_PEER_TIMER = re.compile(r"\b(Total|Preprocessing|MinHashing|Clustering|Verifying|Filtering|"
                         r"Saving|Cleaning|Before|After)\s*:\s*([\d.]+)")  # fmt: skip


def run_peer(root: Path, n: int, num_proc: int, workdir: Path, peer_python: Path,
             analyse: bool) -> dict:  # fmt: skip
    import pyarrow as pa

    run_dir = workdir / f"peer-run-{n}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    files = sorted(str(p) for p in (root / "peer").glob("*.parquet"))
    (run_dir / "config.toml").write_text(
        _PEER_TOML.format(
            data_files=json.dumps(files),
            cache=run_dir / "hf-cache",
            num_proc=num_proc,
            out=run_dir / "output",
        )
    )
    env = dict(os.environ)
    env.update(
        HF_HOME=str(run_dir / "hf-home"),
        HF_DATASETS_CACHE=str(run_dir / "hf-cache"),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        COLUMNS="200",
        TERM="dumb",
    )
    for k in ("PYTHONPATH", "VIRTUAL_ENV", "LMDATA_SPARK_CONF"):
        env.pop(k, None)
    cmd = [str(peer_python), "-m", "text_dedup.minhash"]
    r = M.run_tree(cmd, run_dir, run_dir, env)
    logs = r["stdout"] + "\n" + r["stderr"]
    if r["rc"] != 0:
        raise RuntimeError(
            f"text-dedup failed (exit {r['rc']}) in {run_dir}\n--- output (tail)\n{logs[-8000:]}"
        )
    timer = {k: float(v) for k, v in _PEER_TIMER.findall(logs)}
    kept = 0
    out = run_dir / "output"
    for f in sorted(out.glob("data-*.arrow")):
        with pa.memory_map(str(f)) as src:
            kept += pa.ipc.open_stream(src).read_all().num_rows
    m = re.search(r"Filtered (\d+) records", logs)
    with open(out / "clusters.pickle", "rb") as fh:  # written by the run above (our own file)
        parents: dict[int, int] = pickle.load(fh)
    res = {
        "cmd": " ".join(cmd) + f"  (cwd {run_dir.relative_to(REPO)}, config.toml)",
        "wall_s": r["wall_s"],
        "timer": timer,
        "before": int(timer.get("Before", 0)),
        "after": int(timer.get("After", 0)),
        "kept_rows": kept,
        "filtered_short": int(m.group(1)) if m else None,
        "in_clusters": len(parents),
        "clusters": len(set(parents.values())),
        **{
            k: r[k]
            for k in ("tree_peak_rss", "single_peak_rss", "max_procs", "cpu_s", "loadavg_1min")
        },
    }
    if analyse:
        res["_parents"] = parents
    shutil.rmtree(run_dir / "hf-cache", ignore_errors=True)
    shutil.rmtree(run_dir / "output", ignore_errors=True)
    return res


# --------------------------------------------------------------------------- analysis


def analyse(root: Path, lm: dict, peer: dict) -> dict:
    """Recall of the injected duplicates and agreement of the two tools' duplicate sets."""
    import pyarrow.parquet as pq

    t = pq.read_table(root / "truth.parquet")
    ids = t.column("doc_id").to_pylist()
    kinds = t.column("kind").to_pylist()
    orig = t.column("original").to_pylist()
    pos = {d: i for i, d in enumerate(ids)}
    lm_cl, parents = lm["_clusters"], peer["_parents"]

    def same_lm(a, b):
        return lm_cl[a] == lm_cl[b]

    def same_peer(a, b):
        ia, ib = pos[a], pos[b]
        return ia in parents and ib in parents and parents[ia] == parents[ib]

    out = {}
    for kind in ("exact_dup", "near_dup"):
        pairs = [(d, o) for d, k, o in zip(ids, kinds, orig, strict=True) if k == kind]
        out[kind] = {
            "injected": len(pairs),
            "lmdata_recall": sum(same_lm(d, o) for d, o in pairs) / max(1, len(pairs)),
            "peer_recall": sum(same_peer(d, o) for d, o in pairs) / max(1, len(pairs)),
        }
    sizes = Counter(lm_cl.values())
    lm_dup = {d for d in ids if sizes[lm_cl[d]] > 1}  # in a non-singleton cluster
    peer_dup = {ids[i] for i in parents}
    out["in_clusters"] = {
        "lmdata": len(lm_dup),
        "peer": len(peer_dup),
        "both": len(lm_dup & peer_dup),
        "only_lmdata": len(lm_dup - peer_dup),
        "only_peer": len(peer_dup - lm_dup),
    }
    by_kind = Counter(kinds[pos[d]] for d in lm_dup - peer_dup)
    out["only_lmdata_kinds"] = dict(by_kind)
    out["only_peer_kinds"] = dict(Counter(kinds[pos[d]] for d in peer_dup - lm_dup))
    out["lmdata_removed_kinds"] = dict(Counter(kinds[pos[d]] for d in lm["_removed"]))
    top = sizes.most_common(3)
    out["lmdata_largest_clusters"] = [
        {"size": k, "kinds": dict(Counter(kinds[pos[d]] for d in ids if lm_cl[d] == c))}
        for c, k in top
    ]
    # near copies: exact word-5-gram Jaccard (lmdata's shingles) vs the 14 x 8 S-curve
    import pyarrow as pa
    import pyarrow.parquet as pq2

    from lmdata.config import FuzzyDedupConfig
    from lmdata.dedup.minhash import candidate_probability, jaccard, shingles

    params = FuzzyDedupConfig().minhash_params()
    pairs = [(d, o) for d, k, o in zip(ids, kinds, orig, strict=True) if k == "near_dup"]
    need = sorted({pos[x] for pr in pairs for x in pr})
    text = pa.concat_tables(
        pq2.read_table(f, columns=["text"]) for f in sorted((root / "peer").glob("*.parquet"))
    ).column("text")
    got = dict(zip(need, text.take(pa.array(need)).to_pylist(), strict=True))
    jac, words, found = [], [], []
    for d, o in pairs:
        a, b = got[pos[d]], got[pos[o]]
        jac.append(jaccard(shingles(a, params), shingles(b, params)))
        words.append(len(b.split()))
        found.append(same_lm(d, o))
    theory = sum(candidate_probability(j, params.bands, params.rows) for j in jac) / len(jac)
    miss_w = [w for w, f in zip(words, found, strict=True) if not f]
    hit_w = [w for w, f in zip(words, found, strict=True) if f]
    out["near_dup"].update(
        theory_recall=theory,
        jaccard_median=statistics.median(jac),
        below_0_6=sum(j < 0.6 for j in jac) / len(jac),
        words_median_missed=statistics.median(miss_w) if miss_w else 0,
        words_median_found=statistics.median(hit_w) if hit_w else 0,
    )
    return out


# --------------------------------------------------------------------------- report


_bm = M.best_median


def report(meta: dict, lms: list[dict], peers: list[dict], small: list[dict], ana: dict,
           master: str, cores: int, num_proc: int) -> str:  # fmt: skip
    n, nbytes = meta["docs"], meta["text_bytes"]
    gb = nbytes / 1e9

    def gbch(seconds: float, ncores: int) -> float:
        return gb / (seconds * ncores / 3600)

    def cells(times: list[float], ncores: int) -> list[str]:
        b, m = _bm(times)
        return [
            f"{b:,.1f} / {m:,.1f}",
            f"{n / b:,.0f} / {n / m:,.0f}",
            f"{nbytes / MIB / b:,.2f} / {nbytes / MIB / m:,.2f}",
            str(ncores),
            f"{gbch(b, ncores):,.2f} / {gbch(m, ncores):,.2f}",
        ]

    def mem(rs: list[dict]) -> str:
        tree = max(r["tree_peak_rss"] for r in rs) / MIB
        single = max(r["single_peak_rss"] for r in rs) / MIB
        return f"{tree:,.0f} MiB tree · {single:,.0f} MiB largest process"

    def cpu_cells(rs: list[dict], ncores: int) -> list[str]:
        c = statistics.median(r["cpu_s"] for r in rs)
        busy = statistics.median(r["cpu_s"] / (r["wall_s"] * ncores) for r in rs)
        return [f"{c:,.0f} ({busy:.0%})", f"{gb / (c / 3600):,.2f}"]

    def row(name: str, rs: list[dict], times: list[float], ncores: int, cpu: bool = True) -> str:
        more = [*cpu_cells(rs, ncores), mem(rs)] if cpu else ["(same runs)", "", ""]
        return "| " + " | ".join([name, *cells(times, ncores), *more]) + " |"

    lm_w = [r["wall_s"] for r in lms]
    pe_w = [r["wall_s"] for r in peers]
    rows = [
        "| run | wall s (best / median) | docs/s | MiB/s | cores | GB per core-hour "
        "| CPU s, user+sys (share of cores x wall) | GB per CPU-hour (measured CPU) "
        "| peak RSS (psutil, whole process tree) |",
        "|---|---|---|---|---|---|---|---|---|",
        row(f"lmdata dedup, whole command (`{master}`)", lms, lm_w, cores),
        row("lmdata dedup, stage `seconds`", lms, [r["stage_s"] for r in lms], cores, False),
        row(
            f"text-dedup 0.4.1 MinHash, whole command (`num_proc = {num_proc}`)",
            peers,
            pe_w,
            num_proc,
        ),  # fmt: skip
    ]
    for sm in small:
        if not sm.get("failed"):
            rows.append(row(f"lmdata dedup, `--set spark.driver_memory={sm['heap']}` (1 run)",
                            [sm], [sm["wall_s"]], cores))  # fmt: skip
    lb, lm_ = _bm(lm_w)
    pb, pm = _bm(pe_w)
    lc = [r["cpu_s"] for r in lms]
    pc = [r["cpu_s"] for r in peers]
    rows += [
        "",
        "| lmdata / text-dedup, same data, same 2 cores | best | median |",
        "|---|---|---|",
        f"| throughput: docs/s, MiB/s, GB per core-hour (whole command) | {pb / lb:,.2f}x | "
        f"{pm / lm_:,.2f}x |",
        f"| CPU seconds used (user+sys; < 1 = lmdata uses less) | {min(lc) / min(pc):,.2f}x | "
        f"{statistics.median(lc) / statistics.median(pc):,.2f}x |",
        "",
        f"Published reference points (quoted in the dedup issue; other machines, corpora and "
        f"settings): BigCode's Spark MinHash about 3 GB per vCPU-hour, Data-Juicer's Ray MinHash "
        f"about 1.4 GB per core-hour. Here: lmdata {gbch(lb, cores):,.1f} (best) / "
        f"{gbch(lm_, cores):,.1f} (median) GB per core-hour, text-dedup "
        f"{gbch(pb, num_proc):,.1f} / {gbch(pm, num_proc):,.1f}, counting both cores for the whole "
        f"wall time (Spark start-up and Delta writes included).",
    ]
    # duplicates
    l0, p0 = lms[0], peers[0]
    drop = l0["dropped"]
    short = p0["filtered_short"] or 0
    fixed = short + p0["in_clusters"] - p0["clusters"]
    ic = ana["in_clusters"]
    ex, ne = ana["exact_dup"], ana["near_dup"]
    rows += [
        "",
        "Duplicates found (first run of each; every run gave the same lmdata counts and the "
        "same text-dedup clusters, asserted; text-dedup's as-shipped 'docs out' was "
        + " / ".join(f"{r['after']:,}" for r in peers)
        + " in its runs: it keeps a clustered document only when the document's index happens "
        "to equal polars-grouper's arbitrary group number):",
        "",
        "| | docs in | docs out | removed | lmdata reason: exact / near / URL | docs in duplicate "
        "clusters | clusters with duplicates | largest cluster |",
        "|---|---|---|---|---|---|---|---|",
        f"| lmdata | {l0['rows_in']:,} | {l0['rows_out']:,} | {l0['rows_in'] - l0['rows_out']:,} "
        f"| {drop.get('exact_duplicate', 0):,} / {drop.get('near_duplicate', 0):,} / "
        f"{drop.get('url_duplicate', 0):,} | {ic['lmdata']:,} | "
        f"{l0['counters'].get('clusters_with_duplicates', 0):,} | "
        f"{l0['counters'].get('largest_cluster', 1):,} |",
        f"| text-dedup 0.4.1 as shipped (removes whole clusters, bug #129) | {p0['before']:,} | "
        f"{p0['after']:,} | {p0['before'] - p0['after']:,} ({short:,} of them for < 5 tokens) "
        f"| - | {p0['in_clusters']:,} | {p0['clusters']:,} | {p0['largest_cluster']:,} |",
        f"| text-dedup, one keeper per cluster (from its clusters.pickle) | {p0['before']:,} | "
        f"{p0['before'] - fixed:,} | {fixed:,} | - | {p0['in_clusters']:,} | "
        f"{p0['clusters']:,} | {p0['largest_cluster']:,} |",
        "",
        f"Injected duplicates put in their original's cluster: exact copies ({ex['injected']:,}) "
        f"lmdata {ex['lmdata_recall']:.1%}, text-dedup {ex['peer_recall']:.1%}; near copies with "
        f"1..5 words replaced ({ne['injected']:,}) lmdata {ne['lmdata_recall']:.1%}, text-dedup "
        f"{ne['peer_recall']:.1%}; the 14 x 8 S-curve predicts {ne['theory_recall']:.1%} from "
        f"the pairs' exact 5-gram Jaccard (median {ne['jaccard_median']:.2f}, "
        f"{ne['below_0_6']:.1%} below 0.6): the misses are short documents (median "
        f"{ne['words_median_missed']:,.0f} words of the original vs "
        f"{ne['words_median_found']:,.0f} for the found ones), where 1..5 replaced words cost "
        f"many of few shingles. Largest lmdata clusters: "
        + "; ".join(
            f"{c['size']:,} docs ({_kinds(c['kinds'])})" for c in ana["lmdata_largest_clusters"]
        )
        + f". Documents in duplicate clusters: {ic['both']:,} "
        f"in both, {ic['only_lmdata']:,} only in lmdata's ({_kinds(ana['only_lmdata_kinds'])}), "
        f"{ic['only_peer']:,} only in text-dedup's ({_kinds(ana['only_peer_kinds'])}): the two "
        f"normalize and hash shingles differently (lmdata deletes punctuation inside words, "
        f"text-dedup splits on it; different hash functions and permutations), so borderline "
        f"pairs near the threshold fall differently. lmdata removed, by corpus kind: "
        f"{_kinds(ana['lmdata_removed_kinds'])} (the keeper is the smallest doc_id, so "
        f"in about half the pairs the original goes and its copy stays).",
    ]
    ph = lms[0]["phases"]
    tm = peers[0]["timer"]
    loads = [x for r in [*lms, *peers, *small] for x in r["loadavg_1min"]]
    rows += [
        "",
        f"Corpus: `bench/out/{corpus_root(meta['mb'], meta['seed']).name}` (mb={meta['mb']}, "
        f"seed={meta['seed']}): {n:,} documents, {nbytes / MIB:,.1f} MiB = {gb:,.3f} GB of UTF-8 "
        f"text (mean {nbytes / n / 1000:,.1f} KB per document); a Delta table "
        f"`silver/web_documents` ({meta['files']} files, partitioned by crawl) and the same rows "
        f"as {meta['files']} Parquet files for text-dedup ({meta['peer_parquet_bytes'] / MIB:,.0f} "
        f"MiB zstd). Kinds: {_kinds(meta['kinds'])}. Real texts from bench/corpus.py's pool at its "
        f"rates; en/foreign documents are random samples of {meta['en_units']:,} English "
        f"sentences / Lingua's sentences (bench/README.md says why).",
        f"Runs: {len(lms)} x lmdata and {len(peers)} x text-dedup interleaved, then "
        + (
            ", ".join(
                f"one lmdata run with `--set spark.driver_memory={sm['heap']}`" for sm in small
            )
            or "no small-heap run"
        )
        + "; page "
        f"cache warmed. Both: word 5-grams, 112 permutations, 14 bands x 8 rows, no candidate "
        f"verification, connected components, kept rows written out (lmdata: gold, "
        f"silver/web_dedup and dedup/minhash_index as Delta tables; text-dedup: `save_to_disk`); "
        f"lmdata also links exact text keys and normalized URLs. The 2-CPU VM was shared with "
        f"other sessions' work during the runs: 1-minute load average {min(loads):.1f}-"
        f"{max(loads):.1f} at run starts/ends, and neither tool kept both cores busy (CPU column).",
        "lmdata phases, first run (s; Spark is lazy, so a phase runs the jobs its code triggers): "
        + ", ".join(f"{_PHASE_LABELS.get(k, k)} {v:,.1f}" for k, v in ph.items())
        + f" (connected components: {lms[0]['cc_rounds']} rounds).",
        "text-dedup's own timer, first run (s): "
        + ", ".join(f"{k} {v:,.1f}" for k, v in tm.items() if k not in ("Before", "After"))
        + " (Preprocessing = Parquet -> HF Arrow cache, indexing, < 5-token filter; MinHashing "
        "= one Python call per document in `num_proc` processes).",
        "Every run, in order (wall s, 1-minute load average before -> after): "
        + ", ".join(
            f"{name} {r['wall_s']:,.0f} ({r['loadavg_1min'][0]:.1f} -> {r['loadavg_1min'][1]:.1f})"
            for name, r in _in_order(lms, peers, small)
        )
        + ".",
        f"Processes in the tree: lmdata up to {max(r['max_procs'] for r in lms)} (driver Python, "
        f"JVM, Python workers), text-dedup up to {max(r['max_procs'] for r in peers)} (main + "
        f"`num_proc` workers); RSS sampled every 0.2 s and summed (shared pages count twice).",
    ]
    big = (max(r["single_peak_rss"] for r in lms) / MIB, max(r["tree_peak_rss"] for r in lms) / MIB)
    for sm in small:
        head = (
            f"Small heap `--set spark.driver_memory={sm['heap']}` (local mode: the driver JVM is "
            f"also the executor, so this is the whole Spark heap, for {nbytes / MIB:,.0f} MiB of "
            f"input text): "
        )
        mem_s = (
            f"peak RSS: JVM (largest process) {sm['single_peak_rss'] / MIB:,.0f} MiB, whole tree "
            f"{sm['tree_peak_rss'] / MIB:,.0f} MiB (default 2g runs: {big[0]:,.0f} / "
            f"{big[1]:,.0f} MiB)"
        )
        if sm.get("failed"):
            rows.append(
                head + f"FAILED after {sm['wall_s']:,.1f} s (exit {sm['rc']}) in job group "
                f"'{sm['last_job_group']}': JVM error `{sm['jvm_error']}`; the stage's error "
                f"(LMDATA_STATS): `{sm['stats_error']}`; {sm['cache_blocks_to_disk']} cached "
                f"blocks had been spilled to disk before; {mem_s}."
            )
        else:
            rows.append(
                head + f"finished in {sm['wall_s']:,.1f} s with the same result "
                f"({sm['rows_out']:,} rows out); Spark spilled {sm['cache_blocks_to_disk']} "
                f'cached input blocks to disk ("Persisting block ... to disk instead"; default '
                f"2g runs: {sum(r.get('cache_blocks_to_disk', 0) for r in lms)}); {mem_s}. "
                f"Documents never go to the driver: it collects only the per-reason counts and "
                f"the cluster-size histogram."
            )
    return "\n".join(rows)


def _in_order(lms: list[dict], peers: list[dict], small: list[dict]):
    for i, (lr, pr) in enumerate(zip(lms, peers, strict=True), 1):
        yield from M.pair_order(i, (f"lmdata #{i}", lr), (f"text-dedup #{i}", pr))
    for sm in small:
        yield f"lmdata {sm['heap']}" + (" (failed)" if sm.get("failed") else ""), sm


def _kinds(d: dict) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(d.items())) or "none"


def write_benchmarks_md(section_body: str, stamp: str, command: str) -> None:
    M.write_run_section(
        SECTION[3:], section_body, stamp, command, before="Language ID",
        note="; the VM is shared with other sessions' builds and tests, so timings are noisy",
    )


# --------------------------------------------------------------------------- main


def _command(meta: dict, repeat: int) -> str:
    cmd = f"python -m bench.bench_dedup --mb {meta['mb']}"
    if meta["seed"]:
        cmd += f" --seed {meta['seed']}"
    if repeat != 3:
        cmd += f" --repeat {repeat}"
    return cmd


def _write(meta: dict, repeat: int, body: str, stamp: str) -> None:
    write_benchmarks_md(body, stamp, _command(meta, repeat))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.bench_dedup", description=__doc__.split("\n")[0]
    )
    p.add_argument("--mb", type=int, default=500, help="corpus size, MiB of UTF-8 text (>=)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3, help="lmdata/peer pairs, order alternated")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--num-proc", type=int, default=2, help="text-dedup's num_proc")
    p.add_argument("--peer-python", type=Path, default=PEER_PYTHON)
    p.add_argument(
        "--small-driver",
        default="1g,512m",
        help="comma list of spark.driver_memory values for one extra lmdata run each ('' = none);"
        " a failure is reported, not raised",
    )
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    p.add_argument("--force", action="store_true", help="rebuild the corpus")
    p.add_argument(
        "--from-json",
        type=Path,
        help="re-render the report (and the BENCHMARKS.md section) from a raw results file",
    )
    a = p.parse_args(argv)
    m = re.fullmatch(r"local\[(\d+)\]", a.master)
    if not m:
        raise SystemExit(f"--master {a.master!r}: only local[N] is benchmarked here")
    cores = int(m.group(1))
    if not a.peer_python.exists():
        raise SystemExit(
            f"{a.peer_python} not found: text-dedup 0.4.1 needs Python >= 3.12 in its own venv:\n"
            f"  python3.12 -m venv bench/out/peer-venv && "
            f"bench/out/peer-venv/bin/pip install text-dedup==0.4.1"
        )
    if a.from_json:
        raw = json.loads(a.from_json.read_text())
        body = report(raw["meta"], raw["lmdata"], raw["peer"], raw["lmdata_small_heap"],
                      raw["analysis"], a.master, cores, a.num_proc)  # fmt: skip
        print(body)
        if not a.no_write:
            stamp = raw.get("stamp") or time.strftime(
                "%Y-%m-%d %H:%M UTC", time.gmtime(a.from_json.stat().st_mtime)
            )
            _write(raw["meta"], len(raw["lmdata"]), body, stamp)
        return 0
    print(f"corpus mb={a.mb} seed={a.seed} ...", flush=True)
    root = build_corpus(a.mb, a.seed, a.force, log=lambda s: print(s, flush=True))
    meta = json.loads((root / "corpus.json").read_text())
    print(f"{root}: {meta['docs']:,} docs, {meta['text_bytes'] / MIB:,.1f} MiB text, "
          f"kinds {meta['kinds']}", flush=True)  # fmt: skip
    _warm(root)
    workdir = OUT / "dedup-work"
    lms, peers = [], []

    def one_lmdata(i: int) -> None:
        lr = run_lmdata(root, i, a.master, workdir, [], analyse=(i == 1))
        print(f"lmdata #{i}: wall {lr['wall_s']:.1f}s, stage {lr['stage_s']:.1f}s, in "
              f"{lr['rows_in']:,} out {lr['rows_out']:,} dropped {lr['dropped']}, tree peak "
              f"{lr['tree_peak_rss'] / MIB:,.0f} MiB, cpu {lr['cpu_s']:.0f}s, phases "
              f"{lr['phases']}", flush=True)  # fmt: skip
        lms.append(lr)

    def one_peer(i: int) -> None:
        pr = run_peer(root, i, a.num_proc, workdir, a.peer_python, analyse=(i == 1))
        pr["largest_cluster"] = (
            max(Counter(pr["_parents"].values()).values(), default=1) if i == 1 else None
        )
        print(f"peer   #{i}: wall {pr['wall_s']:.1f}s, before {pr['before']:,} after "
              f"{pr['after']:,} (kept rows {pr['kept_rows']:,}), in clusters "
              f"{pr['in_clusters']:,} / {pr['clusters']:,} clusters, tree peak "
              f"{pr['tree_peak_rss'] / MIB:,.0f} MiB, cpu {pr['cpu_s']:.0f}s, timer "
              f"{pr['timer']}", flush=True)  # fmt: skip
        peers.append(pr)

    for i in range(1, a.repeat + 1):
        for step in M.pair_order(i, one_lmdata, one_peer):
            step(i)
        lr, pr = lms[-1], peers[-1]
        assert lr["rows_in"] == meta["docs"], (lr["rows_in"], meta["docs"])
        assert pr["before"] == meta["docs"] and pr["kept_rows"] == pr["after"], pr
        assert lr["rows_out"] == lms[0]["rows_out"], (lr["rows_out"], lms[0]["rows_out"])
        # text-dedup's "after" is NOT asserted: as shipped it keeps a clustered doc only when its
        # index happens to equal polars-grouper's (arbitrary) group number, which varies by run
        assert (pr["in_clusters"], pr["clusters"]) == (
            peers[0]["in_clusters"],
            peers[0]["clusters"],
        )
    small = []
    for k, heap in enumerate(filter(None, a.small_driver.split(",")), a.repeat + 1):
        sm = run_lmdata(root, k, a.master, workdir, ["--set", f"spark.driver_memory={heap}"],
                        analyse=False, allow_fail=True)  # fmt: skip
        sm["heap"] = heap
        if sm.get("failed"):
            print(f"lmdata {heap}: FAILED (exit {sm['rc']}) after {sm['wall_s']:.1f}s in "
                  f"'{sm['last_job_group']}': {sm['jvm_error']} / {sm['stats_error']}", flush=True)  # fmt: skip
        else:
            print(f"lmdata {heap}: wall {sm['wall_s']:.1f}s, out {sm['rows_out']:,}, JVM peak "
                  f"{sm['single_peak_rss'] / MIB:,.0f} MiB, tree {sm['tree_peak_rss'] / MIB:,.0f}"
                  f" MiB, blocks to disk {sm['cache_blocks_to_disk']}", flush=True)  # fmt: skip
            assert sm["rows_out"] == lms[0]["rows_out"], (sm["rows_out"], lms[0]["rows_out"])
        small.append(sm)
    ana = analyse(root, lms[0], peers[0])
    body = report(meta, lms, peers, small, ana, a.master, cores, a.num_proc)
    raw = OUT / f"dedup-results-mb{a.mb}-seed{a.seed}.json"

    def public(d: dict) -> dict:
        return {k: v for k, v in d.items() if not k.startswith("_")}

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    M.save_raw(raw, {"meta": meta, "stamp": stamp, "lmdata": [public(r) for r in lms],
                     "peer": [public(r) for r in peers],
                     "lmdata_small_heap": [public(x) for x in small],
                     "order": M.ALTERNATING, "command": _command(meta, a.repeat),
                     "analysis": ana})  # fmt: skip
    print()
    print(body)
    print(f"\nraw results: {raw}")
    if not a.no_write:
        _write(meta, a.repeat, body, stamp)
        print(f"wrote {BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
