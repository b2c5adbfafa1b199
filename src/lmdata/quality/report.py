"""lmdata's data-quality report: one self-contained HTML page per pipeline run + an index.

    lmdata report [--run RUN] [--lake DIR] [--params FILE] [--out DIR]

A *pipeline run* is the set of stage runs in `_meta/stage_runs` sharing one `run_id`: every
stage of an Airflow DAG run gets the DAG run id (`--run-id`, else $AIRFLOW_CTX_DAG_RUN_ID), so
`lmdata report --run <dag_run_id>` reports exactly that DAG run. Without --run: the run of the
most recent stage run. Pages: <reports>/runs/<run>.html and <reports>/index.html (all runs).

Per source: the funnel, drop reasons, languages (top 15 by documents in + "other": documents in
vs kept; for web also a table with the recipe key, kept rate and top 3 drop reasons per
language, from the attributes table; the `recipe` column may be absent in older lakes), lengths,
duplicate clusters, PII. Plots are matplotlib (Agg) PNGs embedded as base64; tables are read
with delta-rs (`lake.delta.read_arrow`) at the versions the run's stages wrote (the Delta
versions are listed on the page). Pure module: no pyspark; matplotlib, pandas and jinja2 are
imported inside functions.

Size (~750 lines, over the project's ~700): kept as one module on purpose, in page order: each
section's reader, plot and table sit together, and the page template sits beside the one function
that fills it. What moves out first when it grows: the per-language section (LanguageRow ..
language_section_table) and the matplotlib helpers, into a `report_plots` module below this one.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmdata.config import load_params, resolve_lake
from lmdata.lake import delta
from lmdata.lang import LEGACY_LANGUAGE_COLUMNS, language_column
from lmdata.quality.gate import read_stage_runs, read_validations
from lmdata.quality.suites import ATTRIBUTES_TABLE, DEDUP_TABLE, reports_dir

SOURCES = {
    "web": {
        "bronze": "bronze/web_documents",
        "gold": "gold/web_documents",
        "bytes": "byte_length",
        "language": "language",  # lmdata.lang.LANGUAGE_COLUMN (older lakes: language_column)
        "pii_prefix": "pii_presidio_v1__",
    },
    "code": {
        "bronze": "bronze/code_files",
        "gold": "gold/code_files",
        "bytes": "size_bytes",
        "language": "language",
        "pii_prefix": "secrets_v1__",
    },
}
TOXICITY = "toxicity_v1__classifier_prob"


@dataclass
class Plot:
    title: str
    png_b64: str | None  # None: nothing to plot (the note says why)
    note: str = ""


@dataclass
class RunData:
    run_id: str
    lake: str
    stage_runs: list[dict[str, Any]]
    versions: dict[str, int] = field(default_factory=dict)  # table -> version this run wrote/read

    def arrow(self, table: str, columns: Sequence[str] | None = None):
        """The table at the version this run wrote (else the latest) as Arrow, or None; columns
        the table lacks are left out."""
        uri = delta.table_uri(self.lake, table)
        if not delta.exists(uri):
            return None
        ver = self.versions.get(table)
        if columns is not None:
            have = set(delta.schema_of(uri, ver).names)
            columns = [c for c in columns if c in have]
        return delta.read_arrow(uri, ver, columns=columns)

    def read(self, table: str, columns: Sequence[str] | None = None):
        """The table at the version this run wrote (else the latest) as pandas, or None."""
        t = self.arrow(table, columns)
        return None if t is None else t.to_pandas()


# ----------------------------------------------------------------------------- run grouping


def group_runs(stage_runs: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """run_id -> its stage runs (oldest first); runs ordered by their last stage run."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(stage_runs, key=lambda r: r.get("started_at") or 0):
        runs.setdefault(r.get("run_id") or "?", []).append(dict(r))
    return dict(sorted(runs.items(), key=lambda kv: kv[1][-1].get("started_at") or 0))


