"""Encoding documents for shards: one tokenizer per worker process, Arrow-batched.

`encode_documents(texts, tokenizer_json, eod_id)` returns one uint32 token array per document
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


def encode_texts(tok, texts: list[str]) -> list[list[int]]:
    """Token ids of every text (no special tokens added), via encode_batch_fast when present."""
    fast = getattr(tok, "encode_batch_fast", None)
    encs = (fast or tok.encode_batch)(texts, add_special_tokens=False)
    return [e.ids for e in encs]


def encode_documents(tok, texts: list[str], eod_id: int):
    """One numpy array per document: its tokens followed by the end-of-document id."""
    import numpy as np

    out = []
    for ids in encode_texts(tok, texts):
        arr = np.empty(len(ids) + 1, dtype=np.int64)
        arr[:-1] = ids
        arr[-1] = eod_id
        out.append(arr)
    return out
