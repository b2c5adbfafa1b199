"""Reading token shards back: exact token sequences per document (numpy memmap).

Each sequence of a shard is one document followed by the end-of-document id; `documents()`
gives the tokens without it, `texts()` the decoded text (byte-level BPE: exactly the input).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from lmdata.tokens.megatron import IndexedDataset


class ShardReader:
    def __init__(self, prefix: str | os.PathLike, eod_id: int | None = None):
        self.ds = IndexedDataset(prefix)
        self.eod_id = eod_id

    def __len__(self) -> int:
        return len(self.ds)

    @property
    def num_tokens(self) -> int:
        return self.ds.num_tokens

    def sequences(self) -> Iterator[np.ndarray]:
        """Every stored sequence as written (end-of-document id included)."""
        for i in range(len(self.ds)):
            yield self.ds[i]

    def documents(self) -> Iterator[np.ndarray]:
        """Token ids of every document, the trailing end-of-document id removed."""
        for seq in self.sequences():
            if self.eod_id is not None:
                if seq.size == 0 or int(seq[-1]) != self.eod_id:
                    raise ValueError(
                        f"{self.ds.prefix}: a sequence does not end with eod id {self.eod_id}"
                    )
                seq = seq[:-1]
            yield seq

    def texts(self, tokenizer) -> Iterator[str]:
        for doc in self.documents():
            yield tokenizer.decode(doc.tolist(), skip_special_tokens=False)