def run_versions(stage_runs: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """table -> the last version a stage of the run wrote (else read)."""
    out: dict[str, int] = {}
    for r in stage_runs:
        st = r.get("stats") or {}
        for t, v in (st.get("inputs") or {}).items():
            out.setdefault(t, v)
        for t, v in (st.get("tables") or {}).items():
            if v is not None:
                out[t] = v
    return out


# ----------------------------------------------------------------------------- plotting


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _fig(w: float = 7, h: float = 3.4):
    return _plt().subplots(figsize=(w, h))


def _barh(title: str, labels: Sequence[str], values: Sequence[float], xlabel: str) -> Plot:
    fig, ax = _fig(7, max(2.2, 0.32 * len(labels) + 1))
    ax.barh(list(labels)[::-1], list(values)[::-1], color="#4c78a8")
    ax.set_xlabel(xlabel)
    for i, v in enumerate(list(values)[::-1]):
        ax.text(
            v, i, f" {v:,.0f}" if float(v).is_integer() else f" {v:.3g}", va="center", fontsize=8
        )
    return Plot(title, _png(fig))


def plot_funnel(source: str, data: RunData, filters: Sequence[str]) -> Plot:
    """Documents and bytes: bronze -> after each filter (pipeline order) -> gold."""
    s = SOURCES[source]
    title = f"{source}: funnel of documents and bytes"
    bronze = data.read(s["bronze"], ["doc_id", s["bytes"]])
    attrs = data.read(ATTRIBUTES_TABLE[source], ["doc_id", "drop_reason"])
    gold = data.read(s["gold"], ["doc_id"])
    if bronze is None or bronze.empty:
        return Plot(title, None, f"no {s['bronze']} yet")
    size = dict(zip(bronze["doc_id"], bronze[s["bytes"]].fillna(0), strict=True))
    steps = [("bronze", len(bronze), float(sum(size.values())))]
    if attrs is not None:
        dropped = attrs.dropna(subset=["drop_reason"])
        reason = dict(zip(dropped["doc_id"], dropped["drop_reason"], strict=True))
        alive = set(size)
        for f in filters:
            alive = {d for d in alive if not (reason.get(d) or "").startswith(f + ":")}
            steps.append((f, len(alive), float(sum(size[d] for d in alive))))
    if gold is not None:
        ids = [d for d in gold["doc_id"] if d in size]
        steps.append(("gold (dedup)", len(gold), float(sum(size[d] for d in ids))))
    fig, (a1, a2) = _plt().subplots(1, 2, figsize=(10, 0.38 * len(steps) + 1.6), sharey=True)
    names = [n for n, _, _ in steps][::-1]
    a1.barh(names, [d for _, d, _ in steps][::-1], color="#4c78a8")
    a1.set_xlabel("documents")
    a2.barh(names, [b / 1e6 for _, _, b in steps][::-1], color="#f58518")
    a2.set_xlabel("MB (bronze bytes of the surviving documents)")
    for i, (_, d, b) in enumerate(steps[::-1]):
        a1.text(d, i, f" {d:,}", va="center", fontsize=8)
        a2.text(b / 1e6, i, f" {b / 1e6:.3g}", va="center", fontsize=8)
    return Plot(title, _png(fig))


def plot_drop_reasons(source: str, data: RunData) -> Plot:
    title = f"{source}: drop reasons (first failing filter)"
    attrs = data.read(ATTRIBUTES_TABLE[source], ["drop_reason"])
    if attrs is None or attrs["drop_reason"].isna().all():
        return Plot(title, None, "nothing dropped" if attrs is not None else "not curated yet")
    vc = attrs["drop_reason"].dropna().value_counts()
    return _barh(title, list(vc.index), list(vc.values), "documents")


# ----------------------------------------------------------------------------- languages

RECIPE = "recipe"  # the recipe key curate records per document (absent in older lakes)
TOP_LANGUAGES = 15
TOP_REASONS = 3
UNKNOWN_LANGUAGE = "?"


@dataclass
class LanguageRow:
    """One line of the per-language table: a language label (or the "other" row)."""

    language: str
    recipes: list[str]  # recipe keys used for its documents, most documents first
    docs_in: int  # documents curate scored (rows of the attributes table)
    kept: int  # documents no filter dropped (drop_reason is null)
    reasons: list[tuple[str, int]]  # the top drop reasons, most documents first
    languages: int = 1  # labels aggregated in this row (> 1 only for "other")

    @property
    def kept_rate(self) -> float:
        return self.kept / self.docs_in if self.docs_in else 0.0

    @property
    def recipe(self) -> str:
        if self.languages > 1:
            n = len(self.recipes)
            return f"{n} recipe{'s' if n != 1 else ''}" if n else ""
        return ", ".join(self.recipes)


def language_counts(
    table, language_col: str
) -> list[tuple[str | None, str | None, str | None, int]]:
    """(language, recipe, drop_reason, documents) per distinct triple of an attributes table
    (pyarrow). A missing `recipe` / `drop_reason` column reads as null (older lakes: no recipe);
    a missing language column: no counts."""
    import pyarrow as pa

    if table is None or language_col not in table.column_names:
        return []
    cols = []
    for c in (language_col, RECIPE, "drop_reason"):
        col = table.column(c) if c in table.column_names else pa.nulls(table.num_rows, pa.string())
        cols.append(col.cast(pa.string()))
    t = pa.table(cols, names=["language", "recipe", "drop_reason"])
    g = t.group_by(["language", "recipe", "drop_reason"], use_threads=False).aggregate(
        [([], "count_all")]
    )
    return [
        (r["language"], r["recipe"], r["drop_reason"], int(r["count_all"])) for r in g.to_pylist()
    ]


def language_rows(
    counts: Sequence[tuple[str | None, str | None, str | None, int]],
    top: int = TOP_LANGUAGES,
    reasons: int = TOP_REASONS,
) -> list[LanguageRow]:
    """The `top` languages by documents in (ties: by label), then one "other" row aggregating
    the rest (only when there is a rest). An empty or null label counts as "?"."""
    from collections import Counter

    per: dict[str, tuple[list[int], Counter, Counter]] = {}
    for lang, recipe, reason, n in counts:
        tot, recs, why = per.setdefault(lang or UNKNOWN_LANGUAGE, ([0, 0], Counter(), Counter()))
        tot[0] += n
        if reason is None:
            tot[1] += n
        else:
            why[reason] += n
        if recipe:
            recs[recipe] += n

    def ordered(c: Counter) -> list[tuple[str, int]]:
        return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))

    def row(label: str, tot: list[int], recs: Counter, why: Counter, k: int = 1) -> LanguageRow:
        return LanguageRow(
            label, [r for r, _ in ordered(recs)], tot[0], tot[1], ordered(why)[:reasons], k
        )

    order = sorted(per, key=lambda k: (-per[k][0][0], k))
    out = [row(k, *per[k]) for k in order[:top]]
    rest = order[top:]
    if rest:
        tot, recs, why = [0, 0], Counter(), Counter()
        for k in rest:
            t, r, w = per[k]
            tot = [tot[0] + t[0], tot[1] + t[1]]
            recs.update(r)
            why.update(w)
        label = f"other ({len(rest)} language{'s' if len(rest) > 1 else ''})"
        out.append(row(label, tot, recs, why, len(rest)))
    return out


