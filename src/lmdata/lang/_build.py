"""Build ``lmdata/lang/data/fineweb2_recipes.json`` (maintainers only; not imported at run time).

Inputs (both Apache-2.0):
- FineWeb-2's per-language configurations (huggingface/fineweb-2 ``configs/<code3>_<Script>.yml``,
  copied in ``../shared/data/fineweb2-language-configs``): thresholds + Wikipedia stop words;
- datatrove's ``assets/tokenizer_assignment.csv`` (huggingface/datatrove): which ISO 639-3 code and
  script a two-letter code stands for (``default_code_1`` / ``default_script`` columns), used to map
  fastText lid.176's labels to FineWeb-2's keys.

Only the configurations that a lid.176 label maps to are shipped (lid.176 is the language-ID model
the pipeline runs; 1,929 configs would be 7.7 MB of YAML for labels it can never output). Labels
without a FineWeb-2 configuration get the script fallback (medians of every FineWeb-2 config of that
script, no stop words), computed here from all 1,929 configurations.

    python -m lmdata.lang._build --configs ../shared/data/fineweb2-language-configs/configs \
        --assignment /path/to/datatrove/src/datatrove/assets/tokenizer_assignment.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

import yaml

from lmdata.filters.langid import CLD3_EXTRA_LABELS, LID176_LABELS

OUT = Path(__file__).parent / "data" / "fineweb2_recipes.json"

# lid.176 labels whose default mapping through the assignment table is not the FineWeb-2 config
# we want (macrolanguages -> the individual language FineWeb-2 has data for).
MANUAL = {
    "zh": "cmn_Hani",  # Chinese -> Mandarin (FineWeb-2 has no zho_Hani)
    "ar": "arb_Arab",
    "fa": "fas_Arab",
    "ms": "zsm_Latn",
    "no": "nob_Latn",
    "sh": "hrv_Latn",  # Serbo-Croatian (Wikipedia label; Latin script)
    "als": "gsw_Latn",  # lid.176 "als" is Alemannic (Wikipedia code), not Tosk Albanian
    "et": "ekk_Latn",
    "lv": "lvs_Latn",
    "sw": "swh_Latn",
    "uz": "uzn_Latn",
    "ne": "npi_Deva",
    "sq": "als_Latn",
    "az": "azj_Latn",
    "mn": "khk_Cyrl",
    "ku": "kmr_Latn",
    "ps": "pbt_Arab",
    "qu": "quy_Latn",
    "gn": "gug_Latn",
    "bh": "bho_Deva",
    "mg": "plt_Latn",
    "or": "ory_Orya",
    "yi": "ydd_Hebr",
    "el": "ell_Grek",
    "tl": "fil_Latn",  # Tagalog: FineWeb-2 keeps it as Filipino
    "en": None,  # FineWeb-2 is non-English: English uses FineWeb's own published recipe
}
NUMERIC = (
    "language_score",
    "dup_line_frac",
    "line_punct_thr",
    "new_line_ratio",
    "min_avg_word_length",
    "max_avg_word_length",
    "max_non_alpha_words_ratio",
)


def _load_configs(folder: Path) -> dict[str, dict]:
    return {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.yml"))
    }


def _candidates(label: str, rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        if label in (r["code_1"], r["code_3"]) and r["default_script"] == "TRUE":
            key = f"{r['code_3']}_{r['script']}"
            if r["code_1"] == label and r["default_code_1"] == "TRUE":
                out.insert(0, key)
            else:
                out.append(key)
    return out


def _recipe(cfg: dict) -> dict:
    return {
        **{k: cfg[k] for k in NUMERIC},
        "dup_n_grams": {str(n): v for n, v in cfg["dup_n_grams"]},
        "top_n_grams": {str(n): v for n, v in cfg["top_n_grams"]},
        "stopwords": list(cfg["stopwords"]),
    }


def _median_recipe(cfgs: list[dict]) -> dict:
    med = {k: round(statistics.median(c[k] for c in cfgs), 3) for k in NUMERIC}
    for k in ("dup_n_grams", "top_n_grams"):
        ns = sorted({n for c in cfgs for n, _ in c[k]})
        med[k] = {
            str(n): round(statistics.median(dict(c[k]).get(n, 0) for c in cfgs), 3) for n in ns
        }
    med["stopwords"] = []
    return med


def build(configs: Path, assignment: Path) -> dict:
    cfgs = _load_configs(configs)
    with assignment.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    lid: dict[str, str | None] = {}
    scripts: dict[str, str] = {}
    for label in (*LID176_LABELS, *CLD3_EXTRA_LABELS):  # lid_cascade_v1's and v2's labels
        if label in MANUAL:
            key = MANUAL[label]
        else:
            key = next((c for c in _candidates(label, rows) if c in cfgs), None)
        if key is not None and key not in cfgs:
            raise SystemExit(f"{label}: {key} has no FineWeb-2 configuration")
        lid[label] = key
        cands = _candidates(label, rows)
        scripts[label] = key.split("_")[1] if key else (cands[0].split("_")[1] if cands else "Latn")
    used = sorted({k for k in lid.values() if k})
    by_script: dict[str, list[dict]] = {}
    for key, cfg in cfgs.items():
        by_script.setdefault(key.split("_", 1)[1], []).append(cfg)
    return {
        "_source": {
            "fineweb2_configs": "huggingface/fineweb-2@d0defb24f193bb9a5a11b8b14524a03c4858e1b6 configs/",
            "tokenizer_assignment": "huggingface/datatrove src/datatrove/assets/tokenizer_assignment.csv",
            "license": "Apache-2.0 (LICENSE-fineweb2 beside this file)",
            "configs_total": len(cfgs),
        },
        "lid176": lid,
        "lid176_script": scripts,
        "recipes": {k: _recipe(cfgs[k]) for k in used},
        "script_fallback": {
            **{s: _median_recipe(c) for s, c in sorted(by_script.items()) if len(c) >= 3},
            "Zyyy": _median_recipe(list(cfgs.values())),  # any other script
        },
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=Path, required=True)
    ap.add_argument("--assignment", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    data = build(a.configs, a.assignment)
    a.out.write_text(
        json.dumps(data, ensure_ascii=False, sort_keys=True, indent=0) + "\n", encoding="utf-8"
    )
    missing = sorted(k for k, v in data["lid176"].items() if v is None)
    print(f"{len(data['recipes'])} recipes; lid.176 labels without one: {' '.join(missing)}")


if __name__ == "__main__":
    main()
