"""In-process reference fuzzy dedup (tests, evaluation, small data). Production runs the same
rules in Spark (`lmdata.spark.dedup`), which must give the same answer on the same rows.

    rows (doc_id, sort_key, text)
      -> signatures (minhash.signatures) -> band hashes (minhash.band_hashes)
      -> LSH buckets: (band index, band hash) -> the documents in it
      -> edges: documents sharing a bucket (optionally verified: Jaccard >= threshold)
      -> connected components (union-find; transitive: A~B and B~C put A, B, C together)
      -> per document: cluster_id, cluster_size, duplicate_of, kept

The rules, each a pure function of the cluster's membership (so independent of input order,
partitioning and the order edges are found in):
- cluster_id = the smallest doc_id in the cluster (`cluster_id_of`), compared as strings
  (code-point order = UTF-8 byte order = Spark's string order). A singleton's cluster_id is its
  own doc_id. This is the label that min-label propagation (distributed connected components)
  converges to, so Spark gets it without a join.
- keeper = the member with the smallest (sort_key, doc_id) (`keeper_of`), sort_key compared
  element by element with None first (Spark's ascending default, NULLS FIRST); e.g.
  sort_key = (crawl,) keeps the earliest crawl, ties broken by the smallest doc_id - the same
  rule as exact dedup (`lmdata.dedup.exact`).
- kept = (doc_id == keeper); duplicate_of = keeper's doc_id for the others, None for the keeper.
- A document with no shingles (empty after normalization) is never a candidate: a kept singleton.

Verification ("none" by default, the datatrove/FineWeb practice): with "estimated" or "exact",
a candidate pair becomes an edge only if its MinHash-estimated or exact shingle Jaccard is at
least `threshold`; every pair inside every bucket is checked (quadratic in bucket size; fine
here, in Spark bound the bucket size or verify against the bucket's smallest doc_id only).
Without verification, every pair in a bucket is an edge; the components equal those of the
"star" edges (each member -> the bucket's first member), which is what Spark should emit.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from lmdata.dedup.minhash import (
    MinHashParams,
    band_hashes,
    estimated_jaccard,
    is_empty,
    jaccard,
    shingles,
    signatures,
)

__all__ = [
    "DedupRow",
    "UnionFind",
    "bucket_members",
    "candidate_pairs",
    "cluster_id_of",
    "components",
    "keeper_of",
    "reference_dedup",
    "sort_key_order",
    "star_edges",
]

Verify = Literal["none", "estimated", "exact"]


@dataclass(frozen=True)
class DedupRow:
    doc_id: str
    cluster_id: str
    cluster_size: int
    duplicate_of: str | None
    kept: bool


# ----------------------------------------------------------------------------- rules


def sort_key_order(sort_key: Sequence[Any] | Any, doc_id: str) -> tuple:
    """Total order for keeper choice: sort_key element-wise with None first, then doc_id."""
    if not isinstance(sort_key, tuple | list):
        sort_key = (sort_key,)
    return tuple((0,) if v is None else (1, v) for v in sort_key) + ((1, doc_id),)


def keeper_of(members: Iterable[tuple[str, Sequence[Any] | Any]]) -> str:
    """The doc_id to keep among (doc_id, sort_key) members: smallest (sort_key, doc_id)."""
    return min(members, key=lambda m: sort_key_order(m[1], m[0]))[0]


def cluster_id_of(doc_ids: Iterable[str]) -> str:
    """The cluster's id: its smallest doc_id."""
    return min(doc_ids)


# ----------------------------------------------------------------------------- LSH candidates


def bucket_members(bh: np.ndarray, skip: np.ndarray | None = None) -> list[np.ndarray]:
    """Index arrays (ascending) of the LSH buckets with >= 2 members: documents sharing
    (band, band hash). `skip` (bool per row) leaves documents out (empty signatures)."""
    bh = np.atleast_2d(np.asarray(bh, dtype=np.int64))
    n, nb = bh.shape
    keep = np.ones(n, dtype=bool) if skip is None else ~np.asarray(skip, dtype=bool)
    ids = np.flatnonzero(keep)
    out: list[np.ndarray] = []
    for j in range(nb):
        col = bh[ids, j]
        order = np.lexsort((ids, col))  # by hash, then index
        c, i = col[order], ids[order]
        if len(c) < 2:
            continue
        starts = np.flatnonzero(np.concatenate(([True], c[1:] != c[:-1])))
        ends = np.concatenate((starts[1:], [len(c)]))
        for s, e in zip(starts, ends, strict=True):
            if e - s >= 2:
                out.append(i[s:e])
    return out


