"""Encoding documents for shards: one tokenizer per worker process, Arrow-batched.

`encode_documents(tok, texts, eod_id)` yields one token array per document
with the end-of-document id appended (Megatron's `preprocess_data.py --append-eod`).
The tokenizer is built once per Python worker from its JSON (cached by sha256), never pickled.
"""

from __future__ import annotations

import os
from typing import Any

_CACHE: dict[str, Any] = {}


def worker_tokenizer(tokenizer_json: bytes, sha256: str | None = None):
    """The tokenizer for this process (built on first use, then cached)."""
    from lmdata.tokens.train import load_tokenizer, sha256_bytes

    key = sha256 or sha256_bytes(tokenizer_json)
    tok = _CACHE.get(key)
    if tok is None:
        # one Spark task = one core: no extra Rayon threads inside a worker
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        tok = load_tokenizer(tokenizer_json)
        _CACHE[key] = tok
    return tok


# Documents per encode call. An `Encoding` keeps ids, type ids, token strings, offsets and masks
# for every token (~100 bytes a token), and `.ids` is a Python list of ints: a whole Arrow batch
# (2,000 web documents, ~2.6M tokens) encoded at once peaked ~270 MiB above the worker's
# baseline; in chunks of this many documents (or CHUNK_CHARS characters), ~60 MiB, at the same
# speed: the tokenizer runs one thread per worker, so a chunk loses no
# parallelism (BENCHMARKS.md "Memory").
CHUNK_DOCS = 128
CHUNK_CHARS = 1 << 20


def _chunks(texts: list[str]):
    start, chars = 0, 0
    for i, t in enumerate(texts):
        chars += len(t)
        if i + 1 - start >= CHUNK_DOCS or chars >= CHUNK_CHARS:
            yield texts[start : i + 1]
            start, chars = i + 1, 0
    if start < len(texts):
        yield texts[start:]


def iter_ids(tok, texts: list[str]):
    """Token ids of every text, in order (no special tokens added), encoded a chunk at a time
    via encode_batch_fast (no offsets) when the tokenizers version has it."""
    encode = getattr(tok, "encode_batch_fast", None) or tok.encode_batch
    for chunk in _chunks(texts):
        for e in encode(chunk, add_special_tokens=False):
            yield e.ids


def encode_documents(tok, texts: list[str], eod_id: int, dtype=None):
    """One numpy array per document, in order: its tokens followed by the end-of-document id
    (int64, or `dtype`: the shard's, so no second copy is made when it is written). A
    generator: only one chunk's encodings are alive at a time."""
    import numpy as np

    dt = np.dtype(dtype or np.int64)
    for ids in iter_ids(tok, texts):
        arr = np.empty(len(ids) + 1, dtype=dt)
        arr[:-1] = ids
        arr[-1] = eod_id
        yield arr
