"""Sub-document dedup evaluation: `python -m bench.eval_subdoc_dedup` (writes the "Sub-document
dedup (paragraphs, exact substrings)" section of BENCHMARKS.md and prints it; raw numbers in
bench/out/eval-subdoc-dedup.json). Issue 23.

Reads ../shared/data at run time (never in tests), through bench.corpus.load_pool: the real
Common Crawl / DCLM / dolma / Zyte / whirlwind / CCNet documents (~3 MB).

1. Real corpus loss: bytes each level removes from the real documents as they are (doc order =
   the pool's order): paragraph dedup (lmdata.dedup.paragraphs.first_occurrences, the rule the
   curate stage runs in Spark) and exact-substring dedup (lmdata.dedup.substrings.dedup_shard,
   one shard = the whole pool).
2. Planted test set: the clean text = the real documents after one pass of both levels (so no
   natural duplicate is left); then copies are planted into LATER documents (the first occurrence
   stays the original): whole paragraphs (level 1) and spans of known length cut from a document
   at word boundaries (level 2), inserted at a line / word boundary. Recall = planted bytes
   removed / planted bytes (and the share of planted copies removed to >= 95%); wrongly removed
   = bytes removed outside planted copies / clean bytes.
3. Speed and memory of dedup_shard (one process = one core): MB/s and peak traced memory
   (tracemalloc: the numpy suffix / LCP arrays) per shard size; paragraph hashing MB/s.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from bench._measure import write_run_section
from bench.corpus import DEFAULT_DATA, load_pool
from lmdata.dedup.lines import remove_lines
from lmdata.dedup.paragraphs import first_occurrences, iter_paragraphs
from lmdata.dedup.substrings import dedup_shard

OUT = Path(__file__).resolve().parent / "out" / "eval-subdoc-dedup.json"
TITLE = "Sub-document dedup (paragraphs, exact substrings)"


def _paragraph_pass(docs: list[str], min_chars: int) -> tuple[list[str], int]:
    ids = [f"{i:06d}" for i in range(len(docs))]
    removed = first_occurrences(list(zip(ids, docs, strict=True)), min_chars)
    out = [
        remove_lines(t, removed.get(d)) if d in removed else t
        for d, t in zip(ids, docs, strict=True)
    ]
    return out, sum(len(a.encode()) - len(b.encode()) for a, b in zip(docs, out, strict=True))


def _nbytes(docs: list[str]) -> int:
    return sum(len(t.encode()) for t in docs)


def plant(clean: list[str], rng: random.Random, n_para: int, n_span: int, min_chars: int,
          span_bytes: tuple[int, int]) -> tuple[list[str], dict[int, list[tuple[str, tuple[int, int]]]]]:  # fmt: skip
    """Copies of paragraphs / spans from the first half into later non-empty documents of the
    second half; doc index -> [(kind, UTF-8 byte range of the copy)]."""
    docs = list(clean)
    planted: dict[int, list[tuple[str, tuple[int, int]]]] = {}
    n = len(docs)
    targets = [i for i in range(n // 2, n) if docs[i].strip()]
    paras = [
        (i, q) for i, t in enumerate(clean[: n // 2]) for *_, q in iter_paragraphs(t, min_chars)
    ]

    def insert(dst: int, at_char: int, piece: str, kind: str) -> None:
        text = docs[dst]
        b0 = len(text[:at_char].encode())
        nb = len(piece.encode())
        for k, (kd, (s, e)) in enumerate(planted.get(dst, [])):
            if s >= b0:
                planted[dst][k] = (kd, (s + nb, e + nb))
        docs[dst] = text[:at_char] + piece + text[at_char:]
        lead = len(piece) - len(piece.lstrip("\n "))
        core = piece.strip("\n ")
        c0 = b0 + len(piece[:lead].encode())
        planted.setdefault(dst, []).append((kind, (c0, c0 + len(core.encode()))))

    def free(dst: int, at_char: int) -> bool:
        b = len(docs[dst][:at_char].encode())
        return all(not (s <= b <= e) for _, (s, e) in planted.get(dst, []))

    for _ in range(n_para):
        src, q = rng.choice(paras)
        dst = rng.choice(targets)
        starts = [0] + [k + 1 for k, c in enumerate(docs[dst]) if c == "\n"]
        at = rng.choice(starts)
        if free(dst, at):
            insert(dst, at, q + "\n", "paragraph")
    lo, hi = span_bytes
    n_done, tries = 0, 0
    while n_done < n_span and tries < 20 * n_span:
        tries += 1
        src = clean[rng.randrange(n // 2)]
        # an exact substring of the source between word boundaries (newlines included)
        bounds = [k for k, c in enumerate(src) if c in " \n"] + [len(src)]
        want, j = rng.randint(lo, hi), rng.randrange(len(bounds))
        start = bounds[j] + 1 if bounds[j] < len(src) else len(src)
        end = next((e for e in bounds[j + 1 :] if len(src[start:e].encode()) >= want), None)
        if end is None:
            continue
        text = src[start:end]
        dst = rng.choice(targets)
        spaces = [k for k, c in enumerate(docs[dst]) if c == " "]
        if not spaces:
            continue
        at = rng.choice(spaces)
        if free(dst, at):
            insert(dst, at, " " + text, "span")
            n_done += 1
    return docs, planted


def _score(docs: list[str], removed_masks: list[bytearray], planted, clean_bytes: int) -> dict:
    tot = {"paragraph": [0, 0, 0, 0], "span": [0, 0, 0, 0]}  # planted b, removed b, n, n>=95%
    wrong = 0
    for i, m in enumerate(removed_masks):
        inside = bytearray(len(m))
        for kind, (s, e) in planted.get(i, []):
            got = sum(m[s:e])
            tot[kind][0] += e - s
            tot[kind][1] += got
            tot[kind][2] += 1
            tot[kind][3] += got >= 0.95 * (e - s)
            for k in range(s, e):
                inside[k] = 1
        wrong += sum(1 for k in range(len(m)) if m[k] and not inside[k])
    out = {
        kind: {
            "planted": v[2],
            "planted_bytes": v[0],
            "recall_bytes": v[1] / v[0] if v[0] else None,
            "recall_copies_95": v[3] / v[2] if v[2] else None,
        }
        for kind, v in tot.items()
    }
    out["wrongly_removed_bytes"] = wrong
    out["wrongly_removed_frac"] = wrong / clean_bytes
    return out


def _removed_mask_paragraphs(docs: list[str], min_chars: int) -> list[bytearray]:
    ids = [f"{i:06d}" for i in range(len(docs))]
    removed = first_occurrences(list(zip(ids, docs, strict=True)), min_chars)
    masks = []
    for d, t in zip(ids, docs, strict=True):
        m = bytearray(len(t.encode()))
        drop = set(removed.get(d, ()))
        at = 0
        for j, line in enumerate(t.split("\n")):
            nb = len(line.encode())
            if j in drop:
                for k in range(at, at + nb):
                    m[k] = 1
            at += nb + 1
        masks.append(m)
    return masks


def _removed_mask_substrings(docs: list[str], min_bytes: int) -> list[bytearray]:
    res = dedup_shard(docs, min_bytes)
    masks = []
    for t, spans in zip(docs, res.spans, strict=True):
        m = bytearray(len(t.encode()))
        for s, e in spans:
            m[s:e] = b"\x01" * (e - s)
        masks.append(m)
    return masks


def speed(docs: list[str], min_bytes: int, sizes_mb: list[float], min_chars: int) -> list[dict]:
    rows = []
    base = "\n\n".join(docs)
    for mb in sizes_mb:
        want = int(mb * 2**20)
        shard, k = ([], 0) if mb > 0 else (list(docs), len(docs))
        while sum(len(s) for s in shard) < want:  # the pool repeats for the larger shards
            shard.append(docs[k % len(docs)] + f" #{k}")
            k += 1
        nbytes = _nbytes(shard)
        tracemalloc.start()
        t0 = time.process_time()
        dedup_shard(shard, min_bytes)
        cpu = time.process_time() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append({"shard_mib": nbytes / 2**20, "cpu_s": cpu, "mb_per_s_core": nbytes / 1e6 / cpu,
                     "peak_mib": peak / 2**20, "peak_bytes_per_byte": peak / nbytes})  # fmt: skip
    t0 = time.process_time()
    n = sum(1 for t in docs for _ in iter_paragraphs(t, min_chars))
    cpu = time.process_time() - t0
    rows.append(
        {"paragraph_hashing_mb_per_s_core": len(base.encode()) / 1e6 / cpu, "paragraphs": n}
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-chars", type=int, default=30, help="paragraph key width (params.yaml)")
    p.add_argument("--min-bytes", type=int, default=200, help="substring span (~50 tokens)")
    p.add_argument("--plants", type=int, default=300, help="copies planted per level")
    p.add_argument(
        "--sizes", default="0,4,16,32", help="shard MiB for the speed rows (0: the pool)"
    )
    p.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md")
    p.add_argument("--render", type=Path, help="only re-render the section from a saved JSON")
    a = p.parse_args(argv)
    if a.render:
        body = render(json.loads(a.render.read_text()))
        stamp = json.loads(a.render.read_text()).get("stamp", "")
        write_run_section(TITLE, body, stamp, "python -m bench.eval_subdoc_dedup")
        print(body)
        return 0
    pool = load_pool(a.data)
    real = ["\n".join(lines) for _, lines, _ in pool.docs]
    real_bytes = _nbytes(real)
    after_para, para_loss = _paragraph_pass(real, a.min_chars)
    res = dedup_shard(after_para, a.min_bytes)
    sub_loss = sum(res.bytes_removed)
    clean = res.texts  # no natural duplicate left at either level
    clean_bytes = _nbytes(clean)
    rng = random.Random(a.seed)
    docs, planted = plant(
        clean, rng, a.plants, a.plants, a.min_chars, (a.min_bytes, 3 * a.min_bytes)
    )
    pm = _removed_mask_paragraphs(docs, a.min_chars)
    sm = _removed_mask_substrings(docs, a.min_bytes)
    both = [
        bytearray(x | y for x, y in zip(u, v, strict=True)) for u, v in zip(pm, sm, strict=True)
    ]
    result = {
        "real": {
            "docs": len(real),
            "bytes": real_bytes,
            "paragraph_removed": para_loss,
            "substring_removed_after_paragraph": sub_loss,
        },  # fmt: skip
        "paragraph_level": _score(docs, pm, planted, clean_bytes),
        "both_levels": _score(docs, both, planted, clean_bytes),
        "speed": speed(real, a.min_bytes, [float(x) for x in a.sizes.split(",")], a.min_chars),
        "params": vars(a) | {"data": str(a.data)},
    }
    result["stamp"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))
    body = render(result)
    print(body)
    if not a.no_write:
        write_run_section(TITLE, body, result["stamp"], "python -m bench.eval_subdoc_dedup")
    return 0


def render(r: dict) -> str:
    re_, pl, bo = r["real"], r["paragraph_level"], r["both_levels"]
    pct = lambda x, d: f"{100 * x / d:.2f}%"  # noqa: E731
    lines = [
        f"Real pool: {re_['docs']} documents, {re_['bytes'] / 1e6:.2f} MB (dolma / DCLM / Zyte /"
        " whirlwind / CCNet texts). Paragraph dedup (min_chars "
        f"{r['params']['min_chars']}) removes {pct(re_['paragraph_removed'], re_['bytes'])} of the "
        f"bytes; exact-substring dedup (>= {r['params']['min_bytes']} bytes, one shard) removes "
        f"another {pct(re_['substring_removed_after_paragraph'], re_['bytes'])}.",
        "",
        f"Planted test set (clean = the pool after both levels; {r['params']['plants']} copies per"
        " level planted into later documents):",
        "",
        "| levels run | planted | recall (bytes) | copies removed >= 95% | wrongly removed |",
        "|---|---|---|---|---|",
        f"| paragraph | paragraphs: {pl['paragraph']['planted']} | "
        f"{pl['paragraph']['recall_bytes']:.3f} | {pl['paragraph']['recall_copies_95']:.3f} | "
        f"{100 * pl['wrongly_removed_frac']:.3f}% |",
        f"| paragraph + substring | paragraphs: {bo['paragraph']['planted']} | "
        f"{bo['paragraph']['recall_bytes']:.3f} | {bo['paragraph']['recall_copies_95']:.3f} | "
        f"{100 * bo['wrongly_removed_frac']:.3f}% (both kinds) |",
        f"| paragraph + substring | spans {r['params']['min_bytes']}-"
        f"{3 * r['params']['min_bytes']} B: {bo['span']['planted']} | "
        f"{bo['span']['recall_bytes']:.3f} | {bo['span']['recall_copies_95']:.3f} | |",
        "",
        "Goals: recall >= 0.95, wrongly removed <= 0.5% of the clean text.",
        "",
        "Exact-substring speed, one process (= one core): the pool as it is, then the pool repeated"
        " to the shard size (every byte duplicated: the worst case for the run bookkeeping):",
        "",
        "| shard | CPU s | MB/s per core | peak traced memory | bytes of memory per byte |",
        "|---|---|---|---|---|",
    ]
    for s in r["speed"]:
        if "shard_mib" in s:
            lines.append(
                f"| {s['shard_mib']:.1f} MiB | {s['cpu_s']:.2f} | {s['mb_per_s_core']:.2f} | "
                f"{s['peak_mib']:.0f} MiB | {s['peak_bytes_per_byte']:.1f} |"
            )
        else:
            lines.append(
                f"\nParagraph key + hash: {s['paragraph_hashing_mb_per_s_core']:.1f} MB/s per core"
                f" ({s['paragraphs']} dedupable paragraphs in the pool)."
            )
    lines += [
        "",
        "Reading: both levels find every planted exact copy; the bytes counted as wrongly removed"
        " are context a planted copy happens to share with its source at its edges (a few bytes per"
        " copy, e.g. the space before it). The test"
        " set plants exact copies only: an edited paragraph (one word changed) has another hash and"
        " stays (near-duplicate documents are MinHash's job). The suffix-array step is the"
        " expensive one: ~2-4 MB/s per core in Python + numpy around libdivsufsort (not compared"
        " with Lee et al.'s Rust tool here) and ~50-90 bytes of memory per byte of shard at peak"
        " (suffix array,"
        " LCP and the run bookkeeping), so params.yaml's shard_mb 16 needs ~1.4 GiB per task."
        " Re-run:"
        " `make eval` or `python -m bench.eval_subdoc_dedup`.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
