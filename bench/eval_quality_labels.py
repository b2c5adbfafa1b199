"""Heuristic quality filters against human judgement (DCLM's annotated Common Crawl documents).

    python -m bench.eval_quality_labels [--data DIR] [--no-write] [--json PATH]

Data: ``../shared/data/dclm-quality-annotations`` (majority_data.jsonl: 499 documents labelled
1 = high quality / 0 = low quality by annotators' majority vote; agreement_data.jsonl: the 281 on
which annotators agreed). Every document is normalized as in ``curate`` (params.yaml
curate.web.normalize) and scored by the default web pipeline (config.DEFAULT_WEB_FILTERS).
Repeated-line removal is a cross-document step and does not apply to single documents.

Reported (label 1 = positive):
- ROC-AUC (sklearn) of each heuristic filter's soft score: the fraction of its rules a document
  passes (each rule checked alone at its published threshold), and of the combined decision
  (keep = 1) and the number of the four heuristic filters a document passes;
- ROC-AUC of every individual score (oriented: a ``min_`` rule's score as is, a ``max_`` rule's
  negated), the five most informative listed;
- precision / recall / F1 / balanced accuracy of the default keep decision;
- a one-threshold-at-a-time sweep over the four heuristic filters' numeric thresholds (values
  at score quantiles), chosen on the 218 docs outside the agreement subset and measured on the
  281 agreement docs (held out): changes that gain >= 0.02 balanced accuracy on the tuning docs,
  the held-out docs and all 499 are proposed (never applied).

Printed as Markdown and written into BENCHMARKS.md (section "Quality heuristics vs human labels")
and bench/out/eval_quality_labels.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("LMDATA_SHARED_DATA", ROOT.parent / "shared" / "data"))
SECTION = "Quality heuristics vs human labels"
FAMILIES = ("gopher_quality_", "gopher_repetition_", "c4_", "fineweb_")


def _heuristics() -> tuple[str, ...]:
    """The four heuristic filters of the default web pipeline, whatever versions it names."""
    from lmdata.config import DEFAULT_WEB_FILTERS

    return tuple(n for f in FAMILIES for n in DEFAULT_WEB_FILTERS if n.startswith(f))


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _rule_alone(flt, key: str) -> dict:
    """Thresholds with only ``key`` active (numbers -> None, booleans -> False elsewhere)."""
    th = {}
    for k, v in flt.default_thresholds.items():
        if k == key:
            th[k] = v
        else:
            th[k] = False if isinstance(v, bool) else None
    return th


def soft_pass(flt, scores: dict) -> float:
    """Fraction of the filter's active rules the document passes (each rule alone)."""
    keys = [k for k, v in flt.default_thresholds.items() if v is not None and v is not False]
    passed = sum(
        flt.check(scores, flt.resolve_thresholds(_rule_alone(flt, k))) is None for k in keys
    )
    return passed / len(keys)


def metrics(labels: list[int], keep: list[bool]) -> dict:
    tp = sum(1 for y, k in zip(labels, keep, strict=True) if y and k)
    fp = sum(1 for y, k in zip(labels, keep, strict=True) if not y and k)
    fn = sum(1 for y, k in zip(labels, keep, strict=True) if y and not k)
    tn = sum(1 for y, k in zip(labels, keep, strict=True) if not y and not k)
    prec = tp / (tp + fp) if tp + fp else float("nan")
    rec = tp / (tp + fn) if tp + fn else float("nan")
    spec = tn / (tn + fp) if tn + fp else float("nan")
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {
        "n": len(labels),
        "kept": tp + fp,
        "precision": prec,
        "recall": rec,
        "specificity": spec,
        "f1": f1,
        "balanced_accuracy": (rec + spec) / 2,
        "drop_precision": tn / (tn + fn) if tn + fn else float("nan"),
        "drop_recall": spec,
    }


def auc(labels, values) -> float:
    from sklearn.metrics import roc_auc_score

    vals = [0.0 if (v is None or not math.isfinite(v)) else v for v in values]
    if len(set(vals)) < 2:
        return 0.5
    return float(roc_auc_score(labels, vals))


def score_docs(texts: list[str]):
    from lmdata.config import DEFAULT_WEB_FILTERS, load_params
    from lmdata.filters.base import FilterPipeline
    from lmdata.filters.normalize import normalize

    params = load_params(ROOT / "params.yaml")
    ncfg = params.curate.web.normalize
    pipeline = FilterPipeline.from_config(dict(DEFAULT_WEB_FILTERS))
    t0 = time.perf_counter()
    norm = [normalize(t, ncfg.model_dump()) if ncfg else t for t in texts]
    results = pipeline.apply_batch(norm)
    return pipeline, results, time.perf_counter() - t0


