"""The peer of bench/bench_pipeline.py: lmdata's web curation pipeline written in datatrove.

Runs in its own venv (datatrove 0.10.1 needs Python >= 3.10 and pins its own stack; it is not in
lmdata's lock), started by bench_pipeline.py as

    bench/out/datatrove-venv/bin/python bench/datatrove_pipeline.py --corpus DIR --work DIR \
        --workers 2 --lid-model lid.176.ftz [--tokenizer tokenizer.json]

Imports nothing from lmdata or bench. FineWeb's layout (datatrove's examples/fineweb.py), with
the same settings as lmdata's run:

1. WarcReader over the WET files -> LanguageFilter (fastText lid.176, the same ``lid.176.ftz``
   file lmdata loads, languages=[en], threshold 0.65) -> GopherRepetitionFilter ->
   GopherQualityFilter -> C4QualityFilter (all datatrove defaults = the published ones lmdata
   reimplements) -> JsonlWriter (datatrove's default gzip).
2. MinHash, datatrove's four stages: signatures (word 5-grams, 14 buckets x 8 hashes = 112
   permutations, lmdata's setting), buckets (14 tasks), clusters (1 task), filter -> JsonlWriter.
3. (with --tokenizer) DocumentTokenizer with that local tokenizer.json (no hub), EOS appended,
   no shuffling (lmdata's mix writes documents in order).

Every stage runs with LocalPipelineExecutor(tasks=<files or buckets>, workers=N). Prints one JSON
line: seconds per stage.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", required=True, help="bench/corpus.py output (crawl-data/...)")
    p.add_argument("--work", required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--lid-model", required=True, help="local lid.176 model file")
    p.add_argument("--languages", default="en")
    p.add_argument("--tokenizer", help="local tokenizer.json (enables the tokenization stage)")
    p.add_argument("--eos", default="<|endoftext|>")
    a = p.parse_args(argv)

    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.lid import FT176LID

    if not os.path.isfile(a.lid_model):
        raise SystemExit(f"--lid-model {a.lid_model}: no such file")
    lid_path = os.path.abspath(a.lid_model)
    FT176LID.MODEL_URL = lid_path  # fsspec copies it into datatrove's cache

    crawl_dir = os.path.join(a.corpus, "crawl-data")
    listing = [
        x
        for x in os.listdir(crawl_dir)
        if os.path.isfile(os.path.join(crawl_dir, x, "wet.paths.gz"))
    ]
    if len(listing) != 1:
        raise SystemExit(f"{crawl_dir}: expected one crawl with a wet.paths.gz, found {listing}")
    crawl = listing[0]
    with gzip.open(os.path.join(crawl_dir, crawl, "wet.paths.gz"), "rt") as f:
        n_files = len(f.read().split())
    work = os.path.abspath(a.work)
    w = a.workers
    langs = a.languages.split(",")
    mh = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8,
                       hash_config=HashConfig(precision=64))  # fmt: skip
    secs: dict[str, float] = {}

    def run(name: str, pipeline: list, tasks: int) -> None:
        t0 = time.perf_counter()
        LocalPipelineExecutor(
            pipeline=pipeline, tasks=tasks, workers=min(w, tasks),
            logging_dir=os.path.join(work, "logs", name),
        ).run()  # fmt: skip
        secs[name] = round(time.perf_counter() - t0, 3)
        print(f"[datatrove] {name}: {secs[name]:.1f}s", file=sys.stderr, flush=True)

    lid = LanguageFilter(languages=langs, language_threshold=0.65)
    lid.model.MODEL_URL = lid_path  # an instance attribute travels with the pickled step
    run(
        "filter",
        [
            WarcReader(os.path.join(a.corpus, "crawl-data", crawl, "segments"),
                       glob_pattern="*/wet/*.warc.wet.gz", default_metadata={"dump": crawl}),
            lid,
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(),
            JsonlWriter(os.path.join(work, "filtered")),
        ],
        n_files,
    )  # fmt: skip
    run("minhash_signatures",
        [JsonlReader(os.path.join(work, "filtered")),
         MinhashDedupSignature(output_folder=os.path.join(work, "signatures"), config=mh)],
        n_files)  # fmt: skip
    run("minhash_buckets",
        [MinhashDedupBuckets(input_folder=os.path.join(work, "signatures"),
                             output_folder=os.path.join(work, "buckets"), config=mh)],
        mh.num_buckets)  # fmt: skip
    run("minhash_clusters",
        [MinhashDedupCluster(input_folder=os.path.join(work, "buckets"),
                             output_folder=os.path.join(work, "remove_ids"), config=mh)],
        1)  # fmt: skip
    run("minhash_filter",
        [JsonlReader(os.path.join(work, "filtered")),
         MinhashDedupFilter(input_folder=os.path.join(work, "remove_ids")),
         JsonlWriter(os.path.join(work, "deduped"))],
        n_files)  # fmt: skip
    if a.tokenizer:
        from datatrove.pipeline.tokens import DocumentTokenizer

        run("tokenize",
            [JsonlReader(os.path.join(work, "deduped")),
             DocumentTokenizer(output_folder=os.path.join(work, "tokens"),
                               tokenizer_name_or_path=os.path.abspath(a.tokenizer),
                               eos_token=a.eos, shuffle_documents=False)],
            n_files)  # fmt: skip
    print(json.dumps({"seconds": secs, "tasks": n_files, "workers": w}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
