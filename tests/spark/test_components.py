"""Distributed connected components agree with a union-find on random graphs."""

import random

import pytest

from lmdata.spark.dedup import connected_components

pytestmark = pytest.mark.spark


def _union_find(edges):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in edges:
        ru, rv = find(u), find(v)
        if ru != rv:
            parent[max(ru, rv)] = min(ru, rv)
    return {x: find(x) for x in parent}


@pytest.mark.parametrize("seed,n,m", [(1, 60, 40), (2, 300, 280), (3, 200, 600)])
def test_components_match_union_find(spark, seed, n, m):
    rng = random.Random(seed)
    edges = [(f"d{rng.randrange(n):04d}", f"d{rng.randrange(n):04d}") for _ in range(m)]
    edges += [(f"c{i:04d}", f"c{i + 1:04d}") for i in range(40)]  # a long chain
    want = {k: v for k, v in _union_find(edges).items()}
    df = spark.createDataFrame(edges, "u string, v string")
    got = {r.node: r.component for r in connected_components(df).collect()}
    # self-loop-only nodes are not in the output (no edge to another node)
    want = {k: v for k, v in want.items() if any(k in e and e[0] != e[1] for e in edges)}
    assert got == want
