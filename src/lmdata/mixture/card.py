"""The dataset card: a Markdown datasheet written beside each mixture version's manifest.

`render(manifest, params, facts)`: sources and licenses, filters and thresholds (params.yaml,
resolved with each filter's published defaults), dedup settings and measured rates, PII policy,
token counts per source and language, and known limitations. `facts` are numbers the mix stage
measured in the lake: {"licenses": {source: {license: documents}},
"curation": {"web"|"code": {"total": n, "dropped": {reason: n}}},
"dedup": {"web"|"code": {"total": n, "removed": {reason: n}}}}.

Pure module.
"""

from __future__ import annotations

import json
from typing import Any

WEB_LICENSE = "Common Crawl Terms of Use (https://commoncrawl.org/terms-of-use); page copyrights stay with their owners"


def _fmt(n: float) -> str:
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.4g}"


def _pct(a: float, b: float) -> str:
    return f"{100.0 * a / b:.1f}%" if b else "-"


def _thresholds(pipeline: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for name, overrides in (pipeline or {}).items():
        try:
            from lmdata.filters.registry import get_filter

            th = get_filter(name).resolve_thresholds(overrides or None)
        except Exception:  # an unknown filter is listed with its raw settings
            th = overrides or {}
        out.append((name, ", ".join(f"{k}={v}" for k, v in sorted(th.items())) or "(none)"))
    return out


def _range(lo: float | None, hi: float | None) -> str:
    return f"[{'-inf' if lo is None else f'{lo:g}'}, {'+inf' if hi is None else f'{hi:g}'})"


def _selections(sources: list[dict[str, Any]]) -> list[str]:
    """Sources that select by stored attributes: filter, bucket edges and weights, and what each
    bucket had and contributed."""
    L: list[str] = []
    for s in sources:
        sel = s.get("selection")
        if not sel:
            continue
        if not L:
            L += ["", "## Selection by attributes", ""]
        L.append(f"### {s['name']} (attributes: {sel['attributes']}, joined by doc_id)")
        L.append("")
        L.append(f"- filter: `{sel['filter']}`" if sel.get("filter") else "- filter: none")
        b = sel.get("bucket")
        if b:
            how = f"quantiles {b['quantiles']} -> " if b.get("quantiles") else ""
            L += [
                f"- buckets of `{b['column']}`: {how}edges {b['edges']}",
                "",
                "| bucket | range | weight | documents in | documents taken | tokens |",
                "|---|---|---|---|---|---|",
            ]
            for x in b["buckets"]:
                rng = "null" if x["name"] == "null" else _range(x["low"], x["high"])
                L.append(f"| {x['name']} | {rng} | {x['weight']:g} | {_fmt(x['documents_in'])} "
                         f"| {_fmt(x['documents'])} | {_fmt(x['tokens'])} |")  # fmt: skip
        L.append("")
    return L


def render(manifest: dict[str, Any], params: dict[str, Any], facts: dict[str, Any]) -> str:
    m = manifest
    t = m["totals"]
    tok = m["tokenizer"]
    kinds = sorted({"web" if s["table"].startswith("gold/web") else "code" for s in m["sources"]})
    L: list[str] = []
    L += [
        f"# Dataset card: {m['mixture']} v{m['version']}",
        "",
        m["spec"].get("description") or "A tokenized pretraining mixture built by lmdata.",
        "",
        f"- created: {m['created_at']}",
        f"- seed: {m['seed']}",
        f"- documents: {_fmt(t['documents'])} · tokens: {_fmt(t['tokens'])} "
        f"· shards: {len(m['shards'])} (Megatron `.bin`/`.idx`, {tok['dtype']})",
        f"- tokenizer: byte-level BPE, vocab {tok['vocab_size']}, end-of-document id "
        f"{tok['eod_id']}, sha256 `{tok['sha256'][:16]}…`",
        "",
        "## Sources",
        "",
        "| source | table@version | filter | weight | documents | tokens |",
        "|---|---|---|---|---|---|",
    ]
    for s in m["sources"]:
        L.append(
            f"| {s['name']} | {s['table']}@v{s['delta_version']} | "
            f"`{json.dumps(s['filter'], sort_keys=True)}` | {s['weight']:.4f} | "
            f"{_fmt(s['documents'])} | {_fmt(s['tokens'])} |"
        )
    L += _selections(m["sources"])
    samp = m["spec"].get("sampling", {})
    L += [
        "",
        f"Sampling: temperature {samp.get('temperature')} over sources without a fixed weight or "
        "token budget (p ∝ size^(1/T)); up-sampled sources repeat documents, down-sampled ones "
        f"keep a seeded random subset; global shuffle by hash(seed, doc_id, copy). Gold table "
        f"versions: {', '.join(f'{k}@v{v}' for k, v in m['spec'].get('tables', {}).items())}.",
        "",
        "## Licenses",
        "",
    ]
    lic = facts.get("licenses") or {}
    for s in m["sources"]:
        if s["table"].startswith("gold/web"):
            L.append(f"- {s['name']}: {WEB_LICENSE}")
        else:
            counts = lic.get(s["name"]) or {}
            parts = ", ".join(f"{k or 'unknown'}: {_fmt(v)} documents" for k, v in sorted(
                counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))  # fmt: skip
            L.append(f"- {s['name']}: {parts or 'no documents'} (repository licenses, SPDX)")
    L += ["", "## Tokens by language", "", "| language | tokens | share |", "|---|---|---|"]
    for lang, n in sorted(t["tokens_by_language"].items(), key=lambda kv: (-kv[1], kv[0])):
        L.append(f"| {lang} | {_fmt(n)} | {_pct(n, t['tokens'])} |")
    L += ["", "## Filters and thresholds", ""]
    curate = params.get("curate") or {}
    cur_facts = facts.get("curation") or {}
    for kind in kinds:
        pipe = (curate.get(kind) or {}).get("pipeline") or {}
        L.append(f"### {kind} (params.yaml `curate.{kind}`)")
        L.append("")
        for name, th in _thresholds(pipe):
            L.append(f"- `{name}`: {th}")
        cf = cur_facts.get(kind)
        if cf:
            L.append("")
            L.append(f"Measured on silver/{kind}_attributes: {_fmt(cf['total'])} documents scored, "
                     f"{_fmt(sum(cf['dropped'].values()))} dropped "
                     f"({_pct(sum(cf['dropped'].values()), cf['total'])}).")  # fmt: skip
            for reason, n in sorted(cf["dropped"].items(), key=lambda kv: -kv[1])[:12]:
                L.append(f"  - {reason}: {_fmt(n)}")
        L.append("")
    dd = params.get("dedup") or {}
    L += [
        "## Deduplication",
        "",
        f"- exact: `{json.dumps(dd.get('exact', {}), sort_keys=True)}`",
        f"- fuzzy (MinHash-LSH): `{json.dumps(dd.get('fuzzy', {}), sort_keys=True)}`",
        f"- cross-source: {dd.get('cross_source', False)}",
    ]
    for kind, d in sorted((facts.get("dedup") or {}).items()):
        removed = sum(d["removed"].values())
        by = ", ".join(f"{k}: {_fmt(v)}" for k, v in sorted(d["removed"].items()))
        L.append(
            f"- {kind}: {_fmt(removed)} of {_fmt(d['total'])} documents removed "
            f"({_pct(removed, d['total'])}){' — ' + by if by else ''}"
        )
    L += ["", "## PII policy", ""]
    web_pipe = (curate.get("web") or {}).get("pipeline") or {}
    code_pipe = (curate.get("code") or {}).get("pipeline") or {}
    if "web" in kinds:
        if any(k.startswith("pii_") for k in web_pipe):
            L.append(
                "- web: Presidio pattern and checksum recognizers (e-mail, phone, credit card, "
                "IBAN, IP, URL, crypto wallet, US SSN, ...) replace matches with typed "
                "placeholders such as `<EMAIL_ADDRESS>`; names and locations are NOT detected "
                "(no NER model is available offline)."
            )
        else:
            L.append("- web: no PII redaction filter in the pipeline.")
    if "code" in kinds:
        if any(k.startswith("secrets_") for k in code_pipe):
            L.append(
                "- code: API keys, tokens and private keys are replaced by typed placeholders."
            )
        else:
            L.append("- code: no secrets redaction filter in the pipeline.")
    L += [
        "",
        "## Known limitations",
        "",
        "- Language labels come from fastText lid.176 on whole documents; short and mixed-language "
        "documents are often mislabelled.",
        "- Quality filters are heuristic (Gopher, C4, FineWeb rules, word-list toxicity): they "
        "remove some good text and keep some bad text.",
        "- Near-duplicate detection is probabilistic (MinHash-LSH): some near duplicates remain.",
        "- PII redaction covers pattern-based identifiers only; names, addresses and other "
        "contextual PII remain.",
    ]
    for s in m["sources"]:
        plan = (m["spec"].get("plan") or {}).get(s["name"]) or {}
        rate = plan.get("rate")
        if rate is not None and rate > 1:
            L.append(f"- {s['name']} is up-sampled x{rate:.2f}: its documents repeat.")
        if s["documents"] == 0:
            L.append(f"- {s['name']} has no documents in the pinned tables.")
        for b in ((s.get("selection") or {}).get("bucket") or {}).get("buckets", []):
            if b["weight"] > 1 and b["documents"]:
                L.append(f"- {s['name']}: bucket {b['name']} is weighted x{b['weight']:g}: its "
                         "documents repeat.")  # fmt: skip
    for extra in m["spec"].get("limitations") or []:
        L.append(f"- {extra}")
    L.append("")
    return "\n".join(L)