def language_table(source: str, data: RunData) -> tuple[list[LanguageRow], str]:
    """The per-language rows of the run's attributes table, and a note ("" when all is there)."""
    col = SOURCES[source]["language"]
    attrs = data.arrow(
        ATTRIBUTES_TABLE[source], [col, *LEGACY_LANGUAGE_COLUMNS, RECIPE, "drop_reason"]
    )
    if attrs is not None and source == "web":
        col = language_column(attrs.column_names) or col
    if attrs is None:
        return [], "not curated yet"
    if col not in attrs.column_names:
        return [], f"no {col} column: no language label"
    note = ""
    if source == "web" and RECIPE not in attrs.column_names:
        note = "no recipe column (curated before per-language recipes)"
    return language_rows(language_counts(attrs, col)), note


def plot_language_rows(title: str, rows: Sequence[LanguageRow], note: str = "") -> Plot:
    """Documents in vs kept per language (top N + other), grouped bars."""
    if not rows:
        return Plot(title, None, note or "no documents")
    import numpy as np

    labels = [r.language for r in rows]
    fig, ax = _fig(8, 3.6)
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r.docs_in for r in rows], 0.4, label="documents in", color="#4c78a8")
    ax.bar(x + 0.2, [r.kept for r in rows], 0.4, label="kept", color="#54a24b")
    ax.set_xticks(x, labels, rotation=45, ha="right")
    ax.set_ylabel("documents")
    ax.legend()
    return Plot(title, _png(fig), note)


def language_plot_title(source: str) -> str:
    return f"{source}: language distribution (scored vs kept)"


def plot_languages(source: str, data: RunData) -> Plot:
    rows, note = language_table(source, data)
    return plot_language_rows(language_plot_title(source), rows, note)


def language_section_table(rows: Sequence[LanguageRow], note: str = "") -> dict[str, Any]:
    """The per-language table as the page template renders it."""
    return {
        "title": f"documents per language (top {TOP_LANGUAGES} + other)",
        "note": note,
        "rows": [
            {
                "language": r.language,
                "recipe": r.recipe,
                "docs_in": f"{r.docs_in:,}",
                "kept": f"{r.kept:,}",
                "kept_rate": f"{r.kept_rate:.1%}",
                "reasons": [f"{why} ({n:,})" for why, n in r.reasons],
            }
            for r in rows
        ],
    }


