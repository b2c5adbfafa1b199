"""Stage `mix`: gold tables -> a versioned, tokenized, DVC-tracked mixture.

    gold/web_documents (+ language from silver/web_attributes)  \\
    gold/code_files                                              -> <repo>/<name>/shards/part-*.bin/.idx
                                                                    manifest.json, tokenizer.json,
                                                                    DATASHEET.md; git commit + tag
                                                                    <name>@v<N>; dvc push

1. Resolve the spec's table versions ("latest" -> a number) and read exactly those snapshots.
2. Measure every source (documents, UTF-8 bytes); train the byte-level BPE tokenizer on a seeded
   sample (or load the given tokenizer.json) and measure tokens per byte per source.
3. Plan targets and rates (lmdata.mixture.spec.plan: weights, token budgets, temperature).
   When the rates do not depend on sizes (lmdata.mixture.spec.size_free_rates: temperature 1,
   no budgets) and the tokenizer is given, there is no tokenizer sample: tokens per byte are
   measured exactly in step 5; when every document is also taken once and the shard count is
   fixed, step 2 goes too (sizes come from step 5): the text is read once. Otherwise the pool is
   cached for the passes that read it.
4. Sample in Spark: floor(rate) copies of every document plus one more when
   hash(seed, source, doc_id) < frac(rate); global shuffle: order key = hash(seed, source,
   doc_id, copy), shard = Spark's hash partitioning of the order key into N partitions, sorted
   within. Membership and order depend only on the data and the seed, never on the cluster.
5. One Spark task per shard tokenizes Arrow batches (`encode_batch`, one tokenizer per Python
   worker), appends the end-of-document id and writes `part-<task>.bin/.idx`
   (lmdata.tokens.megatron) under temporary names, then renames; it returns counts (per source,
   language, bucket, license) and sha256s.
6. Under the data repository's lock: move the shards into place, write tokenizer, manifest and
   card, run the shards gate (verify_manifest), `dvc add`, commit, tag, `dvc push`.
   Same inputs + spec + seed -> byte-identical shards and the same fingerprint: no new version
   (the existing version's files are checked out and its tag reported).

Prints `LMDATA_MIXTURE {json}` (mixture, version, tag, rev, manifest, repo, remote, status) and
writes it to `--result-out`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import math
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

from lmdata.errors import ConfigError, FatalError
from lmdata.lake import delta
from lmdata.mixture.select import NULL_BUCKET
from lmdata.spark.job import Stage, StageContext
from lmdata.stats import MIXTURE_RESULT_PREFIX as RESULT_PREFIX

log = logging.getLogger("lmdata")
_MASK63 = 0x7FFFFFFFFFFFFFFF
_SHARD_SCHEMA = pa.schema(
    [
        ("shard", pa.int32()),
        ("bin_sha256", pa.string()),
        ("idx_sha256", pa.string()),
        ("shard_documents", pa.int64()),
        ("shard_tokens", pa.int64()),
        ("source", pa.string()),
        ("language", pa.string()),
        ("bucket", pa.string()),
        ("license", pa.string()),
        ("documents", pa.int64()),
        ("tokens", pa.int64()),
        ("text_bytes", pa.int64()),
    ]
)


def _write_shard(batches, staging: str, tok_json: bytes, tok_sha: str, eod_id: int, dtype: str):
    """mapInArrow body: one Spark partition -> one .bin/.idx pair; yields per-(source, language,
    bucket, license) counts with the shard's checksums (bucket: for sources that weight by
    buckets; license: what the dataset card lists, counted here instead of in another scan)."""
    import numpy as np
    from pyspark import TaskContext

    from lmdata.tokens.encode import encode_documents, worker_tokenizer
    from lmdata.tokens.megatron import IndexedDatasetWriter
    from lmdata.tokens.train import sha256_file

    pid = TaskContext.get().partitionId()
    tok = worker_tokenizer(tok_json, tok_sha)
    writer = None
    groups: dict[tuple[str, str, str | None, str | None], list[int]] = {}
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            if writer is None:
                writer = IndexedDatasetWriter(f"{staging}/part-{pid:05d}", np.dtype(dtype).type)
            texts = batch.column("text").to_pylist()
            sources = batch.column("source").to_pylist()
            langs = batch.column("language").to_pylist()
            buckets = batch.column("bucket").to_pylist()
            lics = batch.column("license").to_pylist()
            nbytes = batch.column("nbytes").to_pylist()
            docs = encode_documents(tok, texts, eod_id, dtype)
            for arr, s, lang, b, lic, nb in zip(
                docs, sources, langs, buckets, lics, nbytes, strict=True
            ):
                writer.add_document(arr)
                g = groups.setdefault((s, lang, b, lic), [0, 0, 0])
                g[0] += 1
                g[1] += int(arr.size)
                g[2] += int(nb)
        if writer is None:
            return
        bin_path, idx_path = writer.close()
    except BaseException:
        if writer is not None:
            writer.__exit__(RuntimeError, None, None)
        raise
    bsha, isha = sha256_file(bin_path), sha256_file(idx_path)
    rows = [
        {
            "shard": pid,
            "bin_sha256": bsha,
            "idx_sha256": isha,
            "shard_documents": writer.documents,
            "shard_tokens": writer.tokens,
            "source": s,
            "language": lang,
            "bucket": b,
            "license": lic,
            "documents": g[0],
            "tokens": g[1],
            "text_bytes": g[2],
        }
        for (s, lang, b, lic), g in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0])))
    ]
    yield pa.RecordBatch.from_pylist(rows, schema=_SHARD_SCHEMA)


def _parse_pins(values: list[str]) -> dict[str, int]:
    """`["gold/web_documents=5,gold/code_files=3"]` -> {table: version} (empty items skipped)."""
    out: dict[str, int] = {}
    for item in (x.strip() for v in values or [] for x in v.split(",")):
        if not item:
            continue
        table, sep, ver = item.partition("=")
        if not sep or not ver.strip().isdigit():
            raise ConfigError(f"--pin {item!r}: expected TABLE=VERSION")
        out[table.strip()] = int(ver)
    return out


def _uniform(seed_parts: list[Any]):
    """A deterministic uniform [0, 1) draw per row: xxhash64 of the seed and columns."""
    from pyspark.sql import functions as F

    h = F.xxhash64(*seed_parts).bitwiseAND(F.lit(_MASK63))
    return h.cast("double") / F.lit(float(2**63))


def _by_source(mapping: dict[str, float], default: float = 0.0):
    from pyspark.sql import functions as F

    expr = F.lit(default)
    for k, v in sorted(mapping.items()):
        expr = F.when(F.col("source") == F.lit(k), F.lit(float(v))).otherwise(expr)
    return expr


def _lower(v: Any) -> Any:
    if isinstance(v, list):
        return [_lower(x) for x in v]
    return v.lower() if isinstance(v, str) else v


def _num(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else x


def _kind(dtype) -> str:
    """A Spark type -> the kind lmdata.mixture.select compares values with."""
    from pyspark.sql import types as T

    if isinstance(dtype, T.BooleanType):
        return "bool"
    if isinstance(dtype, T.NumericType):
        return "number"
    if isinstance(dtype, T.StringType):
        return "string"
    if isinstance(dtype, T.DateType):
        return "date"
    if isinstance(dtype, T.TimestampType | T.TimestampNTZType):
        return "timestamp"
    return "other"


def _condition(col, ops: dict[str, Any]):
    """A filter condition (lmdata.mixture.select.Condition.ops()) as a Spark column; `ne` and
    `not_in` keep nulls, every other comparison drops them."""
    from pyspark.sql import functions as F

    cond = F.lit(True)
    for op, v in ops.items():
        if op == "is_null":
            c = col.isNull() if v else col.isNotNull()
        elif op == "in":
            c = col.isin(list(v))
        elif op == "not_in":
            c = col.isNull() | ~col.isin(list(v))
        elif op == "ne":
            c = col.isNull() | (col != F.lit(v))
        else:
            c = {"eq": col == F.lit(v), "min": col >= F.lit(v), "max": col <= F.lit(v),
                 "gt": col > F.lit(v), "lt": col < F.lit(v)}[op]  # fmt: skip
        cond = cond & c
    return cond


def _selection(source: str, selections: dict, by_bucket: dict) -> dict[str, Any]:
    """The manifest's `selection` of a source that selects by attributes ({} otherwise): the
    attributes table@version, the filter expression, the bucket column, edges and weights, and
    per bucket the documents it had (documents_in, bytes_in) and contributed (documents, tokens;
    a document taken twice counts twice)."""
    if source not in selections:
        return {}
    sel = json.loads(json.dumps(selections[source]))
    for b in sel.get("bucket", {}).get("buckets", []):
        b["documents"], b["tokens"] = by_bucket.get((source, b["name"]), [0, 0])
    return {"selection": sel}


_SNAPSHOT_PARTITIONS = "spark.databricks.delta.snapshotPartitions"
_FILES_PER_SNAPSHOT_PARTITION = 10_000


def _snapshot_partitions(ctx: StageContext, versions: dict[str, int]) -> int:
    """Spark tasks for Delta's snapshot state: one per 10,000 data files of the largest table
    read, 1 to 50 (Delta's default), counted from the Delta log by delta-rs."""
    files = max(len(delta.snapshot_files(ctx.table(t), v)[1]) for t, v in versions.items())
    return max(1, min(50, math.ceil(files / _FILES_PER_SNAPSHOT_PARTITION)))


def _given_tokenizer(spec, spec_file: Path) -> bytes:
    """The bytes of the spec's `tokenizer.path` (relative: to the working directory, else to the
    spec file)."""
    p = Path(spec.tokenizer.path)
    if not p.is_absolute() and not p.exists():
        p = spec_file.parent / p
    return p.read_bytes()


def _measured_tpb(spec, rows) -> dict[str, float]:
    """Tokens per byte per source, exactly, from the shards' counts (tokens without the
    end-of-document ids, over the UTF-8 bytes of the same documents); a source without documents
    gets the overall figure."""
    tokens: dict[str, int] = {}
    nbytes: dict[str, int] = {}
    for r in rows:
        tokens[r["source"]] = tokens.get(r["source"], 0) + int(r["tokens"]) - int(r["documents"])
        nbytes[r["source"]] = nbytes.get(r["source"], 0) + int(r["text_bytes"])
    return _tpb(spec, tokens, nbytes)


def _tpb(spec, tokens: dict[str, int], nbytes: dict[str, int]) -> dict[str, float]:
    """Tokens per byte per source from token and byte counts; the overall figure for a source
    without bytes."""
    overall = sum(tokens.values()) / max(1, sum(nbytes.values())) or 0.25
    return {s.name: (tokens[s.name] / nbytes[s.name]) if nbytes.get(s.name) else overall
            for s in spec.sources}  # fmt: skip


class MixStage(Stage):
    name = "mix"
    description = "Build a versioned, tokenized, DVC-tracked mixture from gold tables."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--mixture", required=True, help="spec name (configs/mixtures/NAME.yaml) or path"
        )
        parser.add_argument("--spec-dir", default=None, help="where mixture specs live")
        parser.add_argument(
            "--out",
            default=None,
            help="the mixtures data repository (git + DVC; default $LMDATA_MIXTURES_REPO, "
            "else var/mixtures); the mixture is written to OUT/NAME/",
        )
        parser.add_argument(
            "--remote",
            default=None,
            help="DVC remote URL: a directory or s3://bucket/prefix (default $LMDATA_DVC_REMOTE, "
            "else var/dvc-remote; an existing repository keeps its remote)",
        )
        parser.add_argument("--no-dvc", action="store_true", help="write files only (no git/DVC)")
        parser.add_argument("--result-out", default=None, help="also write the result JSON here")
        parser.add_argument(
            "--pin",
            action="append",
            default=[],
            metavar="TABLE=VERSION[,...]",
            help="read TABLE at VERSION (the versions of the triggering asset events); "
            "unpinned tables: the spec's pin, else the published version",
        )

    def app_id(self, ctx: StageContext) -> str:
        return f"lmdata:{self.name}:{ctx.args.mixture}:{ctx.run_id}"

    # ------------------------------------------------------------------ inputs
    def _versions(self, ctx: StageContext, spec) -> dict[str, int]:
        """Pins (--pin, from the asset events) > the spec's versions > the published version
        (lmdata.lake.published; a table's language source at the version published with it)."""
        from lmdata.lake import published
        from lmdata.mixture.spec import ATTRIBUTES, TABLES

        pins = _parse_pins(ctx.args.pin)
        wanted = spec.table_versions()
        unknown = sorted(set(pins) - set(wanted))
        if unknown:
            raise ConfigError(f"mixture {spec.name}: --pin names tables it reads not: {unknown}")
        out: dict[str, int] = {}
        for t in wanted:
            if not delta.exists(ctx.table(t)):
                raise FatalError(
                    f"mixture {spec.name}: table {t} does not exist in the lake {ctx.lake} "
                    "(run the pipeline that writes it first)"
                )
        # documents first, then where their languages come from
        lang_of = {TABLES[t][1][0]: t for t in wanted if t in TABLES and TABLES[t][1][0] != t}
        # and the attributes tables (filter / bucket columns) the same way: the version
        # published with the gold version read (the curate output it was built from, or a later
        # --redecide published before it), else the latest published
        for t in wanted:
            if ATTRIBUTES.get(t) in wanted:
                lang_of.setdefault(ATTRIBUTES[t], t)
        for t in sorted(wanted, key=lambda t: t in lang_of):
            want = pins.get(t, wanted[t])
            if want == "latest" and t in lang_of and lang_of[t] in out:
                # the language table as published when the documents' version was published
                row = published.publish_row(ctx.lake, lang_of[t], out[lang_of[t]])
                v = published.as_of(ctx.lake, t, row["at"] if row else None)
                if v is not None:
                    out[t] = v
                    print(f"{t}: reading v{v}, published with {lang_of[t]}@v{out[lang_of[t]]}")
                    continue
            out[t] = published.resolve_logged(ctx.lake, t, None if want == "latest" else int(want))
        return out

    def _pool(self, ctx: StageContext, spec, versions: dict[str, int], cache: bool = False):
        """(pool, selections): doc_id, source, language, license, text, nbytes, bucket, w of
        every candidate document (w: its bucket's weight, 1 without buckets), and per source that
        selects by attributes what it selected (for the manifest).

        Filter and bucket columns are validated against the schemas of the gold table and its
        attributes table (joined by doc_id) before any Spark job runs. cache: the pool is
        persisted (memory, spilling to disk) for the several passes that read it; the caller
        unpersists `self._cached`."""
        from functools import reduce

        from pyspark.sql import functions as F

        from lmdata.lang import language_column
        from lmdata.mixture.select import check_columns, describe_filter, selection_columns
        from lmdata.mixture.spec import ATTRIBUTES, CODE_TABLE, WEB_TABLE
        from lmdata.spark.io import read_delta

        base: dict[str, Any] = {}
        selections: dict[str, dict[str, Any]] = {}
        bucket_cols: dict[str, str] = {}  # source -> its bucket column in the pool
        for t in sorted({s.table for s in spec.sources}):
            srcs = [s for s in spec.sources if s.table == t]
            df, _ = read_delta(ctx.spark, ctx.table(t), versions[t])
            at = ATTRIBUTES[t]
            attrs = None
            if t == WEB_TABLE or any(s.selects for s in srcs):
                attrs, _ = read_delta(ctx.spark, ctx.table(at), versions[at])
            gold_kinds = {f.name: _kind(f.dataType) for f in df.schema.fields if f.name != "text"}
            attr_kinds = {
                f.name: _kind(f.dataType)
                for f in (attrs.schema.fields if attrs is not None else [])
                if f.name not in gold_kinds
            }
            available = {**attr_kinds, **gold_kinds, "language": "string", "license": "string"}
            where = f"{t}@v{versions[t]}" + (f" + {at}@v{versions[at]}" if attrs else "")
            for s in srcs:
                check_columns(s.name, s.filter, s.bucket, available, where)
            needed = {c for s in srcs for c in selection_columns(s.filter, s.bucket)}
            from_attrs = sorted(c for c in needed if c in attr_kinds and c != "language")
            join_cols = [F.col(c) for c in from_attrs]
            if t == WEB_TABLE:
                lang_col = language_column(attrs.columns)
                if lang_col:
                    join_cols.append(F.col(lang_col).alias("language"))
                else:
                    df = df.withColumn("language", F.lit(None).cast("string"))
                lic = F.lit(None).cast("string")
            elif t == CODE_TABLE:
                lic = F.col("repo_license")
            if join_cols:
                df = df.join(attrs.select("doc_id", *join_cols), "doc_id", "left")
            df = df.withColumn(
                "language", F.lower(F.coalesce(F.col("language"), F.lit("und")))
            ).withColumn("license", lic)
            # one scan per table: every row gets the names of the sources it belongs to (sources
            # may overlap) and is exploded into one row per source
            names = []
            extra = []
            for s in srcs:
                cond = F.lit(True)
                if s.languages is not None:
                    cond = cond & F.col("language").isin(list(s.languages))
                if s.exclude_languages:
                    cond = cond & ~F.col("language").isin(list(s.exclude_languages))
                for col, c in s.filter.items():
                    ops = c.ops()
                    if col == "language":  # the pool's labels are lower case, as `languages`
                        ops = {k: _lower(v) for k, v in ops.items()}
                    cond = cond & _condition(F.col(col), ops)
                names.append(F.when(cond, F.lit(s.name)))
                if s.bucket is not None:
                    bucket_cols[s.name] = f"_bucket_{len(bucket_cols)}"
                    extra.append(F.col(s.bucket.column).cast("double").alias(bucket_cols[s.name]))
                if s.selects:
                    selections[s.name] = {
                        "attributes": f"{at}@v{versions[at]}",
                        "filter": describe_filter(s.filter),
                    }
            base[t] = df.select(
                "doc_id",
                "language",
                "license",
                "text",
                *extra,
                F.explode(F.array_compact(F.array(*names))).alias("source"),
            )
        pool = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), base.values())
        pool = pool.withColumn("nbytes", F.octet_length("text").cast("long"))
        if cache:
            pool = pool.persist()  # DataFrame default: MEMORY_AND_DISK (also on Spark Connect)
            self._cached = pool
        bucket = F.lit(None).cast("string")
        weight = F.lit(1.0)
        for s in spec.sources:
            if s.bucket is None:
                continue
            col = F.col(bucket_cols[s.name])
            b = s.bucket
            edges = list(b.edges or [])
            if b.quantiles is not None:
                ctx.job_group(f"quantiles of {b.column} in {s.name}")
                edges = pool.where(F.col("source") == s.name).approxQuantile(
                    bucket_cols[s.name], list(b.quantiles), 0.0
                )  # relativeError 0: exact, so the edges do not depend on the partitioning
                if len(edges) != len(b.quantiles):  # no non-null value at all
                    edges = [math.nan] * len(b.quantiles)
            ranges = b.ranges(edges)
            name = F.when(col.isNull() | F.isnan(col), F.lit(NULL_BUCKET))
            w = F.when(col.isNull() | F.isnan(col), F.lit(b.weight(NULL_BUCKET)))
            for n, _, hi in ranges[:-1]:
                name = name.when(col < F.lit(hi), F.lit(n))
                w = w.when(col < F.lit(hi), F.lit(b.weight(n)))
            name = name.otherwise(F.lit(ranges[-1][0]))
            w = w.otherwise(F.lit(b.weight(ranges[-1][0])))
            is_s = F.col("source") == F.lit(s.name)
            bucket = F.when(is_s, name).otherwise(bucket)
            weight = F.when(is_s, w).otherwise(weight)
            selections[s.name]["bucket"] = {
                "column": b.column,
                "quantiles": b.quantiles,
                "edges": [None if math.isnan(e) else e for e in edges],
                "buckets": [
                    {"name": n, "low": _num(lo), "high": _num(hi), "weight": b.weight(n)}
                    for n, lo, hi in [*ranges, (NULL_BUCKET, None, None)]
                ],
            }
        pool = pool.withColumn("bucket", bucket).withColumn("w", weight.cast("double"))
        return pool.drop(*bucket_cols.values()), selections

    def _tokenizer(self, ctx, spec, spec_file: Path, pool, bytes_by_source) -> tuple[bytes, dict]:
        """(tokenizer.json bytes, tokens per byte per source)."""
        from pyspark.sql import functions as F

        from lmdata.mixture.spec import plan
        from lmdata.tokens.train import load_tokenizer, train_bpe

        tspec = spec.tokenizer
        limit = (
            tspec.train_sample_bytes
            if tspec.path is None
            else min(tspec.train_sample_bytes, 8 << 20)
        )
        byte_plan = plan(spec, bytes_by_source)
        total = sum(p.target for p in byte_plan.values()) or 1.0
        frac = {
            k: min(1.0, limit * p.target / total / bytes_by_source[k])
            for k, p in byte_plan.items()
            if bytes_by_source.get(k)
        }
        u = _uniform([F.lit(spec.seed), F.lit("tokenizer"), F.col("source"), F.col("doc_id")])
        ctx.job_group(f"tokenizer sample (~{limit / 1e6:.1f} MB)")
        rows = (
            pool.withColumn("u", u)
            .where(F.col("u") < _by_source(frac))
            .select("u", "source", "doc_id", "text")
            .orderBy("u", "source", "doc_id")
            .collect()
        )
        texts = [r["text"] for r in rows]
        if tspec.path is None:
            if not texts:
                raise FatalError(f"mixture {spec.name}: no documents to train the tokenizer on")
            ctx.job_group(f"train byte-level BPE (vocab {tspec.vocab_size}) on {len(texts)} docs")
            tok = train_bpe(
                texts,
                vocab_size=tspec.vocab_size,
                special_tokens=tspec.special_tokens,
                min_frequency=tspec.min_frequency,
            )
            tok_json = tok.to_str().encode("utf-8")
            tok = load_tokenizer(tok_json)
        else:
            tok_json = _given_tokenizer(spec, spec_file)
            tok = load_tokenizer(tok_json)
        from lmdata.tokens.encode import iter_ids

        tokens: dict[str, int] = {}
        nbytes: dict[str, int] = {}
        for r, t in zip(rows, iter_ids(tok, texts), strict=True):
            tokens[r["source"]] = tokens.get(r["source"], 0) + len(t)
            nbytes[r["source"]] = nbytes.get(r["source"], 0) + len(r["text"].encode("utf-8"))
        return tok_json, _tpb(spec, tokens, nbytes)

    # ------------------------------------------------------------------ the run
    def run(self, ctx: StageContext) -> None:
        from lmdata.mixture.dvc import resolve_repo
        from lmdata.mixture.spec import load_spec, size_free_rates

        a = ctx.args
        spec, spec_file = load_spec(a.mixture, a.spec_dir)
        repo_root = resolve_repo(a.out)
        versions = self._versions(ctx, spec)
        ctx.stats.inputs.update(versions)
        # What the plan needs before it samples (lmdata.mixture.spec.size_free_rates): when the
        # rates do not depend on the sources' sizes and the tokenizer is given, tokens per byte
        # are measured exactly on the tokenized documents instead of on a sample; when, moreover,
        # every document is taken once (rate 1, no bucket weights) and the shard count is fixed,
        # the sizes too come from that pass and the text is read once. Otherwise the pool is
        # cached: measuring, the tokenizer sample, quantiles and the shards read it, not the
        # tables again.
        free = size_free_rates(spec)
        skip_sample = free is not None and spec.tokenizer.path is not None
        one_pass = (
            skip_sample
            and spec.shards.count is not None
            and all(r == 1.0 for r in free.values())
            and not any(s.bucket is not None for s in spec.sources)
        )
        ctx.stats.counters["single_scan"] = int(one_pass)
        # Delta builds each snapshot's state, and filters its files for every query, with
        # `snapshotPartitions` Spark tasks (default 50): on small tables most of the stage's Spark
        # jobs were that. Sized to the files the snapshots hold unless the session sets it.
        saved = ctx.spark.conf.get(_SNAPSHOT_PARTITIONS, None)
        if saved is None:
            ctx.spark.conf.set(_SNAPSHOT_PARTITIONS, str(_snapshot_partitions(ctx, versions)))
        self._cached = None
        try:
            pool, selections = self._pool(ctx, spec, versions, cache=not one_pass)
            result = self._mix(
                ctx, spec, spec_file, repo_root, versions, pool, selections, free, skip_sample,
                one_pass,
            )  # fmt: skip
        finally:
            # after a failure (a dead JVM too) the stage's own error is what counts
            with contextlib.suppress(Exception):
                if self._cached is not None:
                    self._cached.unpersist()
                if saved is None:
                    ctx.spark.conf.unset(_SNAPSHOT_PARTITIONS)
            self._cached = None
        line = json.dumps(result, sort_keys=True)
        print(RESULT_PREFIX + line, flush=True)
        if a.result_out:
            Path(a.result_out).parent.mkdir(parents=True, exist_ok=True)
            Path(a.result_out).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        log.info("mixture %s: %s", result["tag"], result["status"])
        ctx.stats.tables[f"mixtures/{spec.name}"] = result["version"]
        ctx.stats.counters["version"] = result["version"]
        ctx.stats.counters["new_version"] = int(result["status"] == "created")

    def _sizes(self, ctx, spec, sizes, selections) -> dict[str, float]:
        """Documents and bytes per source (and bucket) from `sizes` rows (source, bucket, n: documents,
        b: bytes, wb: bytes x bucket weight) into the stats and the selections; returns the
        natural size in bytes per source (a bucket weighted 2 counts twice)."""
        docs_in: dict[str, int] = {}
        bytes_in = {s.name: 0.0 for s in spec.sources}
        for r in sizes:
            docs_in[r["source"]] = docs_in.get(r["source"], 0) + int(r["n"])
            bytes_in[r["source"]] += float(r["wb"] or 0)
            if r["source"] in selections and "bucket" in selections[r["source"]]:
                for b in selections[r["source"]]["bucket"]["buckets"]:
                    if b["name"] == r["bucket"]:
                        b["documents_in"], b["bytes_in"] = int(r["n"]), int(r["b"] or 0)
        for sel in selections.values():
            for b in sel.get("bucket", {}).get("buckets", []):
                b.setdefault("documents_in", 0)
                b.setdefault("bytes_in", 0)
        ctx.stats.rows_in = sum(docs_in.values())
        ctx.stats.bytes_in = int(sum(bytes_in.values()))
        for s in spec.sources:
            if not docs_in.get(s.name):
                log.warning("mixture %s: source %s has no documents", spec.name, s.name)
        return bytes_in

    def _mix(
        self, ctx, spec, spec_file, repo_root, versions, pool, selections, free, skip_sample,
        one_pass,
    ) -> dict[str, Any]:  # fmt: skip
        from pyspark.sql import functions as F

        from lmdata.mixture import manifest as mf
        from lmdata.mixture.dvc import DataRepo
        from lmdata.mixture.spec import plan
        from lmdata.tokens.train import TokenizerInfo, load_tokenizer, sha256_bytes

        a = ctx.args
        clock = time.monotonic()

        def lap(name: str) -> None:  # phase wall times (ms) in the stats, for the benchmark
            nonlocal clock
            now = time.monotonic()
            ctx.stats.counters[f"ms_{name}"] = int((now - clock) * 1000)
            clock = now

        bytes_in: dict[str, float] = {}
        if not one_pass:
            ctx.job_group("measure sources")
            sizes = (
                pool.groupBy("source", "bucket")
                .agg(
                    F.count("*").alias("n"),
                    F.sum("nbytes").alias("b"),
                    F.sum(F.col("nbytes") * F.col("w")).alias("wb"),
                )
                .collect()
            )
            bytes_in = self._sizes(ctx, spec, sizes, selections)
            lap("measure")
        tpb: dict[str, float] | None = None
        if skip_sample:
            tok_json = _given_tokenizer(spec, spec_file)
            rates = dict(free)
        else:
            tok_json, tpb = self._tokenizer(
                ctx, spec, spec_file, pool.where(F.col("w") > 0), bytes_in
            )
            lap("tokenizer")
            the_plan = plan(spec, {k: bytes_in[k] * tpb[k] for k in bytes_in})
            rates = {k: p.rate for k, p in the_plan.items()}
        tok_sha = sha256_bytes(tok_json)
        info = TokenizerInfo.of(load_tokenizer(tok_json), spec.tokenizer.eod_token)

        if spec.shards.count:
            n_shards = spec.shards.count
        else:
            expected_bytes = sum(bytes_in[k] * rates[k] for k in bytes_in)
            n_shards = max(1, math.ceil(expected_bytes / spec.shards.max_text_bytes))

        rate = _by_source(rates) * F.col("w")  # the source's rate x the bucket's weight
        u = _uniform([F.lit(spec.seed), F.col("source"), F.col("doc_id")])
        copies = (F.floor(rate) + F.when(u < rate - F.floor(rate), 1).otherwise(0)).cast("int")
        chosen = pool.withColumn("copies", copies).where(F.col("copies") > 0)
        sampled = chosen.withColumn("copy", F.explode(F.sequence(F.lit(0), F.col("copies") - 1)))
        order = F.xxhash64(F.lit(spec.seed), F.col("source"), F.col("doc_id"), F.col("copy"))
        ordered = (
            sampled.select(
                order.alias("order_key"),
                "source",
                "doc_id",
                "copy",
                "language",
                "bucket",
                "license",
                "text",
                "nbytes",
            )
            .repartition(n_shards, "order_key")
            .sortWithinPartitions("order_key", "source", "doc_id", "copy")
        )

        repo = DataRepo(repo_root, a.remote)
        repo_root.mkdir(parents=True, exist_ok=True)
        run_tag = uuid.uuid4().hex[:12]
        staging = repo_root / f".staging-{run_tag}"
        (staging / mf.SHARDS_DIR).mkdir(parents=True)
        try:
            ctx.job_group(f"tokenize + write {n_shards} shards")
            eod, dtype, st = info.eod_id, info.dtype, str(staging / mf.SHARDS_DIR)
            rows = ordered.mapInArrow(
                lambda it: _write_shard(it, st, tok_json, tok_sha, eod, dtype),
                "shard int, bin_sha256 string, idx_sha256 string, shard_documents long, "
                "shard_tokens long, source string, language string, bucket string, "
                "license string, documents long, tokens long, text_bytes long",
            ).collect()
            lap("tokenize_write")
            if one_pass:  # every document taken once: what was written is what there was
                bytes_in = self._sizes(
                    ctx, spec,
                    [{"source": r["source"], "bucket": r["bucket"], "n": r["documents"],
                      "b": r["text_bytes"], "wb": r["text_bytes"]} for r in rows],
                    selections,
                )  # fmt: skip
            if tpb is None:
                tpb = _measured_tpb(spec, rows)
                the_plan = plan(spec, {k: bytes_in[k] * tpb[k] for k in bytes_in})
                moved = {
                    k: (p.rate, rates[k])
                    for k, p in the_plan.items()
                    if p.natural > 0 and abs(p.rate - rates[k]) > 1e-9
                }
                if moved:  # size_free_rates promised rates the plan does not give
                    raise FatalError(f"mixture {spec.name}: sampling rates {moved} depend on sizes")
            facts = self._facts(ctx, spec)
            facts["licenses"] = {}
            for r in rows:
                lic = facts["licenses"].setdefault(r["source"], {})
                k = r["license"] or "unknown"
                lic[k] = lic.get(k, 0) + int(r["documents"])
            result = self._publish(
                ctx, spec, spec_file, repo, staging, rows, versions, the_plan, tpb, n_shards,
                tok_json, tok_sha, info, facts, selections,
            )  # fmt: skip
            lap("publish")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return result

    def _facts(self, ctx: StageContext, spec) -> dict[str, Any]:
        """Curation and dedup rates measured in the lake, for the dataset card."""
        from pyspark.sql import functions as F

        from lmdata.spark.io import read_delta

        facts: dict[str, Any] = {"curation": {}, "dedup": {}}
        for kind in sorted({s.kind for s in spec.sources}):
            for key, table, col in (
                ("curation", f"silver/{kind}_attributes", "drop_reason"),
                ("dedup", f"silver/{kind}_dedup", "dedup_reason"),
            ):
                uri = ctx.table(table)
                # the schema from the Delta log (delta-rs): no Spark snapshot of a table
                # without the column; Spark's too (it drops a column of type null)
                if not delta.exists(uri) or col not in delta.schema_of(uri).names:
                    continue
                df, _ = read_delta(ctx.spark, uri)
                if col not in df.columns:
                    continue
                counts = df.groupBy(col).agg(F.count("*").alias("n")).collect()
                facts[key][kind] = {
                    "total": sum(int(r["n"]) for r in counts),
                    ("dropped" if key == "curation" else "removed"): {
                        r[col]: int(r["n"]) for r in counts if r[col] is not None
                    },
                }
        return facts

    def _publish(
        self, ctx, spec, spec_file, repo, staging, rows, versions, the_plan, tpb, n_shards,
        tok_json, tok_sha, info, facts, selections,
    ) -> dict[str, Any]:  # fmt: skip
        from lmdata.mixture import card
        from lmdata.mixture import manifest as mf
        from lmdata.mixture.spec import TABLES

        shards: dict[int, dict[str, Any]] = {}
        by_source: dict[str, list[int]] = {s.name: [0, 0] for s in spec.sources}
        by_lang: dict[str, int] = {}
        by_bucket: dict[tuple[str, str | None], list[int]] = {}
        for r in rows:
            sh = shards.setdefault(
                r["shard"],
                {
                    "prefix": mf.shard_prefix(r["shard"]),
                    "bin": mf.shard_prefix(r["shard"]) + ".bin",
                    "idx": mf.shard_prefix(r["shard"]) + ".idx",
                    "bin_sha256": r["bin_sha256"],
                    "idx_sha256": r["idx_sha256"],
                    "documents": int(r["shard_documents"]),
                    "tokens": int(r["shard_tokens"]),
                },
            )
            if sh["bin_sha256"] != r["bin_sha256"]:
                raise FatalError(f"shard {r['shard']} reported twice with different content")
            by_source[r["source"]][0] += int(r["documents"])
            by_source[r["source"]][1] += int(r["tokens"])
            by_lang[r["language"]] = by_lang.get(r["language"], 0) + int(r["tokens"])
            bb = by_bucket.setdefault((r["source"], r["bucket"]), [0, 0])
            bb[0] += int(r["documents"])
            bb[1] += int(r["tokens"])
        shard_list = [shards[k] for k in sorted(shards)]
        resolved = json.loads(spec.model_dump_json())
        resolved["tables"] = dict(sorted(versions.items()))
        resolved["shards"]["count"] = n_shards
        for rs, s in zip(resolved["sources"], spec.sources, strict=True):
            # only sources that select by attributes carry the keys: the fingerprints of
            # mixtures written before selection existed stay the same
            if s.filter:
                rs["filter"] = {col: c.ops() for col, c in s.filter.items()}
            else:
                rs.pop("filter", None)
            if s.bucket is None:
                rs.pop("bucket", None)
        resolved["plan"] = {
            k: {
                "natural_tokens": round(p.natural, 3),
                "target_tokens": round(p.target, 3),
                "rate": round(p.rate, 9),
                "tokens_per_byte": round(tpb[k], 9),
            }
            for k, p in the_plan.items()
        }
        total_tokens = sum(v[1] for v in by_source.values())
        sources = [
            {
                "name": s.name,
                "table": s.table,
                "delta_version": versions[s.table],
                "filter": {
                    **s.filter_dict(),
                    "language_from": f"{TABLES[s.table][1][0]}@v{versions[TABLES[s.table][1][0]]}"
                    f":{TABLES[s.table][1][1]}",
                    **({"where": selections[s.name]["filter"]} if s.filter else {}),
                },
                "weight": round(by_source[s.name][1] / total_tokens, 6) if total_tokens else 0.0,
                "documents": by_source[s.name][0],
                "tokens": by_source[s.name][1],
                **_selection(s.name, selections, by_bucket),
            }
            for s in spec.sources
        ]
        manifest: dict[str, Any] = {
            "mixture": spec.name,
            "version": 0,
            "created_at": dt.datetime.now(dt.UTC)
            .replace(microsecond=0)
            .isoformat()
            .replace("+00:00", "Z"),
            "seed": spec.seed,
            "spec": resolved,
            "sources": sources,
            "tokenizer": {
                "path": mf.TOKENIZER_FILE,
                "sha256": tok_sha,
                "vocab_size": info.vocab_size,
                "eod_id": info.eod_id,
                "dtype": info.dtype,
            },
            "shards": shard_list,
            "totals": {
                "documents": sum(s["documents"] for s in shard_list),
                "tokens": sum(s["tokens"] for s in shard_list),
                "tokens_by_source": {k: v[1] for k, v in by_source.items()},
                "tokens_by_language": dict(sorted(by_lang.items())),
                "documents_by_source": {k: v[0] for k, v in by_source.items()},
            },
        }
        fp = mf.fingerprint(manifest)
        ctx.stats.rows_out = manifest["totals"]["documents"]
        ctx.stats.counters["tokens"] = manifest["totals"]["tokens"]
        ctx.stats.counters["shards"] = len(shard_list)
        mixdir = repo.root / spec.name
        params = json.loads(ctx.params.model_dump_json())
        facts_line = {
            "fingerprint": fp,
            "documents": manifest["totals"]["documents"],
            "tokens": manifest["totals"]["tokens"],
        }
        no_dvc = ctx.args.no_dvc
        with repo.lock():
            if not no_dvc:
                repo.ensure()
                same = repo.find_fingerprint(spec.name, fp)
            else:
                same = None
            if same is not None:
                co = repo.checkout(spec.name, same["version"])
                problems = mf.verify_manifest(mixdir)
                if problems:
                    raise FatalError(f"mixture {co['tag']} fails the shards gate: {problems}")
                version, tag, rev, status = same["version"], co["tag"], co["rev"], "unchanged"
            else:
                version = repo.next_version(spec.name) if not no_dvc else 0
                manifest["version"] = version
                mixdir.mkdir(parents=True, exist_ok=True)
                old = staging / "old-shards"
                if (mixdir / mf.SHARDS_DIR).exists():
                    (mixdir / mf.SHARDS_DIR).rename(old)
                (staging / mf.SHARDS_DIR).rename(mixdir / mf.SHARDS_DIR)
                shutil.rmtree(old, ignore_errors=True)
                (mixdir / mf.TOKENIZER_FILE).write_bytes(tok_json)
                mf.write_manifest(mixdir, manifest)
                (mixdir / mf.CARD).write_text(card.render(manifest, params, facts))
                problems = mf.verify_manifest(mixdir)
                if problems:
                    raise FatalError(
                        f"mixture {spec.name}: shards gate failed:\n  " + "\n  ".join(problems)
                    )
                if no_dvc:
                    tag, rev, status = None, None, "written"
                else:
                    facts_line["created_at"] = manifest["created_at"]
                    c = repo.commit_version(spec.name, version, facts_line)
                    tag, rev, status = c["tag"], c["rev"], "created"
        return {
            "mixture": spec.name,
            "version": version,
            "tag": tag,
            "rev": rev,
            "status": status,
            "fingerprint": fp,
            "manifest": str(mixdir / mf.MANIFEST),
            "repo": str(repo.root),
            "remote": None if no_dvc else repo.remote_url(),
            "documents": manifest["totals"]["documents"],
            "tokens": manifest["totals"]["tokens"],
            "delta_versions": dict(sorted(versions.items())),
            "spec_file": str(spec_file),
        }
