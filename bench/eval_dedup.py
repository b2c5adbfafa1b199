"""Fuzzy dedup quality evaluation: `python -m bench.eval_dedup` (writes the "Fuzzy dedup
(quality)" section of BENCHMARKS.md and prints it; raw numbers in bench/out/eval-dedup.json).

Reads ../shared/data at run time (never in tests):
1. neardup-plagiarised-short-answers: each answer vs its task's source (cut/light/heavy/non):
   fraction flagged (LSH candidate of its source; same cluster as its source), Jaccard and
   containment distributions; a small sweep of sketch settings.
2. Synthetic near-duplicates of real CC documents (dclm-quality-annotations, dolma-cc-samples):
   word substitutions 1/5/10/20/30%, boilerplate appended, truncation to 80/50%, line
   reordering; pair precision and recall per edit.
3. Measured S-curve: fraction of (document, edited copy) pairs that become LSH candidates vs
   their exact Jaccard, binned, against 1 - (1 - s^r)^b.
4. Agreement with datasketch.MinHashLSH(num_perm, params=(bands, rows)) on the same MinHash
   objects: the candidate sets must be identical (asserted).
5. Signature speed (docs/s, MiB/s, one process) vs plain datasketch on the same texts.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import platform
import random
import re
import statistics
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from lmdata.dedup.minhash import (
    MinHashParams,
    band_hashes,
    candidate_probability,
    containment,
    is_empty,
    jaccard,
    shingle_hash,
    shingles,
    signatures,
    threshold_estimate,
    to_datasketch,
)
from lmdata.dedup.reference import candidate_pairs, components, reference_dedup, star_edges

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LMDATA_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "bench" / "out"
SECTION = "## Fuzzy dedup (quality)"

DEFAULT = MinHashParams()
SWEEP = [
    ("5-gram words, 14 x 8 (default)", DEFAULT),
    ("5-gram words, 20 x 5", MinHashParams(bands=20, rows=5)),
    ("5-gram words, 9 x 13", MinHashParams(num_perm=117, bands=9, rows=13)),
    ("3-gram words, 14 x 8", MinHashParams(ngram=3)),
]


def _q(xs: list[float], qs=(0.1, 0.5, 0.9)) -> str:
    if not xs:
        return "-"
    a = np.quantile(np.asarray(xs, dtype=float), qs)
    return " / ".join(f"{v:.2f}" for v in a)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


# ----------------------------------------------------------------------------- 1. plagiarism


def eval_plagiarism() -> tuple[dict, str]:
    root = DATA / "neardup-plagiarised-short-answers"
    with open(root / "file_information.csv", newline="") as f:
        info = [
            (r["File"].strip(), r["Task"].strip(), r["Category"].strip()) for r in csv.DictReader(f)
        ]
    answers = [(f, t, c) for f, t, c in info if c != "orig"]
    tasks = sorted({t for _, t, _ in answers})
    names = [f"orig_task{t}.txt" for t in tasks] + [f for f, _, _ in answers]
    texts = {n: _read_text(root / n) for n in names}
    cats = ["cut", "light", "heavy", "non"]
    res: dict = {"n": {c: sum(1 for a in answers if a[2] == c) for c in cats}, "configs": {}}
    for label, p in SWEEP:
        sig = signatures([texts[n] for n in names], p)
        bh = band_hashes(sig, p)
        idx = {n: i for i, n in enumerate(names)}
        cand = candidate_pairs(bh, is_empty(sig))
        comp = components(len(names), star_edges(bh, is_empty(sig)))
        per: dict = {}
        for c in cats:
            rows = [a for a in answers if a[2] == c]
            flag_direct, flag_cluster, jac, con, est = 0, 0, [], [], []
            for f, t, _ in rows:
                i, j = idx[f"orig_task{t}.txt"], idx[f]
                flag_direct += (min(i, j), max(i, j)) in cand
                flag_cluster += comp[i] == comp[j]
                sa, so = shingles(texts[f], p), shingles(texts[f"orig_task{t}.txt"], p)
                jac.append(jaccard(sa, so))
                con.append(containment(sa, so))
                est.append(float(np.mean(sig[i] == sig[j])))
            per[c] = {
                "n": len(rows),
                "flagged_candidate": flag_direct / len(rows),
                "flagged_cluster": flag_cluster / len(rows),
                "jaccard": jac,
                "containment": con,
                "estimated_jaccard": est,
                "p_candidate_theory_mean": float(
                    np.mean(candidate_probability(np.array(jac), p.bands, p.rows))
                ),
            }
        # false positives: answers that became candidates of another task's source or answers
        wrong = 0
        for a, b in cand:
            ta = _task_of(names[a], answers)
            tb = _task_of(names[b], answers)
            wrong += ta != tb
        per["cross_task_candidate_pairs"] = wrong
        res["configs"][label] = per
    d = res["configs"][SWEEP[0][0]]
    lines = [
        "### 1. Graded near-duplicates: plagiarised short answers",
        "",
        "Corpus: `neardup-plagiarised-short-answers` (Clough & Stevenson; 95 answers of 200-300 words,"
        " each judged against its task's Wikipedia source: cut = copy-paste of parts, light/heavy ="
        " revised, non = written independently). Default setting (word 5-grams, 112 perms, 14 x 8)."
        " Containment = share of the answer's 5-grams found in the source; Jaccard = exact 5-gram"
        " Jaccard (answer vs whole source); quantiles p10 / p50 / p90.",
        "",
        "| category | n | flagged: LSH candidate of source | flagged: same cluster | exact Jaccard p10/p50/p90 | containment p10/p50/p90 | containment >= 0.5 | E[P(candidate)] from Jaccard |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cats:
        x = d[c]
        lines.append(
            f"| {c} | {x['n']} | {x['flagged_candidate']:.0%} | {x['flagged_cluster']:.0%} | "
            f"{_q(x['jaccard'])} | {_q(x['containment'])} | "
            f"{np.mean(np.array(x['containment']) >= 0.5):.0%} | {x['p_candidate_theory_mean']:.0%} |"
        )
    lines += [
        "",
        f"Candidate pairs across different tasks (false positives): {d['cross_task_candidate_pairs']}.",
        "",
        "Sweep (fraction flagged as LSH candidate of the source, per category; cross-task false"
        " positive pairs):",
        "",
        "| setting | threshold ~ | cut | light | heavy | non | cross-task FP pairs |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, p in SWEEP:
        x = res["configs"][label]
        lines.append(
            f"| {label} | {threshold_estimate(p.bands, p.rows):.2f} | "
            + " | ".join(f"{x[c]['flagged_candidate']:.0%}" for c in cats)
            + f" | {x['cross_task_candidate_pairs']} |"
        )
    return res, "\n".join(lines)


def _task_of(name: str, answers) -> str:
    m = re.match(r"orig_task(\w)\.txt", name)
    if m:
        return m.group(1)
    for f, t, _ in answers:
        if f == name:
            return t
    raise KeyError(name)


# ----------------------------------------------------------------------------- CC documents


def load_cc_docs(min_words: int = 50) -> list[str]:
    docs: list[str] = []
    with open(DATA / "dclm-quality-annotations" / "majority_data.jsonl") as f:
        docs += [json.loads(line)["text"] for line in f]
    for name in ("cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz", "000.json.gz"):
        with gzip.open(DATA / "dolma-cc-samples" / name, "rt") as f:
            docs += [json.loads(line)["text"] for line in f]
    seen, out = set(), []
    p = DEFAULT
    for d in docs:
        sh = shingles(d, p)
        key = frozenset(sh)
        if len(sh) + p.ngram - 1 >= min_words and key not in seen:
            seen.add(key)
            out.append(d)
    return out


_TOKEN = re.compile(r"(\s+)")

BOILERPLATE = [
    "Home | About Us | Contact | Privacy Policy | Terms of Use | Sitemap",
    "This website uses cookies to improve your experience. By continuing to browse you agree to our use of cookies.",
    "Copyright 2024 All rights reserved. Powered by WordPress.",
    "Subscribe to our newsletter to get the latest updates straight to your inbox.",
    "Share this: Facebook Twitter Pinterest LinkedIn Email Print",
    "Related posts you may also like. Leave a reply. Your email address will not be published.",
]


def _words(text: str) -> list[str]:
    return _TOKEN.split(text)  # words at even indices, separators at odd


def substitute(text: str, rate: float, vocab: list[str], rng: random.Random) -> str:
    parts = _words(text)
    pos = [i for i in range(0, len(parts), 2) if parts[i]]
    k = max(1, round(rate * len(pos))) if rate > 0 else 0
    for i in rng.sample(pos, min(k, len(pos))):
        parts[i] = rng.choice(vocab)
    return "".join(parts)


def truncate(text: str, frac: float) -> str:
    parts = _words(text)
    pos = [i for i in range(0, len(parts), 2) if parts[i]]
    keep = max(1, round(frac * len(pos)))
    return "".join(parts[: pos[keep - 1] + 1])


def append_boilerplate(text: str, frac: float | None, rng: random.Random) -> str:
    lines = BOILERPLATE[:]
    rng.shuffle(lines)
    if frac is None:  # one fixed footer of ~60 words
        return text + "\n" + "\n".join(lines)
    target = frac * len(text.split())
    out, n, k = [], 0, 0
    while n < target:
        line = lines[k % len(lines)] + f" {rng.randrange(1000)}"
        out.append(line)
        n += len(line.split())
        k += 1
    return text + "\n" + "\n".join(out)


def reorder_lines(text: str, rng: random.Random) -> str | None:
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if len(lines) < 3:
        return None
    order = list(range(len(lines)))
    while order == sorted(order):
        rng.shuffle(order)
    return "\n".join(lines[i] for i in order)


EDITS = [
    ("substitute 1% of words", lambda t, v, r: substitute(t, 0.01, v, r)),
    ("substitute 5% of words", lambda t, v, r: substitute(t, 0.05, v, r)),
    ("substitute 10% of words", lambda t, v, r: substitute(t, 0.10, v, r)),
    ("substitute 20% of words", lambda t, v, r: substitute(t, 0.20, v, r)),
    ("substitute 30% of words", lambda t, v, r: substitute(t, 0.30, v, r)),
    ("append a ~60-word footer", lambda t, v, r: append_boilerplate(t, None, r)),
    ("append boilerplate = 30% of length", lambda t, v, r: append_boilerplate(t, 0.30, r)),
    ("truncate to 80%", lambda t, v, r: truncate(t, 0.8)),
    ("truncate to 50%", lambda t, v, r: truncate(t, 0.5)),
    ("reorder lines (paragraphs)", lambda t, v, r: reorder_lines(t, r)),
]


def _vocab(docs: list[str]) -> list[str]:
    words = sorted({w for d in docs for w in d.split() if w.isalpha() and 2 <= len(w) <= 12})
    return words


def build_synthetic(docs: list[str], seed: int = 0) -> list[tuple[str, list[str], list[int]]]:
    """Per edit: (name, variant texts, base index of each variant)."""
    vocab = _vocab(docs)
    out = []
    for k, (name, fn) in enumerate(EDITS):
        rng = random.Random(seed * 1000 + k)
        texts, bases = [], []
        for i, d in enumerate(docs):
            v = fn(d, vocab, rng)
            if v is not None and v != d:
                texts.append(v)
                bases.append(i)
        out.append((name, texts, bases))
    return out


def _pair_scores(n_base: int, bases: list[int], label: list[int]) -> tuple[int, int, int]:
    """(true pairs found, predicted same-cluster pairs, true pairs) for docs = originals then
    variants; ground truth: variant k ~ its base only."""
    size: dict[int, int] = {}
    for lab in label:
        size[lab] = size.get(lab, 0) + 1
    predicted = sum(s * (s - 1) // 2 for s in size.values())
    found = sum(label[b] == label[n_base + k] for k, b in enumerate(bases))
    return found, predicted, len(bases)


def eval_synthetic(docs: list[str], synth) -> tuple[dict, str]:
    base_sig = signatures(docs, DEFAULT)
    base_sh = [shingles(d, DEFAULT) for d in docs]
    base_pairs = candidate_pairs(band_hashes(base_sig, DEFAULT), is_empty(base_sig))
    res: dict = {"n_base": len(docs), "base_candidate_pairs": len(base_pairs), "edits": {}}
    for name, texts, bases in synth:
        jac = [jaccard(base_sh[b], shingles(t, DEFAULT)) for t, b in zip(texts, bases, strict=True)]
        entry = {"n": len(texts), "jaccard": jac, "configs": {}}
        for label, p in SWEEP:
            rows = [(f"b{i:05d}", (0,), d) for i, d in enumerate(docs)]
            rows += [(f"v{k:05d}", (1,), t) for k, t in enumerate(texts)]
            out = reference_dedup(rows, p)
            lab_of = {r.cluster_id: i for i, r in enumerate(out)}
            label = [lab_of[r.cluster_id] for r in out]
            found, predicted, true = _pair_scores(len(docs), bases, label)
            kept_right = sum(
                1 for k, b in enumerate(bases) if out[len(docs) + k].duplicate_of == f"b{b:05d}"
            )
            entry["configs"][label_name(p)] = {
                "recall": found / true if true else float("nan"),
                "precision": found / predicted if predicted else 1.0,
                "predicted_pairs": predicted,
                "variants_removed_in_favour_of_base": kept_right / true if true else float("nan"),
            }
        res["edits"][name] = entry
    d = label_name(DEFAULT)
    lines = [
        "### 2. Synthetic near-duplicates of real CC documents",
        "",
        f"{len(docs)} real CC documents (dclm-quality-annotations majority_data + dolma-cc-samples,"
        " >= 50 words, exact copies dropped) plus, per edit, one edited copy of each; each edit is"
        " deduplicated separately (originals + its copies, reference dedup = LSH buckets + connected"
        " components, no verification). Recall = share of (original, copy) pairs put in one cluster;"
        " precision = share of all same-cluster pairs that are such true pairs. Jaccard = exact"
        " 5-gram Jaccard (original, copy), p10 / p50 / p90. Among the originals alone: "
        f"{len(base_pairs)} candidate pairs (of {len(docs) * (len(docs) - 1) // 2:,}).",
        "",
        "| edit | copies | exact Jaccard p10/p50/p90 | P(candidate) theory (mean) | recall | precision | copy removed, original kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, _texts, _ in synth:
        e = res["edits"][name]
        x = e["configs"][d]
        theory = float(np.mean(candidate_probability(np.array(e["jaccard"]), 14, 8)))
        lines.append(
            f"| {name} | {e['n']} | {_q(e['jaccard'])} | {theory:.1%} | {x['recall']:.1%} | "
            f"{x['precision']:.1%} | {x['variants_removed_in_favour_of_base']:.1%} |"
        )
    lines += [
        "",
        "Recall by setting (same data; precision was 100% for every cell unless shown):",
        "",
        "| edit | " + " | ".join(label_name(p) for _, p in SWEEP) + " |",
        "|---|" + "---|" * len(SWEEP),
    ]
    for name, _, _ in synth:
        cells = []
        for _, p in SWEEP:
            x = res["edits"][name]["configs"][label_name(p)]
            cell = f"{x['recall']:.1%}"
            if x["precision"] < 1.0:
                cell += f" (P {x['precision']:.1%})"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return res, "\n".join(lines)


def label_name(p: MinHashParams) -> str:
    return f"{p.ngram}-gram {p.bands}x{p.rows}"


# ----------------------------------------------------------------------------- 3. S-curve


def eval_s_curve(docs: list[str], seed: int = 1, per_doc: int = 8) -> tuple[dict, str]:
    """Pairs (original, copy) whose exact Jaccard spreads over [0, 1]: substitution rates and
    truncations chosen from a target Jaccard drawn uniformly."""
    rng = random.Random(seed)
    vocab = _vocab(docs)
    p = DEFAULT
    texts, bases = [], []
    for i, d in enumerate(docs):
        for k in range(per_doc):
            target = rng.uniform(0.25, 1.0)
            if k % 2 == 0:  # substitutions: unchanged n-grams x = (1-q)^n, J = x / (2 - x)
                x = 2 * target / (1 + target)
                q = 1 - x ** (1 / p.ngram)
                texts.append(substitute(d, q, vocab, rng))
            else:  # truncation: J = kept fraction
                texts.append(truncate(d, target))
            bases.append(i)
    all_texts = docs + texts
    sig = signatures(all_texts, p)
    bh = band_hashes(sig, p)
    n0 = len(docs)
    cand = np.array([bool(np.any(bh[b] == bh[n0 + k])) for k, b in enumerate(bases)])
    base_sh = [shingles(d, p) for d in docs]
    jac = np.array([jaccard(base_sh[b], shingles(t, p)) for t, b in zip(texts, bases, strict=True)])
    est = np.array([float(np.mean(sig[b] == sig[n0 + k])) for k, b in enumerate(bases)])
    edges = np.round(np.arange(0.0, 1.0001, 0.05), 2)
    rows, zmax = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (jac >= lo) & ((jac < hi) if hi < 1.0 else (jac <= hi))
        nb = int(m.sum())
        if nb == 0:
            continue
        ps = candidate_probability(jac[m], p.bands, p.rows)
        exp = float(np.mean(ps))
        meas = float(np.mean(cand[m]))
        sd = math.sqrt(float(np.sum(ps * (1 - ps)))) / nb
        z = (meas - exp) / sd if sd > 0 else 0.0
        zmax = max(zmax, abs(z)) if nb >= 20 else zmax
        rows.append(
            {
                "bin": f"[{lo:.2f}, {hi:.2f}{']' if hi >= 1.0 else ')'}",
                "pairs": nb,
                "measured": meas,
                "theory_mean": exp,
                "theory_mid": candidate_probability((lo + hi) / 2, p.bands, p.rows),
                "z": z,
                "est_minus_exact_jaccard_mean": float(np.mean(est[m] - jac[m])),
            }
        )
    err = est - jac
    res = {
        "pairs": len(texts),
        "bins": rows,
        "max_abs_z_bins_ge_20": zmax,
        "estimate_bias": float(np.mean(err)),
        "estimate_rmse": float(np.sqrt(np.mean(err**2))),
        "estimate_rmse_theory": float(np.sqrt(np.mean(jac * (1 - jac) / p.num_perm))),
    }
    lines = [
        "### 3. Measured S-curve (14 x 8, word 5-grams)",
        "",
        f"{len(texts):,} (original, edited copy) pairs of the CC documents above (half with word"
        " substitutions, half truncated, at rates drawn so that the exact Jaccard spreads over"
        " 0.25-1). Measured = share of pairs in the bin that share at least one band; theory ="
        " mean of 1 - (1 - s^8)^14 over the bin's pairs (and at the bin's middle); z = (measured -"
        " theory) / binomial s.d.",
        "",
        "| exact Jaccard | pairs | measured | theory (pairs' mean) | theory (bin middle) | z |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['bin']} | {r['pairs']} | {r['measured']:.3f} | {r['theory_mean']:.3f} | "
            f"{r['theory_mid']:.3f} | {r['z']:+.1f} |"
        )
    lines += [
        "",
        f"Largest |z| over bins with >= 20 pairs: {zmax:.1f}. MinHash Jaccard estimate vs exact"
        f" over all pairs: bias {res['estimate_bias']:+.4f}, RMSE {res['estimate_rmse']:.4f}"
        f" (binomial expectation sqrt(J(1-J)/112): {res['estimate_rmse_theory']:.4f}).",
    ]
    return res, "\n".join(lines)


# ----------------------------------------------------------------------------- 4. datasketch


def eval_datasketch(all_texts: list[str], check_hash_n: int = 300) -> tuple[dict, str]:
    from datasketch import MinHash, MinHashLSH

    p = DEFAULT
    sig = signatures(all_texts, p)
    empty = is_empty(sig)
    # the MinHash objects: ours as datasketch MinHash; for the first `check_hash_n` documents
    # also computed by datasketch itself from the shingles (must be identical)
    mhs = [to_datasketch(row, p) for row in sig]
    for i in range(min(check_hash_n, len(all_texts))):
        m = MinHash(num_perm=p.num_perm, seed=p.seed, hashfunc=shingle_hash)
        m.update_batch(shingles(all_texts[i], p))
        assert m == mhs[i], f"datasketch MinHash differs for document {i}"
    lsh = MinHashLSH(num_perm=p.num_perm, params=(p.bands, p.rows))
    keys = [i for i in range(len(all_texts)) if not empty[i]]
    with lsh.insertion_session() as s:
        for i in keys:
            s.insert(i, mhs[i])
    ds_pairs = set()
    for i in keys:
        for j in lsh.query(mhs[i]):
            if j != i:
                ds_pairs.add((min(i, j), max(i, j)))
    ours = candidate_pairs(band_hashes(sig, p), empty)
    only_ours, only_ds = ours - ds_pairs, ds_pairs - ours
    assert not only_ours and not only_ds, (len(only_ours), len(only_ds))
    res = {
        "documents": len(all_texts),
        "checked_hashvalues": min(check_hash_n, len(all_texts)),
        "candidate_pairs": len(ours),
        "only_ours": len(only_ours),
        "only_datasketch": len(only_ds),
    }
    text = "\n".join(
        [
            "### 4. Agreement with datasketch.MinHashLSH",
            "",
            f"All {len(all_texts):,} documents of section 2 (originals and all edited copies):"
            f" `MinHashLSH(num_perm=112, params=(14, 8))` fed with the same MinHash objects"
            f" (`to_datasketch(signature)`; for the first {res['checked_hashvalues']} documents"
            " datasketch's own `MinHash(num_perm=112, seed=42, hashfunc=shingle_hash)"
            ".update_batch(shingles)` was asserted equal). Candidate pairs: lmdata band hashes"
            f" {len(ours):,}, datasketch {len(ds_pairs):,}; only in lmdata {len(only_ours)}, only"
            f" in datasketch {len(only_ds)} (asserted: identical).",
        ]
    )
    return res, text


# ----------------------------------------------------------------------------- 5. speed


def eval_speed(docs: list[str], repeat: int = 10, runs: int = 3) -> tuple[dict, str]:
    from datasketch import MinHash

    p = DEFAULT
    texts = docs * repeat
    mib = sum(len(t.encode("utf-8")) for t in texts) / 2**20
    signatures(texts[:50], p)  # warm the power tables and permutations
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sig = signatures(texts, p)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    band_hashes(sig, p)
    t_band = time.perf_counter() - t0
    # plain datasketch on one copy of the docs: our shingles, datasketch's default SHA-1 hash
    t0 = time.perf_counter()
    sets = [shingles(d, p) for d in docs]
    t_sh = time.perf_counter() - t0
    t0 = time.perf_counter()
    MinHash.bulk(sets, num_perm=p.num_perm, seed=p.seed)
    t_ds = time.perf_counter() - t0 + t_sh
    mib1 = mib / repeat
    best, med = min(times), statistics.median(times)
    res = {
        "docs": len(texts),
        "mib": mib,
        "signatures_s": times,
        "band_hashes_s": t_band,
        "datasketch_docs": len(docs),
        "datasketch_s": t_ds,
    }
    text = "\n".join(
        [
            "### 5. Signature speed (one process)",
            "",
            f"{len(texts):,} real CC documents ({mib:.1f} MiB UTF-8; the section 2 originals x"
            f" {repeat}), 112 permutations, word 5-grams, {runs} runs:",
            "",
            "| | docs/s (best / median) | MiB/s (best / median) |",
            "|---|---|---|",
            f"| `signatures` (vectorized; values = datasketch's with `hashfunc=shingle_hash`) |"
            f" {len(texts) / best:,.0f} / {len(texts) / med:,.0f} | {mib / best:.1f} / {mib / med:.1f} |",
            f"| `band_hashes` (14 bands, xxh3) | {len(texts) / t_band:,.0f} | {mib / t_band:.0f} |",
            f"| plain datasketch: `shingles` + `MinHash.bulk` (default SHA-1 hashfunc) |"
            f" {len(docs) / t_ds:,.0f} | {mib1 / t_ds:.1f} |",
            "",
            f"lmdata / datasketch: {t_ds / len(docs) / (best / len(texts)):.1f}x faster per document.",
        ]
    )
    return res, text


# ----------------------------------------------------------------------------- report


def write_section(markdown: str, path: Path = ROOT / "BENCHMARKS.md") -> None:
    """Replace (or append) our section; re-read the file right before writing."""
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    body = markdown.rstrip() + "\n"
    start = current.find(SECTION + "\n")
    if start < 0:
        new = current.rstrip() + "\n\n" + body
    else:
        nxt = current.find("\n## ", start + len(SECTION))
        tail = current[nxt + 1 :] if nxt >= 0 else ""
        new = current[:start] + body + ("\n" + tail if tail else "")
    path.write_text(new)


def _reading(r1: dict, r2: dict, r3: dict) -> str:
    d1 = r1["configs"][SWEEP[0][0]]
    e = r2["edits"]
    lab = label_name(DEFAULT)
    alt = label_name(SWEEP[1][1])

    def rec(name: str, key: str = lab) -> str:
        return f"{e[name]['configs'][key]['recall']:.1%}"

    prec = min(x["configs"][lab]["precision"] for x in e.values())
    cut_c = float(np.mean(np.array(d1["cut"]["containment"]) >= 0.5))
    return "\n".join(
        [
            "Reading:",
            f"- 14 x 8 finds what is near-identical: copies with 1% of words substituted"
            f" {rec('substitute 1% of words')}, truncated to 80% {rec('truncate to 80%')},"
            f" +30% boilerplate {rec('append boilerplate = 30% of length')}; it mostly lets pass"
            f" copies below Jaccard ~0.6 (5% substituted {rec('substitute 5% of words')}, truncated"
            f" to 50% {rec('truncate to 50%')}). Lowest precision over all edits: {prec:.1%};"
            f" {r2['base_candidate_pairs']} candidate pairs among the {r2['n_base']} unrelated"
            " originals.",
            f"- The measured S-curve follows 1 - (1 - s^8)^14 within noise (largest |z|"
            f" {r3['max_abs_z_bins_ge_20']:.1f}): recall on real edits is predictable from the"
            " Jaccard distribution alone.",
            f"- Partial copies are not near-duplicates in the Jaccard sense: {cut_c:.0%} of the"
            f" copy-paste ('cut') answers have >= 50% of their 5-grams in the source, but only"
            f" {d1['cut']['flagged_candidate']:.0%} are flagged, because Jaccard against the whole"
            f" source stays low (median {np.median(d1['cut']['jaccard']):.2f}). Finding copied passages needs containment (e.g."
            " datasketch's LSH Ensemble, or substring/suffix-array dedup), not a lower threshold.",
            f"- 20 x 5 (threshold ~0.55) recovers more edited copies (5% substituted:"
            f" {rec('substitute 5% of words', alt)}) at ~99% precision; 9 x 13 (~0.84) is"
            " stricter. The default stays at the published 14 x 8.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    ap.add_argument("--speed-repeat", type=int, default=10)
    args = ap.parse_args(argv)
    if not DATA.exists():
        raise SystemExit(f"shared data not found: {DATA} (set LMDATA_SHARED_DATA)")
    t_start = time.time()
    r1, m1 = eval_plagiarism()
    docs = load_cc_docs()
    synth = build_synthetic(docs)
    r2, m2 = eval_synthetic(docs, synth)
    r3, m3 = eval_s_curve(docs)
    all_texts = docs + [t for _, texts, _ in synth for t in texts]
    r4, m4 = eval_datasketch(all_texts)
    r5, m5 = eval_speed(docs, repeat=args.speed_repeat)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = "\n".join(
        [
            SECTION,
            "",
            f"`python -m bench.eval_dedup` ({now}; CPython {platform.python_version()},"
            f" {os.cpu_count()} CPUs visible; {time.time() - t_start:.0f} s). MinHash = lmdata.dedup"
            f".minhash with the default `MinHashParams` ({asdict(DEFAULT)}); reference dedup ="
            " lmdata.dedup.reference (the rules the Spark job reproduces). Theory: P(candidate | s)"
            " = 1 - (1 - s^8)^14, threshold ~ (1/14)^(1/8) = 0.72.",
        ]
    )
    md = "\n\n".join([header, _reading(r1, r2, r3), m1, m2, m3, m4, m5]) + "\n"
    print(md)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "eval-dedup.json").write_text(
        json.dumps(
            {"plagiarism": r1, "synthetic": r2, "s_curve": r3, "datasketch": r4, "speed": r5},
            indent=1,
            default=float,
        )
    )
    if not args.no_write:
        write_section(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
