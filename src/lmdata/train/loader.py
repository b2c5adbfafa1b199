"""Training data from a mixture manifest: Megatron shards -> fixed-length GPT samples.

`Manifest.load(path)` reads and validates `manifest.json` (tokenizer vocab fits the shard dtype,
every shard exists, its `.idx` agrees with the manifest's dtype, document and token counts), and
`verify_shards` checks every file's sha256 before training.

Samples follow Megatron-Core's GPTDataset: the documents of one or more epochs are laid end to
end (each epoch in its own seeded permutation; documents already end with EOD), the stream is cut
into samples of `seq_len + 1` tokens that overlap by one token (inputs = sample[:-1], labels =
sample[1:]), and the sample order is shuffled once more by the seed. The index is three numpy
arrays over the memmaps (`document_index`, `sample_index`, `shuffle_index`); nothing is copied
until a sample is read.

The torch imports live in `GPTSampleDataset`/`make_loader` only, so the index and validation are
usable (and testable) without torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lmdata.errors import ConfigError, FatalError

_REQUIRED = ("mixture", "version", "tokenizer", "shards")
_TOKENIZER_REQUIRED = ("vocab_size", "eod_id", "dtype")
_SHARD_REQUIRED = ("prefix", "bin", "idx", "documents", "tokens")


class ShardIntegrityError(FatalError):
    """A shard's bytes do not match the manifest (sha256, counts or dtype)."""


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class ShardInfo:
    prefix: Path  # absolute, without .bin/.idx
    bin: Path
    idx: Path
    bin_sha256: str | None
    idx_sha256: str | None
    documents: int
    tokens: int


@dataclass(frozen=True)
class Manifest:
    path: Path
    root: Path
    mixture: str
    version: int
    seed: int
    vocab_size: int
    eod_id: int
    dtype: np.dtype
    shards: tuple[ShardInfo, ...]
    sha256: str  # of manifest.json's bytes: the identity a checkpoint records
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def documents(self) -> int:
        return sum(s.documents for s in self.shards)

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.shards)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Manifest:
        p = Path(path)
        if p.is_dir():
            p = p / "manifest.json"
        if not p.is_file():
            raise ConfigError(f"manifest not found: {p}")
        data_bytes = p.read_bytes()
        try:
            data = json.loads(data_bytes)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{p}: not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: top level must be an object")
        for k in _REQUIRED:
            if k not in data:
                raise ConfigError(f"{p}: missing key {k!r}")
        tok = data["tokenizer"]
        if not isinstance(tok, dict):
            raise ConfigError(f"{p}: tokenizer must be an object")
        for k in _TOKENIZER_REQUIRED:
            if k not in tok:
                raise ConfigError(f"{p}: missing key 'tokenizer.{k}'")
        try:
            dtype = np.dtype(tok["dtype"])
        except TypeError:
            raise ConfigError(f"{p}: tokenizer.dtype {tok['dtype']!r} is not a numpy dtype") from None
        if dtype.kind not in "iu":
            raise ConfigError(f"{p}: tokenizer.dtype {dtype.name} is not an integer dtype")
        vocab, eod = int(tok["vocab_size"]), int(tok["eod_id"])
        if vocab <= 0:
            raise ConfigError(f"{p}: tokenizer.vocab_size must be > 0, got {vocab}")
        if vocab - 1 > np.iinfo(dtype).max:
            raise ConfigError(
                f"{p}: tokenizer.vocab_size {vocab} does not fit tokenizer.dtype {dtype.name} "
                f"(max id {np.iinfo(dtype).max})"
            )
        if not 0 <= eod < vocab:
            raise ConfigError(f"{p}: tokenizer.eod_id {eod} outside the vocabulary [0, {vocab})")
        if not isinstance(data["shards"], list) or not data["shards"]:
            raise ConfigError(f"{p}: shards must be a non-empty list")
        root = p.parent.resolve()
        shards = []
        for i, s in enumerate(data["shards"]):
            for k in _SHARD_REQUIRED:
                if k not in s:
                    raise ConfigError(f"{p}: shards[{i}]: missing key {k!r}")
            shards.append(
                ShardInfo(
                    prefix=root / s["prefix"],
                    bin=root / s["bin"],
                    idx=root / s["idx"],
                    bin_sha256=s.get("bin_sha256"),
                    idx_sha256=s.get("idx_sha256"),
                    documents=int(s["documents"]),
                    tokens=int(s["tokens"]),
                )
            )
        m = cls(
            path=p.resolve(),
            root=root,
            mixture=str(data["mixture"]),
            version=int(data["version"]),
            seed=int(data.get("seed", 0)),
            vocab_size=vocab,
            eod_id=eod,
            dtype=dtype,
            shards=tuple(shards),
            sha256=hashlib.sha256(data_bytes).hexdigest(),
            raw=data,
        )
        m.check_shards()
        return m

    def check_shards(self) -> None:
        """Files exist; each `.idx` agrees with the manifest on dtype, documents and tokens."""
        from lmdata.tokens.megatron import IndexedDataset

        for s in self.shards:
            for f in (s.bin, s.idx):
                if not f.is_file():
                    raise ShardIntegrityError(f"{self.path}: shard file missing: {f}")
            if Path(str(s.prefix) + ".bin") != s.bin or Path(str(s.prefix) + ".idx") != s.idx:
                raise ConfigError(f"{self.path}: shard {s.prefix}: bin/idx must be prefix + .bin/.idx")
            try:
                ds = IndexedDataset(s.prefix)
            except (ValueError, KeyError) as e:
                raise ShardIntegrityError(f"{s.idx}: {e}") from None
            if np.dtype(ds.dtype) != self.dtype:
                raise ShardIntegrityError(
                    f"{s.idx}: dtype {np.dtype(ds.dtype).name} != manifest {self.dtype.name}"
                )
            if len(ds) != s.documents or ds.num_tokens != s.tokens:
                raise ShardIntegrityError(
                    f"{s.idx}: {len(ds)} documents / {ds.num_tokens} tokens, manifest says "
                    f"{s.documents} / {s.tokens}"
                )
            expected_bytes = ds.num_tokens * self.dtype.itemsize
            if os.path.getsize(s.bin) != expected_bytes:
                raise ShardIntegrityError(
                    f"{s.bin}: {os.path.getsize(s.bin)} bytes, index says {expected_bytes}"
                )