def evaluate(data: Path) -> dict:
    from lmdata.filters.registry import get_filter

    HEURISTICS = _heuristics()
    d = data / "dclm-quality-annotations"
    majority = load(d / "majority_data.jsonl")
    agree_texts = {r["text"] for r in load(d / "agreement_data.jsonl")}
    texts = [r["text"] for r in majority]
    labels = [int(r["label"]) for r in majority]
    pipeline, results, secs = score_docs(texts)
    scores = [r.scores for r in results]
    subsets = {
        "majority": list(range(len(texts))),
        "agreement": [i for i, t in enumerate(texts) if t in agree_texts],
    }
    filters = {name: get_filter(name)() for name in HEURISTICS}
    soft = {n: [soft_pass(f, s) for s in scores] for n, f in filters.items()}
    passes = {n: [f.decide(s) is None for s in scores] for n, f in filters.items()}
    n_pass = [sum(passes[n][i] for n in HEURISTICS) for i in range(len(texts))]
    keep = [r.reason is None for r in results]
    reasons: dict[str, int] = {}
    for r in results:
        if r.reason:
            reasons[r.reason.split(":")[0]] = reasons.get(r.reason.split(":")[0], 0) + 1
    out: dict = {"docs": len(texts), "seconds": round(secs, 1), "subsets": {}, "drops": reasons}
    for sub, idx in subsets.items():
        y = [labels[i] for i in idx]
        res = {
            "n": len(idx),
            "positives": sum(y),
            "auc": {
                **{n: auc(y, [soft[n][i] for i in idx]) for n in HEURISTICS},
                "heuristics_passed (0-4)": auc(y, [n_pass[i] for i in idx]),
                "combined keep decision": auc(y, [float(keep[i]) for i in idx]),
            },
            "decision": metrics(y, [keep[i] for i in idx]),
            "heuristics_only_decision": metrics(y, [n_pass[i] == 4 for i in idx]),
        }
        per_score = {}
        for f in filters.values():
            for s in f.score_keys():
                rule = next(
                    (k for k in f.default_thresholds if k.endswith(s.split(".", 1)[1])), None
                )
                sign = -1.0 if rule and rule.startswith("max_") else 1.0
                per_score[s] = auc(y, [sign * scores[i].get(s, float("nan")) for i in idx])
        res["per_score_auc"] = dict(sorted(per_score.items(), key=lambda kv: -abs(kv[1] - 0.5)))
        out["subsets"][sub] = res
    # held-out check of a threshold change: chosen on the docs outside the agreement subset,
    # measured on the agreement subset (disjoint)
    agree = set(subsets["agreement"])
    rest = [i for i in subsets["majority"] if i not in agree]
    out["subsets_rest_n"] = len(rest)
    out["sweep"] = sweep(pipeline, scores, labels, {**subsets, "rest": rest}, out)
    return out


def sweep(pipeline, scores, labels, subsets, out) -> list[dict]:
    """Balanced accuracy of the combined decision when one heuristic threshold changes."""
    import numpy as np

    base = {
        s: metrics([labels[i] for i in idx], [pipeline.decide(scores[i]) is None for i in idx])[
            "balanced_accuracy"
        ]
        for s, idx in subsets.items()
    }
    found = []
    for f in pipeline.filters:
        if f.name not in _heuristics():
            continue
        for key, default in f.default_thresholds.items():
            if isinstance(default, bool) or default is None:
                continue
            score = f.key(key.split("_", 1)[1])
            vals = [s.get(score) for s in scores if s.get(score) is not None]
            if not vals or score not in scores[0]:
                continue
            cands = sorted({float(v) for v in np.quantile(vals, np.linspace(0.02, 0.98, 25))})
            for v in [*cands, None]:
                p = pipeline.with_thresholds({f.name: {key: v}})
                keep = [p.decide(s) is None for s in scores]
                ba = {
                    sub: metrics([labels[i] for i in idx], [keep[i] for i in idx])[
                        "balanced_accuracy"
                    ]
                    for sub, idx in subsets.items()
                }
                gain = {sub: ba[sub] - base[sub] for sub in subsets}
                found.append(
                    {
                        "filter": f.name,
                        "key": key,
                        "default": default,
                        "value": v,
                        "ba": ba,
                        "gain": gain,
                        "kept": sum(keep),
                    }  # fmt: skip
                )
    # per key: the value that is best on the docs outside the agreement subset ("rest")
    found.sort(key=lambda r: -r["gain"]["rest"])
    best_per_key: dict = {}
    for r in found:
        best_per_key.setdefault((r["filter"], r["key"]), r)
    return sorted(best_per_key.values(), key=lambda r: -r["gain"]["rest"])[:8]


