"""The Python worker daemon of the warm Spark (`spark.python.daemon.module`): pyspark's own
daemon (`pyspark.daemon.manager`, unchanged), started after importing what the filters' Python
workers would otherwise import again in every worker it forks.

Spark runs one daemon per executor and forks a worker from it per Python task slot; a reused
worker keeps its caches, but an idle one is stopped after a minute and every new one starts from
the daemon's state. Without this, each worker that redacts PII spent ~2.5 s importing Presidio
(which imports spaCy, which imports thinc, which would import torch when it is installed; the
engine's import keeps torch out) and ~1.2 s on the toxicity classifier's scikit-learn
unpickling, in curate and again in each gate's PII check. Imported once in the daemon, the forked workers share those pages (copy on
write) and start with them loaded.

Only imports and the process-wide, configuration-free objects are preloaded (no model a
configuration chooses): a preload that fails is logged to the executor's stderr and skipped,
never fatal. `lmdata.spark.connect serve` sets it (the daemon is paid once per server); a
`spark-submit` stage keeps pyspark's daemon, as a stage that never runs these filters would pay
the imports for nothing.
"""

from __future__ import annotations

import importlib
import os
import sys
import time

MODULE = "lmdata.spark.worker_daemon"
ENV_MARK = "LMDATA_WORKER_PRELOADED"  # set in the daemon: its workers see how long it took
# Modules the curate / validate workers import (heaviest first).
PRELOAD_MODULES = (
    # Presidio (spaCy, thinc) is imported by _preload_objects, through lmdata's PII engine: its
    # import keeps torch out (lmdata.filters.pii.engine._presidio), a plain import here would not
    "sklearn.linear_model",  # the toxicity classifier's pickle
    "fasttext",
    "pyarrow",
    "lmdata.filters.registry",
    "lmdata.filters.pii.engine",
    "lmdata.filters.toxicity",
    "lmdata.filters.langid",
    "lmdata.spark.stages.curate",
)


def _preload_objects() -> None:
    """Configuration-free objects every worker of those filters builds the same way."""
    from lmdata.filters import toxicity
    from lmdata.filters.pii import engine

    engine._default_registry()  # Presidio's recognizers, compiled once
    toxicity.get_classifier()  # the packaged classifier, loaded once per process


def preload() -> list[str]:
    """Import PRELOAD_MODULES and build the shared objects; returns what failed (logged)."""
    # Presidio's NLP-engine device probe would import torch and probe CUDA in the daemon; lmdata's
    # PII engine uses pattern recognizers only, so no device is ever needed.
    os.environ.setdefault("PRESIDIO_DEVICE", "cpu")
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # offline-safe tldextract
    failed = []
    t0 = time.monotonic()
    for name in PRELOAD_MODULES:
        try:
            importlib.import_module(name)
        except Exception as e:  # an optional extra missing on this executor: workers import lazily
            failed.append(f"{name}: {type(e).__name__}: {e}")
    try:
        _preload_objects()
    except Exception as e:
        failed.append(f"objects: {type(e).__name__}: {e}")
    os.environ[ENV_MARK] = f"{time.monotonic() - t0:.1f}s"  # the workers it forks inherit it
    print(
        f"lmdata worker daemon: preloaded in {time.monotonic() - t0:.1f}s"
        + (f"; skipped {failed}" if failed else ""),
        file=sys.stderr,
        flush=True,
    )
    return failed


if __name__ == "__main__":
    preload()
    from pyspark import daemon

    daemon.manager()
