"""The dataset card: every section, with the numbers of the manifest and the lake facts."""

from __future__ import annotations

from lmdata.config import Params
from lmdata.mixture.card import render


def _manifest():
    return {
        "mixture": "m",
        "version": 3,
        "created_at": "2026-01-01T00:00:00Z",
        "seed": 5,
        "spec": {
            "description": "test mixture",
            "sampling": {"temperature": 2.0},
            "tables": {"gold/web_documents": 4, "gold/code_files": 2},
            "plan": {"code/python": {"rate": 2.5}, "web/en": {"rate": 0.5}},
            "limitations": ["made for a test"],
        },
        "sources": [
            {
                "name": "web/en",
                "table": "gold/web_documents",
                "delta_version": 4,
                "filter": {"languages": ["en"]},
                "weight": 0.6,
                "documents": 10,
                "tokens": 600,
            },
            {
                "name": "code/python",
                "table": "gold/code_files",
                "delta_version": 2,
                "filter": {"languages": ["python"]},
                "weight": 0.4,
                "documents": 5,
                "tokens": 400,
            },
        ],  # fmt: skip
        "tokenizer": {
            "path": "tokenizer.json",
            "sha256": "ab" * 32,
            "vocab_size": 4096,
            "eod_id": 0,
            "dtype": "uint16",
        },  # fmt: skip
        "shards": [{"prefix": "shards/part-00000"}],
        "totals": {
            "documents": 15,
            "tokens": 1000,
            "tokens_by_source": {"web/en": 600, "code/python": 400},
            "tokens_by_language": {"en": 600, "python": 400},
            "documents_by_source": {"web/en": 10, "code/python": 5},
        },  # fmt: skip
    }


def test_card_has_every_section_with_numbers():
    params = Params().model_dump(mode="json")
    facts = {
        "licenses": {"code/python": {"MIT": 4, "Apache-2.0": 1}},
        "curation": {"web": {"total": 100, "dropped": {"c4_v1:lines": 30}}},
        "dedup": {"web": {"total": 70, "removed": {"exact_duplicate": 7}}},
    }
    md = render(_manifest(), params, facts)
    for head in ("# Dataset card: m v3", "## Sources", "## Licenses", "## Tokens by language",
                 "## Filters and thresholds", "## Deduplication", "## PII policy",
                 "## Known limitations"):  # fmt: skip
        assert head in md, head
    assert "gold/web_documents@v4" in md and "| en | 600 | 60.0% |" in md
    assert "MIT: 4 documents" in md and "Common Crawl Terms of Use" in md
    assert "30 dropped (30.0%)" in md and "7 of 70 documents removed (10.0%)" in md
    # thresholds are the filters' resolved values, not just the params.yaml overrides
    assert "`gopher_quality_v2`:" in md and "min_" in md  # the default web pipeline (v2)
    assert '"bands": 14' in md and "Presidio" in md and "- code: API keys" in md
    assert "code/python is up-sampled x2.50" in md and "made for a test" in md
