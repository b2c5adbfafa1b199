"""Reference fuzzy dedup (lmdata.dedup.reference): clusters, keepers, order invariance."""

from __future__ import annotations

import random

import numpy as np
import pytest
from dedup_fixtures import TEXTS, substitute, truncate
from hypothesis import given, settings
from hypothesis import strategies as st

from lmdata.dedup.minhash import MinHashParams, band_hashes, jaccard, shingles, signatures
from lmdata.dedup.reference import (
    DedupRow,
    candidate_pairs,
    cluster_id_of,
    components,
    keeper_of,
    reference_dedup,
    sort_key_order,
    star_edges,
)

P = MinHashParams()


def _by_id(rows: list[DedupRow]) -> dict[str, DedupRow]:
    return {r.doc_id: r for r in rows}


def _check_invariants(rows: list[DedupRow]) -> None:
    clusters: dict[str, list[DedupRow]] = {}
    for r in rows:
        clusters.setdefault(r.cluster_id, []).append(r)
    for cid, members in clusters.items():
        ids = {m.doc_id for m in members}
        assert cid == min(ids)
        assert all(m.cluster_size == len(members) for m in members)
        kept = [m for m in members if m.kept]
        assert len(kept) == 1
        keeper = kept[0].doc_id
        assert kept[0].duplicate_of is None
        assert all(m.duplicate_of == keeper for m in members if not m.kept)


@pytest.fixture(scope="module")
def constructed():
    """doc_id -> (sort_key, text): exact dup, near dup, non-dups, a chain, empties."""
    t = TEXTS
    a, c = t[0], t[2]
    c1 = substitute(c, 0.012, 11)  # C ~ C1 ~ C2, but C and C2 further apart
    c2 = substitute(c1, 0.012, 12)
    c3 = substitute(c2, 0.012, 13)
    c4 = substitute(c3, 0.012, 14)
    c5 = substitute(c4, 0.012, 15)
    rows = {
        "a": (("CC-MAIN-2020-16",), a),
        "a-exact": (("CC-MAIN-2019-13",), "  " + a.upper() + " "),  # exact after normalization
        "a-near": (("CC-MAIN-2021-04",), substitute(a, 0.01, 3)),
        "b": (("CC-MAIN-2020-24",), t[1]),
        "c0": (("CC-MAIN-2022-05",), c),
        "c1": (("CC-MAIN-2021-10",), c1),
        "c2": (("CC-MAIN-2023-06",), c2),
        "c3": (("CC-MAIN-2023-06",), c3),
        "c4": (("CC-MAIN-2023-06",), c4),
        "c5": ((None,), c5),  # no crawl: sorts first (Spark's NULLS FIRST)
        "d": (("CC-MAIN-2020-16",), t[3]),
        "d-half": (("CC-MAIN-2020-16",), truncate(t[3], 0.5)),  # Jaccard ~0.5: not a dup
        "e1": (("CC-MAIN-2020-16",), ""),
        "e2": (("CC-MAIN-2020-16",), "!!!"),
        "tag1": (("CC-MAIN-2023-06",), t[6]),
        "tag2": (("CC-MAIN-2023-06",), t[7]),  # related page, Jaccard ~0.37: not a dup
    }
    return rows


def _run(rows: dict, order: list[str] | None = None, **kw) -> dict[str, DedupRow]:
    order = order or list(rows)
    out = reference_dedup([(k, rows[k][0], rows[k][1]) for k in order], P, **kw)
    assert [r.doc_id for r in out] == order
    _check_invariants(out)
    return _by_id(out)