def verify_shards(manifest: Manifest) -> int:
    """sha256 of every shard file against the manifest; returns the bytes hashed."""
    n = 0
    for s in manifest.shards:
        for f, want in ((s.bin, s.bin_sha256), (s.idx, s.idx_sha256)):
            if not want:
                raise ShardIntegrityError(f"{manifest.path}: no sha256 recorded for {f}")
            got = sha256_file(f)
            if got != want:
                raise ShardIntegrityError(f"{f}: sha256 {got} != manifest {want}")
            n += os.path.getsize(f)
    return n


# --------------------------------------------------------------------------- the sample index


def split_documents(
    n_documents: int, eval_fraction: float, seed: int, min_eval: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of document ids into (train, held-out eval); both sorted."""
    if n_documents < 2 and eval_fraction > 0:
        raise ConfigError(f"need at least 2 documents to hold some out, got {n_documents}")
    n_eval = 0 if eval_fraction <= 0 else max(min_eval, int(round(n_documents * eval_fraction)))
    n_eval = min(n_eval, n_documents - 1)
    perm = np.random.default_rng(seed).permutation(n_documents)
    return np.sort(perm[n_eval:]), np.sort(perm[:n_eval])


def build_document_index(documents: np.ndarray, epochs: int, seed: int, shuffle: bool) -> np.ndarray:
    """`epochs` passes over `documents`, each in its own permutation (Megatron's doc_idx)."""
    rng = np.random.default_rng(seed)
    parts = [rng.permutation(documents) if shuffle else np.asarray(documents) for _ in range(epochs)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def build_sample_index(doc_lengths: np.ndarray, seq_len: int, num_samples: int) -> np.ndarray:
    """(num_samples + 1, 2) array of (position in document index, token offset) of sample starts.

    Sample i spans the stream tokens [i*seq_len, (i+1)*seq_len] inclusive (seq_len + 1 tokens).
    """
    cum = np.zeros(len(doc_lengths) + 1, dtype=np.int64)
    np.cumsum(doc_lengths, out=cum[1:])
    if num_samples * seq_len + 1 > cum[-1]:
        raise ValueError(
            f"{num_samples} samples of {seq_len}+1 tokens need {num_samples * seq_len + 1} tokens, "
            f"the stream has {int(cum[-1])}"
        )
    starts = np.arange(num_samples + 1, dtype=np.int64) * seq_len
    pos = np.searchsorted(cum, starts, side="right") - 1
    out = np.empty((num_samples + 1, 2), dtype=np.int64)
    out[:, 0] = pos
    out[:, 1] = starts - cum[pos]
    return out


class ShardStream:
    """All documents of a manifest's shards under one global document id (0..D-1)."""

    def __init__(self, manifest: Manifest):
        self.manifest = manifest
        self._prefixes = [str(s.prefix) for s in manifest.shards]
        self._datasets: list[Any] | None = None
        lengths = []
        self.shard_of = []
        for i, s in enumerate(manifest.shards):
            lengths.append(self._open()[i].sequence_lengths.astype(np.int64))
            self.shard_of.append(np.full(s.documents, i, dtype=np.int32))
        self.doc_lengths = np.concatenate(lengths)
        self.shard_of = np.concatenate(self.shard_of)
        starts = np.zeros(len(manifest.shards) + 1, dtype=np.int64)
        np.cumsum([s.documents for s in manifest.shards], out=starts[1:])
        self.local_of = np.arange(len(self.doc_lengths), dtype=np.int64) - starts[self.shard_of]

    def _open(self) -> list[Any]:
        if self._datasets is None:
            from lmdata.tokens.megatron import IndexedDataset

            self._datasets = [IndexedDataset(p) for p in self._prefixes]
        return self._datasets

    def __getstate__(self):  # memmaps are reopened in each DataLoader worker, never pickled
        state = self.__dict__.copy()
        state["_datasets"] = None
        return state

    def document(self, doc: int) -> np.ndarray:
        return self._open()[int(self.shard_of[doc])][int(self.local_of[doc])]


class GPTSamples:
    """Fixed-length samples over a document subset, epochs as needed, shuffled by seed."""

    def __init__(
        self,
        stream: ShardStream,
        documents: np.ndarray,
        seq_len: int,
        num_samples: int | None = None,
        seed: int = 0,
        shuffle: bool = True,
    ):
        if seq_len < 1:
            raise ConfigError(f"seq_len must be >= 1, got {seq_len}")
        self.stream, self.seq_len = stream, seq_len
        documents = np.asarray(documents, dtype=np.int64)
        tokens_per_epoch = int(stream.doc_lengths[documents].sum())
        per_epoch = (tokens_per_epoch - 1) // seq_len
        if per_epoch < 1:
            raise ConfigError(
                f"{len(documents)} documents hold {tokens_per_epoch} tokens: not one sample of "
                f"seq_len {seq_len} + 1"
            )
        if num_samples is None:
            num_samples, epochs = per_epoch, 1
        else:
            # smallest epoch count whose stream holds num_samples * seq_len + 1 tokens
            epochs = max(1, -(-(num_samples * seq_len + 1) // tokens_per_epoch))
        self.epochs, self.num_samples = epochs, num_samples
        self.document_index = build_document_index(documents, epochs, seed, shuffle)
        self.sample_index = build_sample_index(
            stream.doc_lengths[self.document_index], seq_len, num_samples
        )
        self.shuffle_index = (
            np.random.default_rng(seed + 1).permutation(num_samples)
            if shuffle
            else np.arange(num_samples, dtype=np.int64)
        )

    def __len__(self) -> int:
        return self.num_samples

    def sample(self, i: int) -> np.ndarray:
        """seq_len + 1 token ids (int64) of sample i (after the shuffle)."""
        j = int(self.shuffle_index[i])
        (d0, o0), (d1, o1) = self.sample_index[j], self.sample_index[j + 1]
        doc = self.document_index
        if d0 == d1:
            parts = [self.stream.document(doc[d0])[o0 : o1 + 1]]
        else:
            parts = [self.stream.document(doc[d0])[o0:]]
            parts += [self.stream.document(doc[k]) for k in range(d0 + 1, d1)]
            parts.append(self.stream.document(doc[d1])[: o1 + 1])
        out = np.concatenate(parts).astype(np.int64)
        assert out.shape[0] == self.seq_len + 1, (out.shape, self.seq_len)
        return out


def _torch_dataset(samples: GPTSamples):
    import torch
    from torch.utils.data import Dataset

    class GPTSampleDataset(Dataset):
        def __init__(self, s: GPTSamples):
            self.s = s

        def __len__(self) -> int:
            return len(self.s)

        def __getitem__(self, i: int):
            return torch.from_numpy(self.s.sample(i))

    return GPTSampleDataset(samples)


def default_num_workers(device: str) -> int:
    """Loader worker processes: 0 on CPU (in-process), min(4, cpus) on CUDA."""
    return min(4, os.cpu_count() or 1) if str(device).startswith("cuda") else 0


def make_loader(
    samples: GPTSamples,
    batch_size: int,
    device: str = "cpu",
    num_workers: int | None = None,
    prefetch_factor: int = 4,
):
    """A DataLoader in the index's order (the shuffle is in the index): (batch, seq_len + 1) int64.

    On CUDA: pinned memory and worker processes (default min(4, cpus)); on CPU: in-process.
    """
    from torch.utils.data import DataLoader

    cuda = str(device).startswith("cuda")
    if num_workers is None:
        num_workers = default_num_workers(device)
    kw: dict[str, Any] = {}
    if num_workers > 0:
        kw.update(persistent_workers=True, prefetch_factor=prefetch_factor)
    return DataLoader(
        _torch_dataset(samples),
        batch_size=batch_size,
        shuffle=False,
        drop_last=True,
        num_workers=num_workers,
        pin_memory=cuda,
        **kw,
    )
