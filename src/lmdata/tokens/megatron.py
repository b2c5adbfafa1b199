"""Megatron-LM indexed datasets (`.bin` + `.idx`): the shard format lmdata writes and reads.

The exact on-disk layout of Megatron-Core's `IndexedDataset` (megatron/core/datasets/
indexed_dataset.py, `_IndexWriter` / `_IndexReader`), so shards load in Megatron unchanged:

    .bin  the token ids of every sequence, back to back, in `dtype`
    .idx  b"MMIDIDX\\x00\\x00"                 9-byte magic
          <Q  version = 1
          <B  dtype code (see DTYPE_CODES)
          <Q  sequence count  S
          <Q  document count  D (= len(document_indices), i.e. documents + 1)
          int32[S]  sequence lengths (tokens)
          int64[S]  sequence pointers (byte offsets into .bin)
          int64[D]  document indices (sequence index where each document starts; first 0,
                    last S)

lmdata writes one sequence per document (Megatron's preprocess_data.py without sentence
splitting), so document indices are 0..S. We write our own writer rather than import
megatron-core: it needs torch and a GPU-oriented stack on every Spark worker, while the format
is 40 lines of numpy (tests compare with megatron-core's reader when it is installed).
"""

from __future__ import annotations

import os
import struct
import uuid
from pathlib import Path

import numpy as np

INDEX_HEADER = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1

# Megatron-Core's DType enum values.
DTYPE_CODES: dict[type, int] = {
    np.uint8: 1,
    np.int8: 2,
    np.int16: 3,
    np.int32: 4,
    np.int64: 5,
    np.float64: 6,
    np.float32: 7,
    np.uint16: 8,
}
CODE_DTYPES = {v: k for k, v in DTYPE_CODES.items()}


def dtype_for_vocab(vocab_size: int) -> type:
    """Megatron's rule (`DType.optimal_dtype`): uint16 below 65,500 tokens, else int32."""
    return np.uint16 if vocab_size is not None and vocab_size < 65500 else np.int32


class IndexedDatasetWriter:
    """Streams documents (arrays of token ids) into `<prefix>.bin` / `<prefix>.idx`.

    Files are written under temporary names and renamed on `close()`, so a reader never sees a
    half-written shard (a killed task leaves only `*.tmp` files behind, named per attempt).
    """

    def __init__(self, prefix: str | os.PathLike, dtype: type = np.uint16):
        self.prefix = str(prefix)
        self.dtype = np.dtype(dtype).type
        if self.dtype not in DTYPE_CODES:
            raise ValueError(f"unsupported dtype {dtype}")
        Path(self.prefix).parent.mkdir(parents=True, exist_ok=True)
        # unique temporary names: a retried or speculative task attempt never shares them
        self._tmp = f".{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
        self._bin_tmp = self.prefix + ".bin" + self._tmp
        self._bin = open(self._bin_tmp, "wb")
        self._lengths: list[int] = []
        self._closed = False

    def add_document(self, tokens) -> None:
        arr = np.asarray(tokens, dtype=self.dtype)
        self._bin.write(arr.tobytes(order="C"))
        self._lengths.append(int(arr.size))

    @property
    def documents(self) -> int:
        return len(self._lengths)

    @property
    def tokens(self) -> int:
        return int(sum(self._lengths))

    def close(self) -> tuple[str, str]:
        if self._closed:
            return self.prefix + ".bin", self.prefix + ".idx"
        self._bin.close()
        lengths = np.asarray(self._lengths, dtype=np.int32)
        itemsize = np.dtype(self.dtype).itemsize
        pointers = np.zeros(len(lengths), dtype=np.int64)
        if len(lengths) > 1:
            np.cumsum(lengths[:-1].astype(np.int64) * itemsize, out=pointers[1:])
        doc_idx = np.arange(len(lengths) + 1, dtype=np.int64)
        idx_tmp = self.prefix + ".idx" + self._tmp
        with open(idx_tmp, "wb") as f:
            f.write(INDEX_HEADER)
            f.write(struct.pack("<Q", INDEX_VERSION))
            f.write(struct.pack("<B", DTYPE_CODES[self.dtype]))
            f.write(struct.pack("<Q", len(lengths)))
            f.write(struct.pack("<Q", len(doc_idx)))
            f.write(lengths.tobytes(order="C"))
            f.write(pointers.tobytes(order="C"))
            f.write(doc_idx.tobytes(order="C"))
        os.replace(self._bin_tmp, self.prefix + ".bin")
        os.replace(idx_tmp, self.prefix + ".idx")
        self._closed = True
        return self.prefix + ".bin", self.prefix + ".idx"

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:  # leave nothing that looks like a finished shard
            self._bin.close()
            for p in (self._bin_tmp, self.prefix + ".idx" + self._tmp):
                if os.path.exists(p):
                    os.remove(p)


class IndexedDataset:
    """Read-only view of one shard (numpy memmap; nothing is loaded eagerly).

    `ds[i]` is the token array of sequence i; `len(ds)` the number of sequences;
    `ds.sequence_lengths`, `ds.sequence_pointers`, `ds.document_indices`, `ds.dtype`.
    """

    def __init__(self, prefix: str | os.PathLike):
        self.prefix = str(prefix)
        idx_path = self.prefix + ".idx"
        with open(idx_path, "rb") as f:
            header = f.read(9)
            if header != INDEX_HEADER:
                raise ValueError(f"{idx_path}: not a Megatron index (bad magic {header!r})")
            (version,) = struct.unpack("<Q", f.read(8))
            if version != INDEX_VERSION:
                raise ValueError(f"{idx_path}: unsupported index version {version}")
            (code,) = struct.unpack("<B", f.read(1))
            (seq_count,) = struct.unpack("<Q", f.read(8))
            (doc_count,) = struct.unpack("<Q", f.read(8))
            offset = f.tell()
        self.dtype = CODE_DTYPES[code]
        idx = np.memmap(idx_path, mode="r", order="C")
        self.sequence_lengths = np.frombuffer(idx, dtype=np.int32, count=seq_count, offset=offset)
        offset += self.sequence_lengths.nbytes
        self.sequence_pointers = np.frombuffer(idx, dtype=np.int64, count=seq_count, offset=offset)
        offset += self.sequence_pointers.nbytes
        self.document_indices = np.frombuffer(idx, dtype=np.int64, count=doc_count, offset=offset)
        bin_path = self.prefix + ".bin"
        self._bin = (
            np.memmap(bin_path, mode="r", order="C")
            if os.path.getsize(bin_path)
            else np.zeros(0, np.uint8)
        )

    def __len__(self) -> int:
        return int(self.sequence_lengths.shape[0])

    def __getitem__(self, i: int) -> np.ndarray:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return np.frombuffer(
            self._bin,
            dtype=self.dtype,
            count=int(self.sequence_lengths[i]),
            offset=int(self.sequence_pointers[i]),
        )

    @property
    def num_tokens(self) -> int:
        return int(self.sequence_lengths.sum(dtype=np.int64))

    def tokens(self) -> np.ndarray:
        """All tokens of the shard as one flat array (a view on the memmap)."""
        return np.frombuffer(self._bin, dtype=self.dtype)
