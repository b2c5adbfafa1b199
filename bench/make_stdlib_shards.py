"""Build a small mixture (Megatron shards + manifest.json) from the Python standard library's
source, without Spark: the input of the GPU training check (`bench/gpu_train_check.sh`).

    python -m bench.make_stdlib_shards --out var/train/stdlib-mixture [--vocab-size 8192]

Trains a byte-level BPE (`tokenizers`) on the running interpreter's stdlib `.py` files (every
package except site-packages and the test suites with `--recursive`, the default), tokenizes every
file as one document ending in EOD and writes `shards/part-NNNNN.{bin,idx}` + `tokenizer.json` +
`manifest.json` (the shape `lmdata mix` writes). Prints the manifest path and its totals.
"""

from __future__ import annotations

import argparse
import json
import time

from lmdata.train.smoke import build_text_mixture, stdlib_python_files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--docs-per-shard", type=int, default=200)
    p.add_argument("--max-mb", type=float, default=None, help="cap on the source bytes")
    p.add_argument("--top-level", action="store_true", help="only <stdlib>/*.py")
    p.add_argument("--tokenizer", choices=["auto", "bpe", "bytes"], default="auto")
    p.add_argument("--name", default="stdlib")
    p.add_argument("--version", type=int, default=1)
    a = p.parse_args(argv)
    t = time.perf_counter()
    files = stdlib_python_files(
        max_bytes=None if a.max_mb is None else int(a.max_mb * 2**20),
        max_file_bytes=1_000_000,
        recursive=not a.top_level,
    )
    path = build_text_mixture(
        files,
        a.out,
        name=a.name,
        version=a.version,
        vocab_size=a.vocab_size,
        docs_per_shard=a.docs_per_shard,
        tokenizer=a.tokenizer,
    )
    totals = json.loads(path.read_text())["totals"]
    src_mb = sum(f.stat().st_size for f in files) / 2**20
    print(
        f"{path}: {len(files)} files, {src_mb:.1f} MiB source -> {totals['documents']} documents, "
        f"{totals['tokens']:,} tokens in {time.perf_counter() - t:.1f}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