def test_constructed_set(constructed):
    t = {k: v[1] for k, v in constructed.items()}
    # the chain really is a chain: neighbours similar, ends not candidates of each other
    sig = signatures([t["c0"], t["c5"]], P)
    bh = band_hashes(sig, P)
    assert not np.any(bh[0] == bh[1])
    assert jaccard(shingles(t["c0"], P), shingles(t["c5"], P)) < 0.7
    r = _run(constructed)
    # exact dup + near dup of a: one cluster; keeper = earliest crawl (a-exact, 2019-13)
    assert {r[k].cluster_id for k in ("a", "a-exact", "a-near")} == {"a"}
    assert r["a"].cluster_size == 3
    assert r["a-exact"].kept and r["a"].duplicate_of == "a-exact"
    assert r["a-near"].duplicate_of == "a-exact"
    # the chain: one cluster of 6, id = min doc_id, keeper = the one with the None crawl
    chain = [f"c{i}" for i in range(6)]
    assert {r[k].cluster_id for k in chain} == {"c0"}
    assert r["c0"].cluster_size == 6
    assert r["c5"].kept and all(r[k].duplicate_of == "c5" for k in chain[:-1])
    # non-duplicates and empties are kept singletons
    for k in ("b", "d", "d-half", "e1", "e2", "tag1", "tag2"):
        assert (r[k].cluster_id, r[k].cluster_size, r[k].kept, r[k].duplicate_of) == (
            k,
            1,
            True,
            None,
        )
    assert sum(x.kept for x in r.values()) == len(r) - 2 - 5


def test_input_order_invariance(constructed):
    base = _run(constructed)
    keys = list(constructed)
    rng = random.Random(0)
    for _ in range(5):
        rng.shuffle(keys)
        assert _run(constructed, order=keys[:]) == base


def test_verification(constructed):
    none = _run(constructed)
    exact = _run(constructed, verify="exact", threshold=0.8)
    est = _run(constructed, verify="estimated", threshold=0.8)
    # links of ~0.9 Jaccard survive a 0.8 threshold: same answer
    assert exact == none
    assert est["a-near"].cluster_id == "a" and est["c5"].cluster_id == "c0"
    strict = _run(constructed, verify="exact", threshold=0.99)
    assert strict["a"].cluster_size == 2  # only the exact copy is left
    assert strict["a-near"].cluster_size == 1 and strict["c0"].cluster_size == 1
    with pytest.raises(ValueError):
        _run(constructed, verify="bogus")


def test_duplicate_doc_ids_rejected():
    with pytest.raises(ValueError, match="unique"):
        reference_dedup([("x", (1,), "a b"), ("x", (2,), "c d")], P)
    assert reference_dedup([], P) == []


def test_rules():
    assert cluster_id_of(["b", "a2", "a10"]) == "a10"
    assert keeper_of([("d2", ("CC-MAIN-2020-16",)), ("d1", ("CC-MAIN-2020-16",))]) == "d1"
    assert keeper_of([("d1", ("CC-MAIN-2021-04",)), ("d9", ("CC-MAIN-2019-13",))]) == "d9"
    assert keeper_of([("d1", ("CC-MAIN-2021-04",)), ("d9", (None,))]) == "d9"
    assert keeper_of([("d1", "x"), ("d0", "x")]) == "d0"  # a scalar sort_key works too
    assert sort_key_order((None, 3), "z") < sort_key_order(("a", 1), "a")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=30))
def test_star_edges_give_the_same_components(cells):
    bh = np.array(cells, dtype=np.int64)
    n = len(bh)
    assert components(n, star_edges(bh)) == components(n, candidate_pairs(bh))
    pairs = candidate_pairs(bh)
    assert pairs == {(i, j) for i in range(n) for j in range(i + 1, n) if np.any(bh[i] == bh[j])}


_POOL = TEXTS[:6]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(_POOL) - 1),  # source text
            st.sampled_from(["copy", "near", "none", "empty"]),
            st.sampled_from([None, "CC-MAIN-2020-16", "CC-MAIN-2021-04"]),
        ),
        min_size=1,
        max_size=12,
    ),
    st.randoms(use_true_random=False),
)
def test_properties(items, rnd):
    rows = []
    for k, (src, kind, crawl) in enumerate(items):
        text = {
            "copy": _POOL[src],
            "near": substitute(_POOL[src], 0.01, k),
            "none": f"unique document number {k} " * 3,
            "empty": "",
        }[kind]
        rows.append((f"id{k:03d}", (crawl,), text))
    out = reference_dedup(rows, P)
    _check_invariants(out)
    by = _by_id(out)
    # identical non-empty texts always share a cluster; empties never cluster
    for i, (di, _, ti) in enumerate(rows):
        for dj, _, tj in rows[i + 1 :]:
            if ti and ti == tj:
                assert by[di].cluster_id == by[dj].cluster_id
        if not ti:
            assert by[di].cluster_size == 1
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    assert _by_id(reference_dedup(shuffled, P)) == by
