"""Real texts for the token tests: Common Crawl documents and Lingua sentences in 17 languages
(tests/fixtures/dedup, tests/fixtures/langid; provenance there)."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def real_texts() -> list[str]:
    out = []
    for f in ("dedup/cc_docs.jsonl", "langid/lingua_sentences.jsonl"):
        for line in (FIXTURES / f).read_text().splitlines():
            out.append(json.loads(line)["text"])
    return out