def candidate_pairs(bh: np.ndarray, skip: np.ndarray | None = None) -> set[tuple[int, int]]:
    """All index pairs (i < j) sharing at least one LSH bucket."""
    pairs: set[tuple[int, int]] = set()
    for m in bucket_members(bh, skip):
        ml = m.tolist()
        for x in range(len(ml)):
            for y in range(x + 1, len(ml)):
                pairs.add((ml[x], ml[y]))
    return pairs


def star_edges(bh: np.ndarray, skip: np.ndarray | None = None) -> set[tuple[int, int]]:
    """Linear-size edges with the same components as `candidate_pairs`: each bucket member ->
    the bucket's smallest index."""
    edges: set[tuple[int, int]] = set()
    for m in bucket_members(bh, skip):
        first = int(m[0])
        edges.update((first, int(x)) for x in m[1:])
    return edges


# ----------------------------------------------------------------------------- components


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            if rx < ry:
                self.parent[ry] = rx
            else:
                self.parent[rx] = ry


def components(n: int, edges: Iterable[tuple[int, int]]) -> list[int]:
    """Component label (its smallest index) of each of n nodes."""
    uf = UnionFind(n)
    for x, y in edges:
        uf.union(x, y)
    return [uf.find(i) for i in range(n)]


# ----------------------------------------------------------------------------- the whole thing


def reference_dedup(
    rows: Iterable[tuple[str, Sequence[Any] | Any, str | None]],
    params: MinHashParams | None = None,
    verify: Verify = "none",
    threshold: float = 0.0,
) -> list[DedupRow]:
    """Fuzzy dedup of (doc_id, sort_key, text) rows; one DedupRow per input row, in input order.
    doc_ids must be unique."""
    params = params or MinHashParams()
    rows = list(rows)
    doc_ids = [r[0] for r in rows]
    if len(set(doc_ids)) != len(doc_ids):
        raise ValueError("doc_id must be unique")
    if verify not in ("none", "estimated", "exact"):
        raise ValueError(f"verify must be none|estimated|exact, got {verify!r}")
    n = len(rows)
    sig = signatures([r[2] for r in rows], params)
    empty = is_empty(sig) if n else np.zeros(0, dtype=bool)
    bh = band_hashes(sig, params) if n else np.zeros((0, params.bands), dtype=np.int64)
    if verify == "none":
        edges: Iterable[tuple[int, int]] = star_edges(bh, empty)
    else:
        pairs = sorted(candidate_pairs(bh, empty))
        if verify == "estimated":
            edges = [(i, j) for i, j in pairs if estimated_jaccard(sig[i], sig[j]) >= threshold]
        else:
            cache: dict[int, set[bytes]] = {}

            def sh(i: int) -> set[bytes]:
                if i not in cache:
                    cache[i] = shingles(rows[i][2], params)
                return cache[i]

            edges = [(i, j) for i, j in pairs if jaccard(sh(i), sh(j)) >= threshold]
    label = components(n, edges)
    groups: dict[Hashable, list[int]] = {}
    for i, lab in enumerate(label):
        groups.setdefault(lab, []).append(i)
    out: list[DedupRow | None] = [None] * n
    for members in groups.values():
        cid = cluster_id_of(doc_ids[i] for i in members)
        keeper = keeper_of((doc_ids[i], rows[i][1]) for i in members)
        for i in members:
            d = doc_ids[i]
            out[i] = DedupRow(
                doc_id=d,
                cluster_id=cid,
                cluster_size=len(members),
                duplicate_of=None if d == keeper else keeper,
                kept=d == keeper,
            )
    return out  # type: ignore[return-value]
