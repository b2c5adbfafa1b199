"""MinHash signatures, band hashes and the S-curve (lmdata.dedup.minhash)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from dedup_fixtures import FIXTURE, TEXTS, substitute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmdata.dedup import minhash as mh
from lmdata.dedup.minhash import (
    EMPTY_VALUE,
    MinHashParams,
    band_hashes,
    candidate_probability,
    containment,
    estimated_jaccard,
    is_empty,
    jaccard,
    normalize,
    permutations,
    s_curve_table,
    shingle_hash,
    shingle_hashes,
    shingles,
    signatures,
    threshold_estimate,
    to_datasketch,
)

P = MinHashParams()
VARIANTS = [
    P,
    MinHashParams(shingle="char", ngram=7),
    MinHashParams(ngram=1),
    MinHashParams(ngram=3, lowercase=False, num_perm=64, bands=8, rows=8, seed=7),
]
EDGE_TEXTS = [
    "",
    "   \n\t ",
    "!!! ??? ...",
    "one",
    "two words",
    "exactly five words right here",
    "Ünïcödé ﬁne Ｆｕｌｌ width\u00a0nbsp — dash “quotes” 東京 タワー",
    "tabs\tand\x1cseparators\x1f here \u2028 and \u0085 there and more words",
    "x" * 300,
]


def _datasketch_minhash(text: str, p: MinHashParams) -> MinHash:
    m = MinHash(num_perm=p.num_perm, seed=p.seed, hashfunc=shingle_hash)
    m.update_batch(shingles(text, p))
    return m


def _reference_normalize(text: str, p: MinHashParams) -> str:
    """The documented normalization, written the slow obvious way."""
    text = unicodedata.normalize("NFKC", text)
    if p.lowercase:
        text = text.lower()
    if p.shingle == "word":
        text = re.sub(r"[^\w\s]", "", text)
    return " ".join(text.split())


# ----------------------------------------------------------------------------- params


def test_params_validation_and_defaults():
    assert (P.ngram, P.shingle, P.num_perm, P.bands, P.rows, P.seed, P.lowercase) == (
        5,
        "word",
        112,
        14,
        8,
        42,
        True,
    )
    assert P.threshold == pytest.approx(0.7190, abs=1e-4)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        MinHashParams(num_perm=100, bands=14, rows=8)
    with pytest.raises(ValueError):
        MinHashParams(ngram=0)
    with pytest.raises(ValueError):
        MinHashParams(shingle="line")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        P.bands = 3  # type: ignore[misc]  # frozen


# ----------------------------------------------------------------------------- shingles


def test_shingles_normalization():
    assert shingles("", P) == set() and shingles(None, P) == set() and shingles(" \n", P) == set()
    assert shingles("!!! ...", P) == set()  # nothing but punctuation
    assert shingles("Hello, World!", P) == {b"hello world"}  # shorter than 5 words: one shingle
    assert shingles("a b c d e", P) == {b"a b c d e"}
    assert shingles("A b  c\nd e f", P) == {b"a b c d e", b"b c d e f"}
    # punctuation is deleted (not turned into a separator); case, width, spacing normalized
    assert shingles("Don't stop-me now, e-mail me!", P) == shingles("dont stopme now email me", P)
    assert shingles("ＦＵＬＬ width text is NFKC", P) == shingles("full width text is nfkc", P)
    assert normalize("Ünïcödé — “quotes”", P) == "ünïcödé quotes"
    assert len(shingles("w " * 3 + "x y z", P)) == 2  # a set: repeated 5-grams count once
    char = MinHashParams(shingle="char", ngram=3)
    assert shingles("Ab, c", char) == {b"ab,", b"b, ", b", c"}  # char shingles keep punctuation
    assert shingles("ab", char) == {b"ab"}


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_ascii_fast_path_equals_reference(text):
    for p in (P, MinHashParams(shingle="char"), MinHashParams(lowercase=False)):
        assert normalize(text, p) == _reference_normalize(text, p)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_unicode_normalization_equals_reference(text):
    assert normalize(text, P) == _reference_normalize(text, P)


# ----------------------------------------------------------------------------- signatures


def test_permutations_are_datasketchs():
    for num_perm, seed in [(112, 42), (128, 1), (7, 0)]:
        a, b = permutations(num_perm, seed)
        ref = MinHash(num_perm=num_perm, seed=seed).permutations
        assert a.dtype == b.dtype == np.uint32
        assert np.array_equal(a, ref[0]) and np.array_equal(b, ref[1])
    assert permutations(112, 42)[0] is permutations(112, 42)[0]  # built once per process


@pytest.mark.parametrize("p", VARIANTS, ids=lambda p: f"{p.shingle}{p.ngram}-{p.num_perm}")
def test_signatures_equal_datasketch(p):
    texts = TEXTS
    corpus = texts + EDGE_TEXTS + [substitute(texts[0], 0.05, 1)]
    sig = signatures(corpus, p)
    assert sig.dtype == np.uint32 and sig.shape == (len(corpus), p.num_perm)
    for text, row in zip(corpus, sig, strict=True):
        assert np.array_equal(_datasketch_minhash(text, p).hashvalues, row)


def test_signatures_edge_cases():
    sig = signatures(["", None, "   ", "!!!", "word"], P)
    assert is_empty(sig).tolist() == [True, True, True, True, False]
    assert (sig[0] == EMPTY_VALUE).all()
    assert signatures([], P).shape == (0, P.num_perm)
    assert np.array_equal(signatures(["Hello  World"], P), signatures(["hello, world!"], P))


def test_signatures_independent_of_batching(monkeypatch):
    texts = TEXTS
    corpus = texts + EDGE_TEXTS
    whole = signatures(corpus, P)
    one_by_one = np.vstack([signatures([t], P) for t in corpus])
    tiny_batches = signatures(corpus, P, batch_bytes=1)
    assert np.array_equal(whole, one_by_one) and np.array_equal(whole, tiny_batches)
    # small prefix-sum blocks and a small "long shingle" limit take the other code paths
    monkeypatch.setattr(mh, "_BLOCK_BYTES", 97)
    monkeypatch.setattr(mh, "_LONG_SHINGLE", 40)
    monkeypatch.setattr(mh, "_CHUNK_ROWS", 33)
    assert np.array_equal(signatures(corpus, P), whole)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.text(alphabet=st.sampled_from("ab cé.\n東"), max_size=40), max_size=6),
    st.sampled_from(VARIANTS),
)
def test_vectorized_shingle_hashes_equal_scalar(batch, p):
    for text in batch:
        vec = set(shingle_hashes(text, p).tolist())
        assert vec == {shingle_hash(s) for s in shingles(text, p)}
    sig = signatures(batch, p)
    for text, row in zip(batch, sig, strict=True):
        assert np.array_equal(row, _datasketch_minhash(text, p).hashvalues)


def test_golden_values():
    """The shingle hash, permutations and band hash are fixed: stored signatures and band
    hashes must stay comparable across versions."""
    assert shingle_hash(b"the quick brown fox jumps") == 1306613447
    sig = signatures(["The quick brown fox jumps over the lazy dog."], P)
    assert sig[0, :4].tolist() == [1231232749, 1500121514, 596035876, 1916521994]
    assert band_hashes(sig, P)[0, :2].tolist() == [980177134755348211, -9073334128420177132]


# ----------------------------------------------------------------------------- band hashes


def test_band_hashes_shape_and_rows():
    texts = TEXTS
    sig = signatures(texts, P)
    bh = band_hashes(sig, P)
    assert bh.dtype == np.int64 and bh.shape == (len(texts), P.bands)
    assert np.array_equal(band_hashes(sig[3], P), bh[3])
    # a band hash depends only on its band: change one value in band 2
    s2 = sig[0].copy()
    s2[2 * P.rows] ^= 1
    b2 = band_hashes(s2, P)
    assert (b2 != bh[0]).tolist() == [j == 2 for j in range(P.bands)]
    # the band index is mixed in: equal values in different bands hash differently
    same = np.full(P.num_perm, 5, dtype=np.uint32)
    assert len(set(band_hashes(same, P).tolist())) == P.bands
    with pytest.raises(ValueError):
        band_hashes(sig[:, :10], P)


_SUBPROCESS = """
import json, sys
from lmdata.dedup.minhash import MinHashParams, signatures, band_hashes
texts = [json.loads(l)["text"] for l in open(sys.argv[1], encoding="utf-8")]
p = MinHashParams()
print(json.dumps(band_hashes(signatures(texts, p), p).tolist()))
"""


def test_band_hashes_identical_in_another_process():
    texts = TEXTS
    here = band_hashes(signatures(texts, P), P).tolist()
    env = {"PYTHONHASHSEED": "12345", "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS, str(FIXTURE)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    ).stdout
    assert json.loads(out) == here


def test_lsh_candidates_equal_datasketch_lsh():
    texts = TEXTS
    corpus = []
    for i, t in enumerate(texts[:6]):
        corpus += [t, substitute(t, 0.01, i), substitute(t, 0.06, i), substitute(t, 0.3, i)]
    sig = signatures(corpus, P)
    bh = band_hashes(sig, P)
    ours = {
        (i, j)
        for i in range(len(corpus))
        for j in range(i + 1, len(corpus))
        if np.any(bh[i] == bh[j])
    }
    lsh = MinHashLSH(num_perm=P.num_perm, params=(P.bands, P.rows))
    ms = [to_datasketch(row, P) for row in sig]
    for i, m in enumerate(ms):
        lsh.insert(i, m)
    theirs = {(min(i, j), max(i, j)) for i, m in enumerate(ms) for j in lsh.query(m) if j != i}
    assert ours == theirs
    assert {(4 * k, 4 * k + 1) for k in range(6)} <= ours  # 1% edits always found
    assert not any(j - i > 3 for i, j in ours)  # never across different source documents


# ----------------------------------------------------------------------------- similarity


def test_jaccard_and_estimates():
    texts = TEXTS
    a, b = texts[6], texts[7]  # two related tag pages of one site (see PROVENANCE.md)
    sa, sb = shingles(a, P), shingles(b, P)
    j = jaccard(sa, sb)
    assert 0.3 < j < 0.45
    sig = signatures([a, b], P)
    assert abs(estimated_jaccard(sig[0], sig[1]) - j) < 4 * np.sqrt(j * (1 - j) / P.num_perm)
    assert jaccard(set(), set()) == 1.0 and jaccard({b"x"}, set()) == 0.0
    assert containment({b"x", b"y"}, {b"x"}) == 0.5 and containment(set(), {b"x"}) == 0.0
    assert estimated_jaccard(sig, sig[0]).tolist() == [
        1.0,
        pytest.approx(float(np.mean(sig[0] == sig[1]))),
    ]


# ----------------------------------------------------------------------------- S-curve


def test_s_curve_numbers():
    assert threshold_estimate(14, 8) == pytest.approx((1 / 14) ** (1 / 8))
    assert candidate_probability(0.8, 14, 8) == pytest.approx(0.92355, abs=1e-5)
    assert candidate_probability(0.5, 14, 8) == pytest.approx(0.05332, abs=1e-5)
    assert candidate_probability(0.9, 14, 8) > 0.999
    # datasketch's default for threshold 0.9 with 128 perms (5 x 25) catches ~31% of 0.9 pairs
    assert candidate_probability(0.9, 5, 25) == pytest.approx(0.311, abs=1e-3)
    assert candidate_probability(0.0, 14, 8) == 0.0 and candidate_probability(1.0, 14, 8) == 1.0
    table = s_curve_table()
    assert "| 14 x 8 | 0.719 |" in table and table.count("\n") == 5


@given(st.floats(0, 1), st.floats(0, 1), st.integers(1, 40), st.integers(1, 20))
def test_s_curve_monotone(s1, s2, b, r):
    lo, hi = sorted((s1, s2))
    assert candidate_probability(lo, b, r) <= candidate_probability(hi, b, r) + 1e-12
    assert 0.0 <= candidate_probability(lo, b, r) <= 1.0
    assert candidate_probability(hi, b + 1, r) >= candidate_probability(hi, b, r) - 1e-12