def plot_lengths(source: str, data: RunData) -> Plot:
    s = SOURCES[source]
    title = f"{source}: document length, before (bronze) and after (gold)"
    bronze = data.read(s["bronze"], ["text"])
    gold = data.read(s["gold"], ["text"])
    if bronze is None or bronze.empty:
        return Plot(title, None, "no documents yet")
    import numpy as np

    fig, ax = _fig()
    lb = np.log10(bronze["text"].fillna("").str.len().clip(lower=1))
    bins = np.linspace(0, max(1.0, float(lb.max())) + 0.1, 30)
    ax.hist(lb, bins=bins, alpha=0.6, label=f"bronze ({len(bronze)})", color="#4c78a8")
    if gold is not None and not gold.empty:
        lg = np.log10(gold["text"].fillna("").str.len().clip(lower=1))
        ax.hist(lg, bins=bins, alpha=0.6, label=f"gold ({len(gold)})", color="#54a24b")
    ax.set_xlabel("log10(characters)")
    ax.set_ylabel("documents")
    ax.legend()
    return Plot(title, _png(fig))


def plot_clusters(source: str, data: RunData) -> Plot:
    title = f"{source}: duplicate cluster sizes"
    d = data.read(DEDUP_TABLE[source], ["cluster_id", "cluster_size", "duplicate_of"])
    if d is None or d.empty:
        return Plot(title, None, "not deduplicated yet")
    sizes = d.drop_duplicates("cluster_id")["cluster_size"]
    vc = sizes.value_counts().sort_index()
    fig, ax = _fig()
    ax.bar([str(k) for k in vc.index], vc.values, color="#e45756")
    ax.set_xlabel("cluster size (1 = unique)")
    ax.set_ylabel("clusters")
    ax.set_yscale("log")
    dup = int(d["duplicate_of"].notna().sum())
    return Plot(title, _png(fig), f"{dup} of {len(d)} documents removed as duplicates")


def plot_pii(source: str, data: RunData) -> Plot:
    prefix = SOURCES[source]["pii_prefix"]
    title = f"{source}: {'PII' if source == 'web' else 'secrets'} redacted, by type"
    uri = delta.table_uri(data.lake, ATTRIBUTES_TABLE[source])
    if not delta.exists(uri):
        return Plot(title, None, "not curated yet")
    cols = [
        c for c in delta.schema_of(uri).names if c.startswith(prefix) and not c.endswith("total")
    ]
    a = data.read(ATTRIBUTES_TABLE[source], cols)
    if a is None or not cols:
        return Plot(title, None, "no redaction filter in the pipeline")
    sums = a.sum(numeric_only=True).sort_values(ascending=False)
    sums = sums[sums > 0]
    if sums.empty:
        return Plot(title, None, f"none found in {len(a)} documents")
    return _barh(title, [c[len(prefix) :] for c in sums.index], list(sums.values), "spans redacted")


def plot_toxicity(source: str, data: RunData) -> Plot:
    title = f"{source}: toxicity score"
    a = data.read(ATTRIBUTES_TABLE[source], [TOXICITY])
    if a is None or TOXICITY not in a:
        return Plot(title, None, "no toxicity filter in the pipeline")
    fig, ax = _fig()
    ax.hist(a[TOXICITY].dropna(), bins=20, range=(0, 1), color="#b279a2")
    ax.set_xlabel("toxicity_v1 classifier probability")
    ax.set_ylabel("documents")
    return Plot(title, _png(fig))


QUALITY_MODEL = "quality_model_v1"


def plot_quality_model(source: str, data: RunData, thresholds: Mapping[str, Any] | None) -> Plot:
    """quality_model_v1's score: kept and dropped documents, the min_score line marked."""
    title = f"{source}: quality model score"
    col, drop = f"{QUALITY_MODEL}__score", "drop_reason"
    a = data.read(ATTRIBUTES_TABLE[source], [col, drop])
    if a is None or col not in a:
        return Plot(title, None, "no quality_model_v1 in the pipeline")
    a = a[a[col].notna()]
    if a.empty:
        return Plot(title, None, "no document scored")
    dropped = a[drop].fillna("").str.startswith(f"{QUALITY_MODEL}:")
    fig, ax = _fig()
    ax.hist(
        [a.loc[~dropped, col], a.loc[dropped, col]],
        bins=25,
        range=(0, 1),
        stacked=True,
        color=["#54a24b", "#e45756"],
        label=[f"not dropped by it ({int((~dropped).sum())})", f"dropped ({int(dropped.sum())})"],
    )
    t = dict(thresholds or {})
    cut = t.get("min_score", 0.5) if "min_score" in t or not t.get("keep_top_fraction") else None
    if cut is not None:
        ax.axvline(float(cut), color="black", linestyle="--", label=f"min_score {cut}")
    if t.get("keep_top_fraction"):
        ax.set_title(f"keep_top_fraction {t['keep_top_fraction']} per language", fontsize=9)
    ax.set_xlabel("quality_model_v1 score (P(high quality))")
    ax.set_ylabel("documents")
    ax.legend(fontsize=8)
    rule = f"min_score {cut}" if cut is not None else ""
    if t.get("keep_top_fraction"):
        rule = f"{rule}; " * bool(rule) + f"top {t['keep_top_fraction']:.0%} per language"
    note = f"{rule}: {int(dropped.sum())} of {len(a)} scored documents dropped by it"
    return Plot(title, _png(fig), note)


