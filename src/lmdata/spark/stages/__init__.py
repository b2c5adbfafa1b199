"""The stages: name -> class, imported lazily (listing them imports no pyspark)."""

from __future__ import annotations

import importlib

STAGES: dict[str, tuple[str, str]] = {
    "ingest-cc": ("lmdata.spark.stages.ingest_cc", "IngestCCStage"),
    "ingest-docs": ("lmdata.spark.stages.ingest_docs", "IngestDocsStage"),
    "ingest-code": ("lmdata.spark.stages.ingest_code", "IngestCodeStage"),
    "curate": ("lmdata.spark.stages.curate", "CurateStage"),
    "dedup": ("lmdata.spark.stages.dedup", "DedupStage"),
    "validate": ("lmdata.spark.stages.validate", "ValidateStage"),
}


def get_stage(name: str):
    mod, cls = STAGES[name]
    return getattr(importlib.import_module(mod), cls)()