def _f(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _v(x: float | None) -> str:
    return "null (off)" if x is None else f"{x:.4g}"


def markdown(r: dict) -> str:
    maj, agr = r["subsets"]["majority"], r["subsets"]["agreement"]
    lines = [
        "`python -m bench.eval_quality_labels` (bench/eval_quality_labels.py). Data: DCLM's human",
        "quality annotations of Common Crawl documents (`../shared/data/dclm-quality-annotations`,",
        f"MIT): majority vote on {maj['n']} docs ({maj['positives']} high quality), and the "
        f"{agr['n']}-doc subset where annotators agreed ({agr['positives']} high). Each document is",
        "normalized as in curate and scored by the default web pipeline (lid, Gopher repetition,",
        "Gopher quality, C4, FineWeb, toxicity, PII) with the published thresholds; label 1 = high",
        f"quality = positive. Scoring the {r['docs']} docs took {r['seconds']} s on this machine.",
        "",
        "A filter's soft score is the fraction of its rules (each alone at its published threshold)",
        "a document passes; `heuristics_passed` counts the four heuristic filters a document passes.",
        "",
        "| ROC-AUC | majority (499) | agreement (281) |",
        "|---|---|---|",
    ]
    for k in maj["auc"]:
        lines.append(f"| {k} | {_f(maj['auc'][k])} | {_f(agr['auc'][k])} |")
    lines += [
        "",
        "Default keep decision (positive = kept):",
        "",
        "| set | kept | precision | recall | F1 | balanced acc. | drop precision | drop recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, sub in (("majority", maj), ("agreement", agr)):
        for label, m in (("all filters", sub["decision"]), ("4 heuristics", sub["heuristics_only_decision"])):  # fmt: skip
            lines.append(
                f"| {name}, {label} | {m['kept']}/{m['n']} | {_f(m['precision'])} | "
                f"{_f(m['recall'])} | {_f(m['f1'])} | {_f(m['balanced_accuracy'])} | "
                f"{_f(m['drop_precision'])} | {_f(m['drop_recall'])} |"
            )
    lines += [
        "",
        f"First drop reasons (majority set): {json.dumps(r['drops'], sort_keys=True)}",
        "",
    ]
    lines += ["Most informative single scores (ROC-AUC, majority / agreement):", ""]
    for k in list(maj["per_score_auc"])[:6]:
        lines.append(f"- `{k}`: {_f(maj['per_score_auc'][k])} / {_f(agr['per_score_auc'][k])}")
    lines += [
        "",
        "One threshold at a time: for each numeric threshold of the four heuristic filters, the",
        f"value (of 25 score quantiles, or off) with the best balanced accuracy of the combined "
        f"decision on the {r['subsets_rest_n']} docs OUTSIDE the agreement subset, then measured "
        "on the disjoint agreement subset (held out) and on all 499 (in-sample):",
        "",
        "| filter.key | default | chosen | tuning docs | agreement (held out) | majority | kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in r["sweep"][:6]:
        v = _v(s["value"])
        lines.append(
            f"| {s['filter']}.{s['key']} | {s['default']} | {v} | "
            f"{_f(s['ba']['rest'])} ({s['gain']['rest']:+.3f}) | "
            f"{_f(s['ba']['agreement'])} ({s['gain']['agreement']:+.3f}) | "
            f"{_f(s['ba']['majority'])} ({s['gain']['majority']:+.3f}) | {s['kept']}/{r['docs']} |"
        )
    props = [s for s in r["sweep"] if min(s["gain"].values()) >= 0.02]
    lines.append("")
    if props:
        lines.append(
            "Proposal (not applied; 499 labelled documents are few, confirm on more data): "
            + "; ".join(
                f"`{s['filter']}.{s['key']}: {_v(s['value'])}`"
                f" (balanced acc. {s['gain']['majority']:+.3f} majority, "
                f"{s['gain']['agreement']:+.3f} agreement)"
                for s in props[:3]
            )
            + ". The stop-word and word-count changes mostly drop short pages that annotators"
            " judged low quality; check the volume they remove (kept column) before adopting."
        )
    else:
        lines.append(
            "No single threshold change gains >= 0.02 balanced accuracy on tuning and held-out docs."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "eval_quality_labels.json")
    a = p.parse_args(argv)
    r = evaluate(a.data)
    md = markdown(r)
    print(md)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(r, indent=2, default=str))
    if not a.no_write:
        from bench._measure import replace_section

        replace_section(SECTION, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