def latest_manifest(root: Path) -> Path | None:
    found = sorted(root.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def plot_mixture(manifest: Path | None) -> Plot:
    title = "tokens per source in the mixture"
    if manifest is None:
        return Plot(title, None, "no mixture yet")
    try:
        m = json.loads(manifest.read_text())
        by = dict((m.get("totals") or {}).get("tokens_by_source") or {})
    except (OSError, ValueError) as e:
        return Plot(title, None, f"unreadable manifest {manifest}: {e}")
    if not by:
        return Plot(title, None, f"{manifest}: no totals.tokens_by_source")
    p = _barh(
        f"{title} ({manifest.parent.name})", list(by), [float(v) for v in by.values()], "tokens"
    )
    p.note = str(manifest)
    return p


# ----------------------------------------------------------------------------- page


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222}
h1{font-size:1.5em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0} td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
.ok{color:#2a7a2a;font-weight:bold}.fail{color:#b00020;font-weight:bold}
figure{display:inline-block;margin:.4em;vertical-align:top;width:48%} figure img{max-width:100%} figcaption{font-size:.85em;color:#555}
.note{color:#777;font-style:italic} code{background:#f4f4f4;padding:0 .2em}
</style></head><body>
{% macro pubs(published) %}<h2>Published versions (write-audit-publish)</h2>
{% if published %}<table class="published"><tr><th>table</th><th>published</th><th>by</th><th>latest</th><th>failed versions</th><th>reason</th></tr>
{% for p in published %}<tr><td>{{ p.table }}</td><td class="{{ 'ok' if p.version is not none else 'fail' }}">{{ 'v' ~ p.version if p.version is not none else 'none' }}</td>
<td>{{ p.action }}{% if p.run_id %} ({{ p.run_id }}){% endif %}</td><td>v{{ p.latest }}</td>
<td class="{{ 'fail' if p.failed else '' }}">{% for f in p.failed %}v{{ f }} FAILED{% if not loop.last %}, {% endif %}{% endfor %}</td><td>{{ p.reason or '' }}</td></tr>{% endfor %}</table>
{% if published_log %}<h3>Manual publishes, rollbacks and rejections</h3><table><tr><th>when (UTC)</th><th>table</th><th>version</th><th>action</th><th>run</th><th>reason</th></tr>
{% for r in published_log %}<tr><td>{{ r.when }}</td><td>{{ r.table }}</td><td>v{{ r.version }}</td><td class="{{ 'fail' if r.action == 'reject' else '' }}">{{ r.action }}</td><td>{{ r.run_id }}</td><td>{{ r.reason or '' }}</td></tr>{% endfor %}</table>{% endif %}
{% else %}<p class="note">no gate has published or rejected a version yet</p>{% endif %}{% endmacro %}
{% if runs is defined %}
<h1>lmdata data-quality reports</h1>
<p>Data Docs (Great Expectations): <a href="{{ docs_link }}">{{ docs_link }}</a></p>
<table><tr><th>run</th><th>stages</th><th>last stage run (UTC)</th><th>gates</th></tr>
{% for r in runs %}<tr><td><a href="runs/{{ r.file }}">{{ r.run_id }}</a></td><td>{{ r.stages }}</td>
<td>{{ r.when }}</td><td>{{ r.gates }}</td></tr>{% endfor %}</table>
{{ pubs(published) }}
{% else %}
<h1>{{ title }}</h1>
<p>Lake <code>{{ lake }}</code> · built {{ built }} · <a href="../index.html">all runs</a>
 · <a href="{{ docs_link }}">Data Docs</a></p>
<h2>Stage runs</h2>
<table><tr><th>stage</th><th>status</th><th>rows in</th><th>rows out</th><th>seconds</th><th>read</th><th>wrote</th></tr>
{% for s in stages %}<tr><td>{{ s.stage }}</td><td>{{ s.status }}</td><td>{{ s.rows_in }}</td><td>{{ s.rows_out }}</td>
<td>{{ s.seconds }}</td><td>{{ s.inputs }}</td><td>{{ s.tables }}</td></tr>{% endfor %}</table>
<h2>Quality gates</h2>
{% if gates %}<table><tr><th>table</th><th>version</th><th>suite</th><th>result</th><th>failed expectations</th><th>Data Docs</th></tr>
{% for g in gates %}<tr><td>{{ g.table }}</td><td>v{{ g.version }}</td><td>{{ g.suite }}</td>
<td class="{{ 'ok' if g.success else 'fail' }}">{{ 'passed' if g.success else 'FAILED' }} ({{ g.evaluated - g.failed }}/{{ g.evaluated }})</td>
<td>{% for f in g.failures %}<div><b>{{ f.expectation }}</b>{% if f.column %} [{{ f.column }}]{% endif %}: {{ f.observed }} (expected {{ f.expected }})</div>{% endfor %}</td>
<td>{% if g.docs %}<a href="{{ g.docs }}">page</a>{% endif %}</td></tr>{% endfor %}</table>
{% else %}<p class="note">no gate ran in this run</p>{% endif %}
{{ pubs(published) }}
<h2>Delta table versions involved</h2>
<table><tr><th>table</th><th>version</th><th>path</th></tr>
{% for t, v, p in versions %}<tr><td>{{ t }}</td><td>v{{ v }}</td><td><code>{{ p }}</code></td></tr>{% endfor %}</table>
{% for sec in sections %}<h2>{{ sec.title }}</h2>
{% for p in sec.plots %}<figure>{% if p.png_b64 %}<img class="plot" alt="{{ p.title }}" src="data:image/png;base64,{{ p.png_b64 }}">
{% else %}<div class="note">{{ p.note }}</div>{% endif %}<figcaption>{{ p.title }}{% if p.png_b64 and p.note %} — {{ p.note }}{% endif %}</figcaption></figure>{% endfor %}
{% if sec.languages %}<h3>{{ sec.languages.title }}</h3>
{% if sec.languages.note %}<p class="note">{{ sec.languages.note }}</p>{% endif %}
{% if sec.languages.rows %}<table class="languages"><tr><th>language</th><th>recipe</th><th>documents in</th><th>kept</th><th>kept rate</th><th>top drop reasons</th></tr>
{% for r in sec.languages.rows %}<tr><td>{{ r.language }}</td><td><code>{{ r.recipe }}</code></td><td>{{ r.docs_in }}</td><td>{{ r.kept }}</td>
<td>{{ r.kept_rate }}</td><td>{% for why in r.reasons %}<div><code>{{ why }}</code></div>{% endfor %}</td></tr>{% endfor %}</table>{% endif %}{% endif %}
{% for t in sec.tables %}<h3>{{ t.title }}</h3><table><tr><th>line</th><th>count</th></tr>
{% for line, n in t.rows %}<tr><td><code>{{ line }}</code></td><td>{{ n }}</td></tr>{% endfor %}</table>{% endfor %}
{% endfor %}
{% endif %}
</body></html>
"""


def published_rows(lake: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per audited table: the published pointer, the latest version and the failed versions;
    and the log of manual publishes, rollbacks and rejections (newest first)."""
    from lmdata.lake import published

    out, log = [], []
    for table, g in published.summary(lake).items():
        p = g["pointer"] or {}
        uri = delta.table_uri(lake, table)
        out.append(
            {
                "table": table,
                "version": p.get("version"),
                "action": p.get("action") or "-",
                "run_id": p.get("run_id"),
                "reason": p.get("reason") if p.get("action") != "publish" else None,
                "latest": delta.current_version(uri) if delta.exists(uri) else None,
                "failed": g["failed"],
            }
        )
    for r in published.read(lake):
        if r["action"] != "publish" and not r.get("with_table"):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.get("at") or 0))
            log.append({**r, "when": when, "reason": (r.get("reason") or "")[:300]})
    return out, list(reversed(log))


def _render(**kw) -> str:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(**kw)


SUBDOC_LEVELS = (  # curate's sub-document dedup steps: stats counter prefix -> label
    ("repeated_lines", "repeated lines (CCNet, per crawl batch)"),
    ("paragraph_dedup", "paragraphs (across batches)"),
    ("substring_dedup", "exact substrings (per shard)"),
)


def subdoc_dedup(stage_runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per curate run: bytes removed per sub-document dedup level, and the most repeated removed
    paragraphs (`paragraph_dedup_top`, [paragraph, removed copies])."""
    out = []
    for r in stage_runs:
        c = (r.get("stats") or {}).get("counters") or {}
        rows = [
            (label, c[f"{k}:bytes_removed"])
            for k, label in SUBDOC_LEVELS
            if f"{k}:bytes_removed" in c
        ]
        if rows:
            out.append({"title": f"bytes removed per level ({r.get('stage')})", "rows": rows})
        top = [x for x in c.get("paragraph_dedup_top") or () if len(x) == 2]
        if top:
            rows = [(str(x[0])[:200], x[1]) for x in top]
            out.append({"title": f"most repeated paragraphs ({r.get('stage')})", "rows": rows})
    return out


def _safe_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", run_id)


def repeated_lines(
    stage_runs: Sequence[Mapping[str, Any]],
    key: str = "repeated_lines_top",
    title: str = "most repeated lines",
) -> list[dict[str, Any]]:
    """Every `key` list ([line or domain, count]) in the run's stage stats."""
    out = []
    for r in stage_runs:
        st = r.get("stats") or {}
        for where in (st, st.get("counters") or {}):
            top = where.get(key) if isinstance(where, Mapping) else None
            if isinstance(top, list) and top:
                rows = [
                    (str(x[0])[:200], x[1])
                    for x in top
                    if isinstance(x, list | tuple) and len(x) == 2
                ]
                out.append({"title": f"{title} ({r.get('stage')})", "rows": rows})
    return out


SECTION_PLOTS: list[Callable[[str, RunData], Plot]] = [  # after the funnel and the languages
    plot_drop_reasons,
    plot_lengths,
    plot_clusters,
    plot_pii,
]


def build_run_page(data: RunData, params, reports: Path, mixtures: Path) -> Path:
    sections = []
    for source, s in SOURCES.items():
        if not delta.exists(delta.table_uri(data.lake, s["bronze"])):
            continue
        filters = list(getattr(params.curate, source).pipeline)
        rows, note = language_table(source, data)
        plots = [plot_funnel(source, data, filters)] + [f(source, data) for f in SECTION_PLOTS]
        plots.insert(2, plot_language_rows(language_plot_title(source), rows, note))
        if source == "web":
            plots.append(plot_toxicity(source, data))
        if QUALITY_MODEL in filters:
            pipeline = getattr(params.curate, source).pipeline
            plots.append(plot_quality_model(source, data, pipeline[QUALITY_MODEL]))
        sections.append(
            {
                "title": f"{source} data",
                "plots": plots,
                "tables": [],
                # the per-language table: web only (code's language is not a recipe choice)
                "languages": language_section_table(rows, note) if source == "web" else None,
            }
        )
    sections.append(
        {
            "title": "mixture",
            "plots": [plot_mixture(latest_manifest(mixtures))],
            "tables": [],
            "languages": None,
        }
    )
    sub = subdoc_dedup(data.stage_runs)
    if sub:
        sections.append(
            {"title": "sub-document dedup", "plots": [], "tables": sub, "languages": None}
        )
    rep = repeated_lines(data.stage_runs)
    if rep:
        sections.append({"title": "repeated lines", "plots": [], "tables": rep, "languages": None})
    doms = [  # url_v1's domain attribute (curate stats)
        t
        for kind in ("kept", "dropped")
        for t in repeated_lines(data.stage_runs, f"url_domains_top_{kind}", f"top domains {kind}")
    ]
    if doms:
        sections.append({"title": "domains", "plots": [], "tables": doms, "languages": None})
    runs_dir = reports / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    page = runs_dir / f"{_safe_name(data.run_id)}.html"
    gates = _gates(data, page.parent)
    stages = [
        {
            "stage": r["stage"] + _stage_detail(r),
            "status": r.get("status"),
            "rows_in": (r["stats"] or {}).get("rows_in"),
            "rows_out": (r["stats"] or {}).get("rows_out"),
            "seconds": r.get("seconds"),
            "inputs": _fmt_versions((r["stats"] or {}).get("inputs")),
            "tables": _fmt_versions((r["stats"] or {}).get("tables")),
        }
        for r in data.stage_runs
    ]
    versions = [(t, v, delta.table_uri(data.lake, t)) for t, v in sorted(data.versions.items())]
    pub, pub_log = published_rows(data.lake)
    page.write_text(
        _render(
            title=f"lmdata run {data.run_id}",
            lake=data.lake,
            built=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            docs_link=os.path.relpath(reports / "data_docs" / "index.html", page.parent),
            stages=stages,
            gates=gates,
            versions=versions,
            published=pub,
            published_log=pub_log,
            sections=sections,
        )
    )
    return page


def _stage_detail(r: Mapping[str, Any]) -> str:
    tables = list((r.get("stats") or {}).get("inputs") or {})
    return f" ({tables[0]})" if r.get("stage") == "validate" and tables else ""


def _fmt_versions(d: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}@v{v}" for k, v in (d or {}).items())


def _gates(data: RunData, page_dir: Path) -> list[dict[str, Any]]:
    out = []
    for v in read_validations(data.lake):
        if v.get("run_id") != data.run_id:
            continue
        docs = v.get("data_docs_url") or ""
        if docs.startswith("file://"):
            docs = os.path.relpath(docs[len("file://") :], page_dir)
        out.append({**v, "failures": json.loads(v.get("failed_json") or "[]"), "docs": docs})
    return sorted(out, key=lambda g: (g["table"], g["suite"]))


def build_index(runs: Mapping[str, list[dict[str, Any]]], lake: str, reports: Path) -> Path:
    vals = read_validations(lake)
    rows = []
    for run_id, srs in reversed(list(runs.items())):
        mine = [v for v in vals if v.get("run_id") == run_id]
        failed = sum(1 for v in mine if not v["success"])
        rows.append(
            {
                "run_id": run_id,
                "file": html.escape(_safe_name(run_id)) + ".html",
                "stages": ", ".join(sorted({r["stage"] for r in srs})),
                "when": time.strftime(
                    "%Y-%m-%d %H:%M:%S", time.gmtime(srs[-1].get("started_at") or 0)
                ),
                "gates": (f"{len(mine) - failed}/{len(mine)} passed" if mine else "-"),
            }
        )
    index = reports / "index.html"
    pub, pub_log = published_rows(lake)
    index.write_text(
        _render(
            title="lmdata reports",
            runs=rows,
            docs_link="data_docs/index.html",
            published=pub,
            published_log=pub_log,
        )
    )
    return index


def build(
    lake: str,
    params,
    run: str | None = None,
    reports: Path | None = None,
    mixtures: Path | None = None,
) -> Path:
    """Build the page of `run` (default: the latest run) and the index; returns the page."""
    from lmdata.errors import ConfigError

    reports = reports or reports_dir(lake, params.quality.reports_dir)
    mixtures = mixtures or Path(os.environ.get("LMDATA_MIXTURES", "var/mixtures"))
    runs = group_runs(read_stage_runs(lake))
    if not runs:
        raise ConfigError(f"no stage runs recorded in {lake} (_meta/stage_runs): nothing to report")
    run = run or next(reversed(runs))
    if run not in runs:
        raise ConfigError(f"run {run!r} not found; runs: {', '.join(list(runs)[-10:])}")
    srs = runs[run]
    page = build_run_page(RunData(run, lake, srs, run_versions(srs)), params, reports, mixtures)
    build_index(runs, lake, reports)
    return page


def cli(argv: list[str]) -> int:
    from lmdata.errors import LmdataError

    p = argparse.ArgumentParser(prog="lmdata report", description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=None, help="pipeline run id (default: the latest run)")
    p.add_argument("--lake", default=None)
    p.add_argument("--params", default=None)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--out", default=None, help="reports dir (default: quality.reports_dir)")
    p.add_argument("--mixtures", default=None, help="mixtures dir (default var/mixtures)")
    a = p.parse_args(argv)
    try:
        params = load_params(a.params, a.overrides)
        lake = resolve_lake(a.lake)
        page = build(
            lake,
            params,
            a.run,
            Path(a.out).resolve() if a.out else None,
            Path(a.mixtures) if a.mixtures else None,
        )
    except LmdataError as e:
        print(f"lmdata report: {e}", flush=True)
        return e.exit_code
    reports = page.parent.parent
    docs = reports / "data_docs" / "index.html"
    print(f"report:    {page}")
    print(f"index:     {reports / 'index.html'}")
    print(f"Data Docs: {docs if docs.exists() else '(no gate has run yet)'}")
    summary = {"page": str(page), "index": str(reports / "index.html"), "data_docs": str(docs)}
    print("LMDATA_REPORT " + json.dumps(summary), flush=True)
    return 0
