"""Multilingual curation: clean documents kept, spam dropped, per language (issue 17, item 7).

    python -m bench.eval_multilingual [--clean 30] [--spam 10] [--langs de,zh,...] [--no-write]
                                      [--no-dclm] [--work DIR] [--master local[2]]
    python -m bench.eval_multilingual --compare OLD.json    # + a "before" column (an earlier run)
    python -m bench.eval_multilingual --from-json NEW.json [--compare OLD.json]  # re-render only

To measure code other than the checkout's (e.g. the commit before a change), run it with
``PYTHONPATH=<that tree>/src`` and ``--params <that tree>/params.yaml`` (the lmdata CLI and its
Spark workers import lmdata from PYTHONPATH first).

1. Builds bench/multilingual_corpus.py's evaluation set (seed 0): for every language of
   ``../shared/data/langid-lingua-testdata/sentences`` (75), ``--clean`` clean documents (3-8
   paragraphs of 2-6 consecutive real web sentences) and ``--spam`` documents of each spam kind
   (one line repeated, a bare word list, menu-like short lines) made of the same language's
   text, as WET files laid out like the Common Crawl bucket; gold language and kind are in each
   URL (``http://eval.lmdata/<lang>/<kind>/<n>``).
2. Runs what a user runs, on a fresh lake in a temporary directory: ``.venv/bin/lmdata
   ingest-cc`` then ``.venv/bin/lmdata curate --source web``, with the repository's
   params.yaml (the default recipe, whatever it is today) and local Spark.
3. Reads ``silver/web_attributes`` with ``lmdata.lake.delta.read_arrow`` and reports per
   language: clean kept rate, spam dropped rate (all spam and per kind), the top drop reasons
   of clean documents, the lid label clean documents got, the ``recipe`` attribute when the
   table has one, and FineWeb-2's own removal rate for that language (documents removed /
   (kept + removed), train split, ``fineweb2-language-distribution.csv``).

Goal per language (issue 17): clean kept >= 0.85 and spam dropped >= 0.90. The goal covers
the languages the language-ID filter can name (lid_cascade_v2: lid.176's labels and CLD3's extra
ones, e.g. mi sn st xh zu); Lingua languages neither model has (lg tn ts) are reported apart. English must not get worse: unless ``--no-dclm``, it also runs
``bench/eval_quality_labels.py --no-write`` (DCLM human labels) and reports its ROC-AUC.

Writes the section "Multilingual curation (make eval)" of BENCHMARKS.md (only that section)
and ``bench/out/eval-multilingual.json``. Not a test: it reads ../shared/data.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench import _measure as M
from bench import multilingual_corpus as mc
from bench.eval_langid_toxicity import NOT_IN_LID176
from lmdata.filters.langid import CASCADE_LANGUAGES

SECTION = "Multilingual curation (make eval)"
FW2 = mc.DEFAULT_DATA / "fineweb2-language-configs"
GOAL_CLEAN, GOAL_SPAM = 0.85, 0.90
#: NOT_IN_LID176 (imported above): Lingua languages lid.176 has no label for (the datatrove
#: comparison leaves them out: its FineWeb-2 route is by lid.176's label)
#: ... and those no label of the default language-ID filter (lid_cascade_v2) stands for
NOT_A_LABEL = tuple(lg for lg in NOT_IN_LID176 if lg not in CASCADE_LANGUAGES)
LID_LABEL = {"nb": "no"}  # Lingua code -> lid.176 label, where they differ
# Lingua's ISO 639-1 code -> FineWeb-2's ISO 639-3 + script key (configs/<key>.yml); English has
# none (FineWeb-2 is the non-English companion of FineWeb).
FW2_KEY = dict(
    af="afr_Latn", ar="arb_Arab", az="azj_Latn", be="bel_Cyrl", bg="bul_Cyrl", bn="ben_Beng",
    bs="bos_Latn", ca="cat_Latn", cs="ces_Latn", cy="cym_Latn", da="dan_Latn", de="deu_Latn",
    el="ell_Grek", eo="epo_Latn", es="spa_Latn", et="ekk_Latn", eu="eus_Latn", fa="fas_Arab",
    fi="fin_Latn", fr="fra_Latn", ga="gle_Latn", gu="guj_Gujr", he="heb_Hebr", hi="hin_Deva",
    hr="hrv_Latn", hu="hun_Latn", hy="hye_Armn", id="ind_Latn", it="ita_Latn", ja="jpn_Jpan",
    ka="kat_Geor", kk="kaz_Cyrl", ko="kor_Hang", la="lat_Latn", lg="lug_Latn", lt="lit_Latn",
    lv="lvs_Latn", mi="mri_Latn", mk="mkd_Cyrl", mn="khk_Cyrl", mr="mar_Deva", ms="zsm_Latn",
    nb="nob_Latn", nl="nld_Latn", nn="nno_Latn", pa="pan_Guru", pl="pol_Latn", pt="por_Latn",
    ro="ron_Latn", ru="rus_Cyrl", sk="slk_Latn", sl="slv_Latn", sn="sna_Latn", so="som_Latn",
    sq="als_Latn", sr="srp_Cyrl", st="sot_Latn", sv="swe_Latn", sw="swh_Latn", ta="tam_Taml",
    te="tel_Telu", th="tha_Thai", tl="fil_Latn", tn="tsn_Latn", tr="tur_Latn", ts="tso_Latn",
    uk="ukr_Cyrl", ur="urd_Arab", vi="vie_Latn", xh="xho_Latn", yo="yor_Latn", zh="cmn_Hani",
    zu="zul_Latn", **{"is": "isl_Latn"},
)  # fmt: skip


# --------------------------------------------------------------------------- FineWeb-2


def fw2_removal_rates(path: Path = FW2 / "fineweb2-language-distribution.csv") -> dict[str, dict]:
    """FineWeb-2 key -> {kept, removed, removed_rate} (documents, train split)."""
    kept: dict[str, int] = {}
    removed: dict[str, int] = {}
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["split"] != "train" or not row["documents"].isdigit():
                continue
            subset = row["subset"]
            if subset.endswith("_removed"):
                removed[subset[: -len("_removed")]] = int(row["documents"])
            else:
                kept[subset] = int(row["documents"])
    return {
        k: {"kept": kept[k], "removed": removed[k],
            "removed_rate": removed[k] / (kept[k] + removed[k])}
        for k in kept if k in removed and kept[k] + removed[k] > 0
    }  # fmt: skip


# --------------------------------------------------------------------------- running lmdata


def _lmdata(args: list[str], run_dir: Path, nice: int) -> dict:
    cmd = [str(M.VENV_BIN / "lmdata"), *args]
    if nice - os.nice(0) > 0:  # absolute niceness: not pushed further when started under nice
        cmd = ["nice", "-n", str(nice - os.nice(0)), *cmd]
    r = M.run_tree(cmd, run_dir, M.REPO, M.lmdata_env())
    stats = M.lmdata_stats(r, f"lmdata {args[0]}")
    print(f"  lmdata {args[0]}: {r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} CPU s, rows "
          f"{stats.get('rows_in')} -> {stats.get('rows_out')}", flush=True)  # fmt: skip
    return {"wall_s": r["wall_s"], "cpu_s": r["cpu_s"], "rows_in": stats.get("rows_in"),
            "rows_out": stats.get("rows_out")}  # fmt: skip


def run_pipeline(work: Path, corpus: Path, params: Path, master: str | None, nice: int) -> dict:
    lake = work / "lake"
    common = ["--lake", str(lake), "--params", str(params)]
    if master:
        common += ["--set", f"spark.master={master}"]
    runs = {
        "ingest-cc": _lmdata(["ingest-cc", *common, "--source", str(corpus), "--crawl", mc.CRAWL,
                              "--format", "wet", "--run-id", "eval-multilingual"],
                             work / "run" / "ingest-cc", nice),
        "curate": _lmdata(["curate", *common, "--source", "web", "--run-id", "eval-multilingual"],
                          work / "run" / "curate", nice),
    }  # fmt: skip
    return {"lake": lake, "runs": runs}


def read_attributes(lake: Path) -> list[dict]:
    from lmdata.lake import delta

    uri = delta.table_uri(str(lake), "silver/web_attributes")
    names = delta.schema_of(uri).names
    cols = ["url", "drop_reason"]
    lang_col = next((c for c in names if c.endswith("__lang")), None)
    if lang_col:
        cols.append(lang_col)
    if "recipe" in names:
        cols.append("recipe")
    t = delta.read_arrow(uri, columns=cols).to_pylist()
    for r in t:
        r["lid"] = r.pop(lang_col) if lang_col else None
        r.setdefault("recipe", None)
    return t


# --------------------------------------------------------------------------- scoring


def summarize(rows: list[dict], langs: list[str], fw2: dict[str, dict]) -> dict:
    by: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    unknown = 0
    for r in rows:
        p = mc.parse_url(r["url"])
        if p is None:
            unknown += 1
            continue
        by[p[0]][p[1]].append(r)
    out = {}
    for lang in langs:
        kinds = by.get(lang, {})
        clean = kinds.get("clean", [])
        spam = [r for k in mc.SPAM_KINDS for r in kinds.get(k, [])]
        kept = sum(r["drop_reason"] is None for r in clean)
        dropped = sum(r["drop_reason"] is not None for r in spam)
        reasons = Counter(r["drop_reason"] for r in clean if r["drop_reason"] is not None)
        gold = LID_LABEL.get(lang, lang)
        recipes = Counter(r["recipe"] for r in clean + spam if r.get("recipe"))
        key = FW2_KEY.get(lang)
        res = {
            "clean_n": len(clean),
            "clean_kept": kept / len(clean) if clean else None,
            "spam_n": len(spam),
            "spam_dropped": dropped / len(spam) if spam else None,
            "spam_dropped_by_kind": {
                k: (sum(r["drop_reason"] is not None for r in kinds.get(k, []))
                    / len(kinds[k])) if kinds.get(k) else None
                for k in mc.SPAM_KINDS
            },
            "clean_drop_reasons": dict(reasons.most_common()),
            "clean_lid_gold": (sum(r["lid"] == gold for r in clean) / len(clean))
            if clean and clean[0].get("lid") is not None else None,
            "clean_lid_labels": dict(Counter(r["lid"] for r in clean).most_common(3)),
            "recipes": dict(recipes.most_common()),
            "fw2_key": key,
            "fw2_removed_rate": fw2.get(key, {}).get("removed_rate") if key else None,
            "in_goal": lang not in NOT_A_LABEL,
        }  # fmt: skip
        res["goal_met"] = (
            res["clean_kept"] is not None and res["spam_dropped"] is not None
            and res["clean_kept"] >= GOAL_CLEAN and res["spam_dropped"] >= GOAL_SPAM
        )  # fmt: skip
        out[lang] = res
    return {"languages": out, "rows_without_gold": unknown}


def run_dclm(nice: int) -> dict | None:
    """bench/eval_quality_labels.py (English, DCLM human labels): its headline numbers."""
    js = M.OUT / "eval_quality_labels.json"
    cmd = [sys.executable, "-m", "bench.eval_quality_labels", "--no-write", "--json", str(js)]
    if nice - os.nice(0) > 0:
        cmd = ["nice", "-n", str(nice - os.nice(0)), *cmd]
    t0 = time.time()
    r = subprocess.run(cmd, cwd=M.REPO, capture_output=True, text=True, env=M.lmdata_env())
    if r.returncode != 0:
        print(f"eval_quality_labels FAILED (exit {r.returncode}):\n{r.stderr[-3000:]}",
              file=sys.stderr)  # fmt: skip
        return {"error": f"exit {r.returncode}: {r.stderr.strip().splitlines()[-1:]}"}
    return {"seconds": round(time.time() - t0, 1), **dclm_headline(js)}


def dclm_headline(js: Path) -> dict:
    """The headline numbers of an eval_quality_labels.py results JSON."""
    res = json.loads(js.read_text())
    maj, agr = res["subsets"]["majority"], res["subsets"]["agreement"]
    return {
        "json": str(js),
        "heuristics": [k for k in maj["auc"] if not k.startswith(("heuristics_", "combined"))],
        "auc_heuristics_passed": maj["auc"].get("heuristics_passed (0-4)"),
        "auc_combined_keep": maj["auc"].get("combined keep decision"),
        "auc_combined_keep_agreement": agr["auc"].get("combined keep decision"),
        "balanced_accuracy": maj["decision"]["balanced_accuracy"],
        "kept": f"{maj['decision']['kept']}/{maj['decision']['n']}",
    }


# --------------------------------------------------------------------------- report


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def markdown(res: dict) -> str:
    langs = res["summary"]["languages"]
    goal = [lg for lg, r in langs.items() if r["in_goal"]]
    met = [lg for lg in goal if langs[lg]["goal_met"]]
    any_recipe = any(r["recipes"] for r in langs.values())

    def mean(xs):
        xs = [x for x in xs if x is not None]
        return sum(xs) / len(xs) if xs else None

    runs = res["runs"]
    lines = [
        f"`python -m bench.eval_multilingual` ({res['stamp']}; git {res['git']}; "
        f"{res['machine']['cores']} cores). What a user runs: `lmdata ingest-cc` + `lmdata curate "
        "--source web` (CLI, local Spark, the repository's params.yaml) on WET files built by "
        "`bench/multilingual_corpus.py` (seed 0) from the Leipzig web sentences of "
        "`../shared/data/langid-lingua-testdata` (Apache-2.0): per language "
        f"{res['clean']} clean documents (3-8 paragraphs of 2-6 consecutive sentences, blank-line "
        f"separated; a quarter single-newline) and {res['spam']} of each spam kind made of the "
        "same language's text (`repeated_line`: one sentence 10-40 times; `word_list`: 50-300 "
        "bare words; `menu`: 20-60 lines of 1-3 words). Results from `silver/web_attributes` "
        "(`drop_reason`), joined back on the URL.",
        "",
        f"- **Goal met (clean kept >= {GOAL_CLEAN}, spam dropped >= {GOAL_SPAM}) in "
        f"{len(met)} of {len(goal)} languages** the language-ID filter can name"
        + (f": {', '.join(met)}." if met else "."),
        f"- Macro over those {len(goal)}: clean kept **{_p(mean(langs[x]['clean_kept'] for x in goal))}**, "
        f"spam dropped **{_p(mean(langs[x]['spam_dropped'] for x in goal))}** (repeated line "
        f"{_p(mean(langs[x]['spam_dropped_by_kind']['repeated_line'] for x in goal))}, word list "
        f"{_p(mean(langs[x]['spam_dropped_by_kind']['word_list'] for x in goal))}, menu "
        f"{_p(mean(langs[x]['spam_dropped_by_kind']['menu'] for x in goal))}).",
        f"- Recipe attribute: {'present (column `recipe`)' if any_recipe else 'absent (no `recipe` column in silver/web_attributes yet)'}.",
        f"- Run: {res['docs']:,} documents; ingest-cc {runs['ingest-cc']['wall_s']:.0f} s / "
        f"{runs['ingest-cc']['cpu_s']:.0f} CPU s, curate {runs['curate']['wall_s']:.0f} s / "
        f"{runs['curate']['cpu_s']:.0f} CPU s (wall on a machine shared with other work).",
    ]  # fmt: skip
    bf = res.get("before")
    if bf:
        bl = bf["summary"]["languages"]
        bgoal = [x for x in goal if x in bl]
        bmet = [x for x in bgoal if bl[x]["goal_met"]]
        lines.append(
            f'- Before (git {bf["git"]}, {bf["stamp"]}, its params.yaml; column "before"): goal '
            f"met in {len(bmet)} of {len(bgoal)} ({', '.join(bmet) or 'none'}); macro clean kept "
            f"{_p(mean(bl[x]['clean_kept'] for x in bgoal))}, spam dropped "
            f"{_p(mean(bl[x]['spam_dropped'] for x in bgoal))}."
        )
    d = res.get("dclm")
    if d and "error" not in d:
        lines.append(
            f"- English must not get worse: DCLM human labels (`bench/eval_quality_labels.py`, "
            f"499 docs, majority vote; {', '.join(d.get('heuristics', []))}) ROC-AUC of "
            f"`heuristics_passed` **{d['auc_heuristics_passed']:.3f}**, "
            f"of the combined keep decision **{d['auc_combined_keep']:.3f}** "
            f"(agreement subset {d['auc_combined_keep_agreement']:.3f}), balanced accuracy "
            f"{d['balanced_accuracy']:.3f}, kept {d['kept']}"
            + (f"; before: {bd['auc_heuristics_passed']:.3f} / {bd['auc_combined_keep']:.3f} "
               f"(agreement {bd['auc_combined_keep_agreement']:.3f}), balanced accuracy "
               f"{bd['balanced_accuracy']:.3f}, kept {bd['kept']}" if (bd := (bf or {}).get("dclm"))
               and "error" not in bd else "")
            + "."
        )  # fmt: skip
    elif d:
        lines.append(
            f"- DCLM human-label eval (`bench/eval_quality_labels.py`) FAILED: {d['error']}"
        )
    lines += [
        "",
        "FineWeb-2 column: the share of documents FineWeb-2's own filtering removed for that "
        "language (`fineweb2-language-distribution.csv`, train split, `<key>_removed` / (kept + "
        "removed)); a real-crawl rate, not a rate on this set, shown for scale.",
        "",
        "| lang | FineWeb-2 key | clean kept | spam dropped | repeated line | word list | menu | "
        "clean lid = gold | top drop reasons of clean docs | recipe | FineWeb-2 removed | goal |"
        + (" clean kept / spam dropped before |" if bf else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if bf else ""),
    ]
    order = sorted(langs, key=lambda x: (not langs[x]["in_goal"], x))
    for lg in order:
        r = langs[lg]
        k = r["spam_dropped_by_kind"]
        reasons = ", ".join(f"{a} {b}" for a, b in list(r["clean_drop_reasons"].items())[:3])
        recipe = ", ".join(list(r["recipes"])[:2]) or "-"
        mark = ("yes" if r["goal_met"] else "**no**") if r["in_goal"] else "(no model has it)"
        lines.append(
            f"| {lg} | {r['fw2_key'] or '-'} | {_p(r['clean_kept'])} | {_p(r['spam_dropped'])} | "
            f"{_p(k['repeated_line'])} | {_p(k['word_list'])} | {_p(k['menu'])} | "
            f"{_p(r['clean_lid_gold'])} | {reasons or '-'} | {recipe} | "
            f"{_p(r['fw2_removed_rate'])} | {mark} |"
            + (f" {_p(bl.get(lg, {}).get('clean_kept'))} / "
               f"{_p(bl.get(lg, {}).get('spam_dropped'))} |" if bf else "")
        )  # fmt: skip
    lines += [
        "",
        f"Languages neither lid.176 nor CLD3 has ({' '.join(NOT_A_LABEL)}) get another "
        "language's label, so the language-ID step decides them; they are outside the goal. "
        "Raw results: `bench/out/eval-multilingual.json`.",
    ]
    return "\n".join(lines)


def _git() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=M.REPO,
                              capture_output=True, text=True).stdout.strip() or "?"  # fmt: skip
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.eval_multilingual",
                                description=__doc__.split("\n")[0])  # fmt: skip
    p.add_argument("--data", type=Path, default=mc.DEFAULT_DATA, help="../shared/data")
    p.add_argument("--langs", default="", help="comma list (default: every sentence file)")
    p.add_argument("--clean", type=int, default=30, help="clean documents per language")
    p.add_argument("--spam", type=int, default=10, help="documents per spam kind per language")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--params", type=Path, default=M.REPO / "params.yaml")
    p.add_argument("--master", default=None, help="spark.master (default: params.yaml's)")
    p.add_argument("--work", type=Path, help="keep the corpus and lake here (default: a temp dir)")
    p.add_argument("--nice", type=int, default=10, help="run lmdata under nice -n N (0: off)")
    p.add_argument("--no-dclm", action="store_true", help="skip bench/eval_quality_labels.py")
    p.add_argument(
        "--dclm-json",
        type=Path,
        help="take the DCLM numbers from this eval_quality_labels.py JSON (no run)",
    )
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    p.add_argument("--json", type=Path, default=M.OUT / "eval-multilingual.json")
    p.add_argument(
        "--compare",
        type=Path,
        help="results JSON of an earlier run (e.g. before a change): a 'before' column",
    )
    p.add_argument("--from-json", type=Path, help="re-render from a results JSON (no run)")
    a = p.parse_args(argv)
    before = json.loads(a.compare.read_text()) if a.compare else None
    if before:
        before.pop("before", None)
    if a.from_json:
        res = json.loads(a.from_json.read_text())
        if before:
            res["before"] = before
        if a.dclm_json:
            res["dclm"] = dclm_headline(a.dclm_json)
        md = markdown(res)
        print(md)
        if not a.no_write:
            M.replace_section(SECTION, md, before="Quality heuristics vs human labels")
        return 0
    sent_dir = a.data / mc.SENTENCES
    langs = [x for x in a.langs.split(",") if x] or mc.available_languages(sent_dir)
    tmp = None
    if a.work:
        work = a.work
        work.mkdir(parents=True, exist_ok=True)
    else:
        M.OUT.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.TemporaryDirectory(prefix="eval-multilingual-", dir=M.OUT)
        work = Path(tmp.name)
    try:
        corpus = work / "corpus"
        meta = mc.build_eval(corpus, sent_dir, langs, a.clean, a.spam, a.seed)
        print(f"corpus: {meta['conversion_records']:,} documents, {len(langs)} languages, "
              f"{meta['compressed_bytes'] / M.MIB:.1f} MiB WET -> {corpus}", flush=True)  # fmt: skip
        pr = run_pipeline(work, corpus, a.params, a.master, a.nice)
        rows = read_attributes(pr["lake"])
    finally:
        if tmp is not None:
            tmp.cleanup()
    if len(rows) != meta["conversion_records"]:
        print(f"WARNING: {len(rows)} attribute rows for {meta['conversion_records']} documents",
              file=sys.stderr)  # fmt: skip
    res = {
        "stamp": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "git": _git(),
        "machine": M.machine(("pyspark", "deltalake")),
        "params": str(a.params),
        "clean": a.clean,
        "spam": a.spam,
        "seed": a.seed,
        "docs": meta["conversion_records"],
        "attribute_rows": len(rows),
        "runs": pr["runs"],
        "summary": summarize(rows, langs, fw2_removal_rates()),
    }
    if before:
        res["before"] = before
    if a.dclm_json:
        res["dclm"] = dclm_headline(a.dclm_json)
    elif not a.no_dclm:
        print("DCLM human-label eval (bench/eval_quality_labels.py) ...", flush=True)
        res["dclm"] = run_dclm(a.nice)
    md = markdown(res)
    print(md)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=1, default=str) + "\n")
    if not a.no_write:
        M.replace_section(SECTION, md, before="Quality heuristics vs human labels")
        print(f"wrote {M.BENCHMARKS_MD} section {SECTION!r}")
    ok = all(r["goal_met"] for r in res["summary"]["languages"].values() if r["in_goal"])
    print(f"goal met in every language: {ok}")
    return 0 if os.environ.get("LMDATA_EVAL_STRICT") != "1" or ok else 1


if __name__ == "__main__":
    sys.exit(main())
