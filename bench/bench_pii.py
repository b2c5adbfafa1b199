"""Benchmark (not a test): lmdata's PII step vs naive per-document Presidio, same web documents.

    python -m bench.bench_pii --mb 200 --docs 2000

Texts: ``--docs`` conversion-record payloads of the benchmark WET corpus (bench/corpus.py), every
k-th record over all files so that every kind (English pages, foreign text, talk pages, junk,
duplicates) is in proportion. Each side runs in its own fresh subprocess, one process, one core,
``--repeat`` (default 3) pairs interleaved with the order alternated (naive, lmdata; lmdata,
naive; ...):

- peer (naive Presidio): a default ``AnalyzerEngine`` (blank English spaCy, no NER model is
  reachable offline; ``lmdata.filters.pii.naive_analyzer``) and an ``AnonymizerEngine``; per
  document ``analyze(text, language="en", entities=<lmdata's defaults>, score_threshold=0.4)``
  then ``anonymize(text, results)`` (Presidio's default operator: ``<ENTITY_TYPE>``).
- lmdata: ``PiiRedactor().redact_batch(texts)`` (the ``pii_presidio_v1`` batch path that curate
  runs per Arrow batch), batches of ``--batch`` documents.

Times: the loop over the documents (engine construction and imports reported separately), CPU
seconds of the loop (``time.process_time``), peak RSS (VmHWM of the subprocess). Checks that the
spans are identical document by document and counts redacted texts that differ (the anonymizer
resolves overlapping spans of different types its own way). Rewrites the "PII (speed)" section.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import _measure as M
from bench import corpus as corpus_mod

SECTION = "PII (speed)"


def sample_texts(root: Path, docs: int) -> list[str]:
    from fastwarc.stream_io import GzipReader
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from bench.bench_ingest import listing

    meta = json.loads((root / "corpus.json").read_text())
    step = max(1, meta["conversion_records"] // docs)
    out, i = [], 0
    for path in listing(root):
        for rec in ArchiveIterator(GzipReader(str(path)), record_types=WarcRecordType.conversion):
            if i % step == 0 and len(out) < docs:
                out.append(rec.reader.read().decode("utf-8", "replace"))
            i += 1
    return out


def worker(kind: str, texts_path: str, batch: int) -> dict:
    texts = json.loads(Path(texts_path).read_text())
    t0 = time.perf_counter()
    from lmdata.filters import pii

    if kind == "naive":
        try:
            from presidio_anonymizer import AnonymizerEngine
        except ImportError as e:  # not in requirements.lock (yet): say how to get it
            raise SystemExit(
                "presidio-anonymizer is needed for the naive peer: "
                ".venv/bin/pip install presidio-anonymizer==<presidio-analyzer's version>"
            ) from e

        analyzer, anonymizer = pii.naive_analyzer(), AnonymizerEngine()
        ents = list(pii.DEFAULT_ENTITIES)
        setup = time.perf_counter() - t0
        t1, c1 = time.perf_counter(), time.process_time()
        spans, outs = [], []
        for t in texts:
            res = analyzer.analyze(text=t, language="en", entities=ents,
                                   score_threshold=pii.DEFAULT_SCORE_THRESHOLD)  # fmt: skip
            outs.append(anonymizer.anonymize(text=t, analyzer_results=res).text)
            spans.append(sorted((r.entity_type, r.start, r.end) for r in res))
    else:
        red = pii.PiiRedactor()
        red.redact_batch(["warm-up a@example.com"])  # builds the engine (once per process)
        setup = time.perf_counter() - t0
        t1, c1 = time.perf_counter(), time.process_time()
        outs = []
        for s in range(0, len(texts), batch):
            outs += [r for r, _ in red.redact_batch(texts[s : s + batch])]
    seconds, cpu = time.perf_counter() - t1, time.process_time() - c1
    if kind != "naive":  # the spans, for the check (outside the timed loop)
        spans = [sorted((x.entity_type, x.start, x.end) for x in ss)
                 for ss in red.analyze_batch(texts)]  # fmt: skip
    return {"seconds": seconds, "cpu_s": cpu, "setup_s": setup, "vmhwm_kib": M.vmhwm_kib(),
            "spans": spans, "outs": outs}  # fmt: skip


def run(kind: str, texts_path: Path, batch: int, out: Path) -> dict:
    p = subprocess.run(
        [sys.executable, "-m", "bench.bench_pii", "--worker", kind, "--texts", str(texts_path),
         "--batch", str(batch), "--worker-out", str(out)],
        cwd=M.REPO, capture_output=True, text=True, env=M.lmdata_env(),
    )  # fmt: skip
    if p.returncode != 0:
        raise RuntimeError(f"bench_pii {kind} worker failed (exit {p.returncode}):\n{p.stderr[-4000:]}")
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_pii", description=__doc__.split("\n")[0])
    p.add_argument("--mb", type=float, default=200, help="the WET corpus to sample from")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--docs", type=int, default=2000)
    p.add_argument("--batch", type=int, default=2000, help="lmdata batch size (curate: Arrow batch)")
    p.add_argument("--repeat", type=int, default=3, help="naive/lmdata pairs, order alternated")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--worker", choices=("naive", "lmdata"), help=argparse.SUPPRESS)
    p.add_argument("--texts", help=argparse.SUPPRESS)
    p.add_argument("--worker-out", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        Path(a.worker_out).write_text(json.dumps(worker(a.worker, a.texts, a.batch)))
        return 0
    root = corpus_mod.build(a.mb, a.seed, M.OUT, log=lambda s: print(s, flush=True))
    texts = sample_texts(root, a.docs)
    work = M.OUT / "pii-work"
    work.mkdir(parents=True, exist_ok=True)
    tp = work / "texts.json"
    tp.write_text(json.dumps(texts))
    mb = sum(len(t.encode()) for t in texts) / M.MIB
    mach = M.machine(("presidio-analyzer", "presidio-anonymizer", "spacy"))
    runs: dict[str, list[dict]] = {"naive": [], "lmdata": []}
    for i in range(a.repeat):
        for kind in M.pair_order(i + 1, "naive", "lmdata"):
            load0 = os.getloadavg()[0]
            r = run(kind, tp, a.batch, work / f"{kind}-{i}.json")
            r["loadavg_1min"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
            print(f"{kind} #{i + 1}: {r['seconds']:.2f}s, cpu {r['cpu_s']:.2f}s, setup "
                  f"{r['setup_s']:.1f}s, VmHWM {(r['vmhwm_kib'] or 0) / 1024:.0f} MiB", flush=True)  # fmt: skip
            runs[kind].append(r)
    nv, lm = runs["naive"][0], runs["lmdata"][0]
    same_spans = sum(a_ == b_ for a_, b_ in zip(nv["spans"], lm["spans"], strict=True))
    same_text = sum(a_ == b_ for a_, b_ in zip(nv["outs"], lm["outs"], strict=True))
    n_spans = sum(len(s) for s in lm["spans"])
    docs_with = sum(1 for s in lm["spans"] if s)
    for rs in runs.values():
        for r in rs:
            r.pop("spans", None)
            r.pop("outs", None)

    def cells(rs: list[dict]) -> list[str]:
        sb, sm = M.best_median([r["seconds"] for r in rs])
        cm = M.median_of(rs, "cpu_s")
        mem = max(r["vmhwm_kib"] or 0 for r in rs) * 1024
        return [f"{sb:.2f} / {sm:.2f}", f"{mb / sm:,.2f}", f"{cm:.2f}", f"{mb / cm:,.2f}",
                f"{M.median_of(rs, 'setup_s'):.1f}", M.mib(mem)]  # fmt: skip

    lt, nt = M.median_of(runs["lmdata"], "seconds"), M.median_of(runs["naive"], "seconds")
    lc, nc = M.median_of(runs["lmdata"], "cpu_s"), M.median_of(runs["naive"], "cpu_s")
    lmem = max(r["vmhwm_kib"] or 0 for r in runs["lmdata"])
    nmem = max(r["vmhwm_kib"] or 0 for r in runs["naive"])
    loads = [x for rs in runs.values() for r in rs for x in r["loadavg_1min"]]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    from lmdata.filters.pii import DEFAULT_ENTITIES

    command = f"python -m bench.bench_pii --mb {a.mb:g} --docs {a.docs}" + (
        f" --repeat {a.repeat}" if a.repeat != 3 else "")

    body = "\n".join([
        f"`{command}` ({stamp}; {mach['python']}, "
        f"presidio-analyzer {mach['versions']['presidio-analyzer']}, one process each)",
        "",
        "| run | loop s (best / median) | MiB/s | CPU s (median) | MiB per CPU s | setup s | peak RSS (VmHWM) |",
        "|---|---|---|---|---|---|---|",
        "| naive Presidio: AnalyzerEngine.analyze + AnonymizerEngine.anonymize per document | "
        + " | ".join(cells(runs["naive"])) + " |",
        f"| lmdata `PiiRedactor.redact_batch` (pii_presidio_v1, batches of {a.batch}) | "
        + " | ".join(cells(runs["lmdata"])) + " |",
        "",
        "| lmdata / naive Presidio | ratio |",
        "|---|---|",
        f"| time (median) | {M.fmt_x(lt / nt)} (lmdata {nt / lt:,.0f}x faster) |",
        f"| CPU seconds (median) | {M.fmt_x(lc / nc)} |",
        f"| peak RSS | {M.fmt_x(lmem / nmem) if nmem else '-'} |",
        "",
        f"Texts: {len(texts):,} WET payloads ({mb:.1f} MiB UTF-8), every "
        f"{max(1, json.loads((root / 'corpus.json').read_text())['conversion_records'] // a.docs)}"
        f"-th conversion record of `{root.relative_to(M.REPO)}`; {n_spans:,} PII spans in "
        f"{docs_with:,} documents (entities {', '.join(sorted(DEFAULT_ENTITIES))}, threshold 0.4).",
        f"Same spans on {same_spans:,} / {len(texts):,} documents; same redacted text on "
        f"{same_text:,} / {len(texts):,}"
        + (" (Presidio's anonymizer merges overlapping spans of different types its own way; "
           "lmdata keeps the higher-scoring one)." if same_text < len(texts) else "."),
        f"Runs interleaved, {a.repeat} pairs with the order alternated (naive, lmdata; lmdata, "
        f"naive; ...), each a fresh subprocess; 1-minute load "
        f"average {min(loads)}-{max(loads)} on {mach['cores']} cores (shared machine).",
        "Why lmdata is faster: no spaCy pass (the blank pipeline adds nothing to pattern "
        "recognizers), one scan per recognizer over the whole batch, and regexes only on the "
        "short windows around trigger characters (module docstring of lmdata.filters.pii).",
    ])
    raw = M.OUT / "pii-results.json"
    M.save_raw(raw, {"stamp": stamp, "command": command, "machine": mach, "runs": runs,
                     "same_spans": same_spans, "same_text": same_text,
                     "docs": len(texts), "mib": mb, "order": M.ALTERNATING})  # fmt: skip
    print(body)
    if not a.no_write:
        M.replace_section(SECTION, body, before="PII")
        print(f"wrote {M.BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
