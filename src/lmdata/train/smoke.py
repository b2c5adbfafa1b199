"""A small mixture manifest from plain text files, without Spark: for tests and GPU smoke checks.

The real mixtures come from `lmdata mix` (lmdata.mixture); this writes the same on-disk shape
(`manifest.json` + `tokenizer.json` + Megatron `shards/part-NNNNN.{bin,idx}`) from a list of
files, so the training path can be exercised on a machine with only numpy, tokenizers and torch:

    python bench/make_stdlib_shards.py --out var/train/stdlib-mixture

The tokenizer is a byte-level BPE trained with `tokenizers` on the same texts; every document
ends with the EOD token (Megatron's `--append-eod`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from lmdata.train.loader import sha256_file

EOD_TOKEN = "<|endoftext|>"


def stdlib_python_files(
    limit: int | None = None,
    max_bytes: int | None = None,
    max_file_bytes: int | None = None,
    recursive: bool = False,
) -> list[Path]:
    """The running interpreter's standard-library sources, sorted: `<stdlib>/*.py`, or with
    `recursive` every `.py` below it except `site-packages` and the `test`/`tests` packages;
    at most `limit` files, `max_bytes` in all, skipping files over `max_file_bytes`."""
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    if recursive:
        skip = {"site-packages", "dist-packages", "test", "tests", "__pycache__"}
        files = sorted(p for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts))
    else:
        files = sorted(root.glob("*.py"))
    out, total = [], 0
    for p in files:
        size = p.stat().st_size
        if max_file_bytes is not None and size > max_file_bytes:
            continue
        if max_bytes is not None and total + size > max_bytes:
            continue
        out.append(p)
        total += size
        if limit is not None and len(out) >= limit:
            break
    return out


def _read_texts(files: Iterable[Path]) -> list[tuple[str, str]]:
    texts = []
    for p in files:
        text = Path(p).read_text(encoding="utf-8", errors="replace")
        if text.strip():
            texts.append((str(p), text))
    return texts


def _bpe(docs: list[tuple[str, str]], vocab_size: int, path: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator((t for _, t in docs), trainer=trainer)
    tok.save(str(path))
    encoded = [e.ids for e in tok.encode_batch([t for _, t in docs])]
    return encoded, tok.token_to_id(EOD_TOKEN), tok.get_vocab_size()


def build_text_mixture(
    files: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    name: str = "smoke",
    version: int = 1,
    seed: int = 0,
    vocab_size: int = 1024,
    docs_per_shard: int = 200,
    source: str = "code",
    language: str = "python",
    tokenizer: str = "auto",
) -> Path:
    """Train a byte-level BPE on `files` (`tokenizer="bytes"`, or "auto" without the `tokenizers`
    package: plain UTF-8 bytes), write Megatron shards and `manifest.json`; return its path."""
    import numpy as np

    from lmdata.tokens.megatron import IndexedDatasetWriter, dtype_for_vocab

    docs = _read_texts(Path(f) for f in files)
    if not docs:
        raise ValueError("build_text_mixture: no non-empty text files given")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok_path = out / "tokenizer.json"
    if tokenizer == "auto":
        try:
            import tokenizers  # noqa: F401

            tokenizer = "bpe"
        except ImportError:
            tokenizer = "bytes"
    if tokenizer == "bpe":
        encoded, eod_id, real_vocab = _bpe(docs, vocab_size, tok_path)
    elif tokenizer == "bytes":  # no `tokenizers` installed: UTF-8 bytes, EOD = 256
        eod_id, real_vocab = 256, 257
        encoded = [list(t.encode("utf-8")) for _, t in docs]
        tok_path.write_text(
            json.dumps({"type": "bytes", "vocab_size": 257, "eod_id": 256, "note": "UTF-8 bytes"})
        )
    else:
        raise ValueError(f"tokenizer must be auto, bpe or bytes, got {tokenizer!r}")
    dtype = dtype_for_vocab(real_vocab)

    shards = []
    total_docs = total_tokens = 0
    for start in range(0, len(encoded), docs_per_shard):
        prefix = out / "shards" / f"part-{len(shards):05d}"
        with IndexedDatasetWriter(prefix, dtype=dtype) as w:
            for ids in encoded[start : start + docs_per_shard]:
                w.add_document(np.asarray(ids + [eod_id], dtype=dtype))
            bin_path, idx_path = w.close()
            n_docs, n_tokens = w.documents, w.tokens
        rel = prefix.relative_to(out).as_posix()
        shards.append(
            {
                "prefix": rel,
                "bin": rel + ".bin",
                "idx": rel + ".idx",
                "bin_sha256": sha256_file(bin_path),
                "idx_sha256": sha256_file(idx_path),
                "documents": n_docs,
                "tokens": n_tokens,
            }
        )
        total_docs += n_docs
        total_tokens += n_tokens

    manifest = {
        "mixture": name,
        "version": version,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        "seed": seed,
        "tokenizer": {
            "path": "tokenizer.json",
            "sha256": sha256_file(tok_path),
            "vocab_size": real_vocab,
            "eod_id": eod_id,
            "dtype": np.dtype(dtype).name,
            "type": tokenizer,
        },
        "shards": shards,
        "totals": {
            "documents": total_docs,
            "tokens": total_tokens,
            "tokens_by_source": {source: total_tokens},
            "tokens_by_language": {language: total_tokens},
        },
        "sources": [
            {
                "name": source,
                "table": None,
                "delta_version": None,
                "filter": None,
                "weight": 1.0,
                "documents": total_docs,
                "tokens": total_tokens,
            }
        ],
        "spec": {"built_by": "lmdata.train.smoke.build_text_mixture", "files": len(docs)},
    }
    path = out / "manifest.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, path)
    return path
