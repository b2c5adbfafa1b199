"""The peer of bench/bench_multilingual_curate.py: FineWeb-2's per-language filtering in datatrove.

Runs in its own venv (``bench/out/datatrove-venv``: datatrove 0.10.1 + the per-language word
tokenizers; bench_multilingual_curate.py installs them), started as

    bench/out/datatrove-venv/bin/python bench/datatrove_fineweb2.py --corpus DIR --work DIR \
        --workers 2 --lid-model lid.176.ftz --configs DIR --routes '{"de": "deu_Latn", ...}'

Imports nothing from lmdata or bench. One LocalPipelineExecutor (tasks = WET files, workers=N):

1. WarcReader over the WET files;
2. LanguageFilter (backend ft176, the same ``lid.176.ftz`` file lmdata loads; languages=None,
   threshold 0, so every document gets its label and score and none is dropped here);
3. ``FineWeb2Route``: the document's lid.176 label selects its FineWeb-2 configuration
   (``--routes`` label -> ``<code3>_<script>``; ``configs/<key>.yml``), then exactly FineWeb-2's
   steps 3 and 5 (huggingface/fineweb-2 ``fineweb-2-pipeline.py``) for that language: drop if
   ``language_score`` < the config's; GopherRepetitionFilter(language=key, dup_para_frac=0,
   dup_line_char_frac=0, dup_para_char_frac=0, dup_line_frac, top_n_grams, dup_n_grams from the
   config); FineWebQualityFilter(language=key, short_line_thr=999, char_duplicates_ratio=0.1,
   line_punct_thr, new_line_ratio); GopherQualityFilter(language=key, max/min_avg_word_length,
   stop_words, max_non_alpha_words_ratio, min_stop_words=2). Each filter tokenizes words with
   datatrove's tokenizer for that language (spaCy, IndicNLP, pythainlp, kiwipiepy, ...). A
   route ``"en": "en"`` runs the three filters with datatrove's defaults (FineWeb English).
   A label without a route is dropped (counted as ``no_recipe``).
4. JsonlWriter of the kept documents (datatrove's default gzip).

FineWeb-2 ran each language as its own job after writing the documents out by language; one
router step in one pass is the cheaper equivalent (no per-language re-read). Prints one JSON
line: seconds, and per-route documents in / kept and drop reasons summed over the tasks.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from collections import Counter


def make_route_step():
    from datatrove.pipeline.base import PipelineStep

    class FineWeb2Route(PipelineStep):
        name = "FineWeb-2 route by language"
        type = "🔻 - FILTER"

        def __init__(self, routes: dict, configs: str, stats_dir: str) -> None:
            super().__init__()
            import yaml
            from datatrove.pipeline.filters import (
                FineWebQualityFilter,
                GopherQualityFilter,
                GopherRepetitionFilter,
            )

            self.stats_dir = stats_dir
            self.routes = {}
            for label, key in routes.items():
                if key == "en":  # FineWeb (English): datatrove's defaults
                    chain = [GopherRepetitionFilter(), FineWebQualityFilter(),
                             GopherQualityFilter()]  # fmt: skip
                    self.routes[label] = (key, 0.0, chain)
                    continue
                with open(os.path.join(configs, f"{key}.yml")) as f:
                    cfg = yaml.safe_load(f)
                chain = [
                    GopherRepetitionFilter(
                        language=key, dup_para_frac=0, dup_line_char_frac=0,
                        dup_para_char_frac=0, dup_line_frac=cfg["dup_line_frac"],
                        top_n_grams=cfg["top_n_grams"], dup_n_grams=cfg["dup_n_grams"],
                    ),
                    FineWebQualityFilter(
                        language=key, short_line_thr=999, char_duplicates_ratio=0.1,
                        line_punct_thr=cfg["line_punct_thr"], new_line_ratio=cfg["new_line_ratio"],
                    ),
                    GopherQualityFilter(
                        language=key, max_avg_word_length=cfg["max_avg_word_length"],
                        min_avg_word_length=cfg["min_avg_word_length"],
                        stop_words=cfg["stopwords"],
                        max_non_alpha_words_ratio=cfg["max_non_alpha_words_ratio"],
                        min_stop_words=2,
                    ),
                ]  # fmt: skip
                self.routes[label] = (key, float(cfg["language_score"]), chain)

        def run(self, data, rank: int = 0, world_size: int = 1):
            seen: Counter = Counter()
            for doc in data:
                self.stat_update("total")
                label = doc.metadata.get("language")
                route = self.routes.get(label)
                if route is None:
                    seen[f"{label}:no_recipe"] += 1
                    continue
                key, min_score, chain = route
                seen[f"{key}:in"] += 1
                if doc.metadata.get("language_score", 0.0) < min_score:
                    seen[f"{key}:dropped:language_score"] += 1
                    continue
                reason = None
                for flt in chain:
                    with flt.track_time():
                        res = flt.filter(doc)
                    ok, why = (res, None) if isinstance(res, bool) else res
                    if not ok:
                        reason = f"{type(flt).__name__}:{why or 'filtered'}"
                        break
                if reason:
                    seen[f"{key}:dropped:{reason}"] += 1
                    continue
                seen[f"{key}:kept"] += 1
                self.stat_update("forwarded")
                yield doc
            os.makedirs(self.stats_dir, exist_ok=True)
            with open(os.path.join(self.stats_dir, f"{rank:05d}.json"), "w") as f:
                json.dump(dict(seen), f)

    return FineWeb2Route


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", required=True, help="a local dir laid out like the CC bucket")
    p.add_argument("--work", required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--lid-model", required=True, help="local lid.176 model file")
    p.add_argument("--configs", required=True, help="FineWeb-2 configs/ (<code3>_<script>.yml)")
    p.add_argument("--routes", required=True, help='JSON: lid.176 label -> FineWeb-2 key or "en"')
    a = p.parse_args(argv)

    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.lid import FT176LID

    lid_path = os.path.abspath(a.lid_model)
    if not os.path.isfile(lid_path):
        raise SystemExit(f"--lid-model {a.lid_model}: no such file")
    FT176LID.MODEL_URL = lid_path
    crawl_dir = os.path.join(a.corpus, "crawl-data")
    crawls = [x for x in os.listdir(crawl_dir)
              if os.path.isfile(os.path.join(crawl_dir, x, "wet.paths.gz"))]  # fmt: skip
    if len(crawls) != 1:
        raise SystemExit(f"{crawl_dir}: expected one crawl with a wet.paths.gz, found {crawls}")
    with gzip.open(os.path.join(crawl_dir, crawls[0], "wet.paths.gz"), "rt") as f:
        n_files = len(f.read().split())
    work = os.path.abspath(a.work)
    routes = json.loads(a.routes)
    lid = LanguageFilter(languages=None, language_threshold=0.0)
    lid.model.MODEL_URL = lid_path  # an instance attribute travels with the pickled step
    route = make_route_step()(routes, a.configs, os.path.join(work, "route-stats"))
    t0 = time.perf_counter()
    LocalPipelineExecutor(
        pipeline=[
            WarcReader(os.path.join(crawl_dir, crawls[0], "segments"),
                       glob_pattern="*/wet/*.warc.wet.gz", default_metadata={"dump": crawls[0]}),
            lid,
            route,
            JsonlWriter(os.path.join(work, "kept")),
        ],
        tasks=n_files, workers=min(a.workers, n_files), logging_dir=os.path.join(work, "logs"),
    ).run()  # fmt: skip
    secs = time.perf_counter() - t0
    total: Counter = Counter()
    sdir = os.path.join(work, "route-stats")
    for name in sorted(os.listdir(sdir)) if os.path.isdir(sdir) else []:
        with open(os.path.join(sdir, name)) as f:
            total.update(json.load(f))
    print(json.dumps({"seconds": round(secs, 3), "tasks": n_files, "workers": a.workers,
                      "routes": dict(sorted(total.items()))}), flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
