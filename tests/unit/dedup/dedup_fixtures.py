"""Helpers for the fuzzy dedup tests (imported as a top-level module: pytest puts this folder on
sys.path): real CC texts (tests/fixtures/dedup, see PROVENANCE.md) and deterministic edits that
turn them into near-duplicates."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

FIXTURE = Path(__file__).parents[2] / "fixtures" / "dedup" / "cc_docs.jsonl"
_TOKEN = re.compile(r"(\s+)")


def load_docs() -> list[dict]:
    with open(FIXTURE, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


TEXTS = [d["text"] for d in load_docs()]


def substitute(text: str, rate: float, seed: int) -> str:
    """Replace round(rate * words) word tokens by a made-up word (keeps the whitespace)."""
    rng = random.Random(seed)
    parts = _TOKEN.split(text)
    pos = [i for i in range(0, len(parts), 2) if parts[i]]
    for k, i in enumerate(rng.sample(pos, max(1, round(rate * len(pos))))):
        parts[i] = f"zq{seed}x{k}"
    return "".join(parts)


def truncate(text: str, frac: float) -> str:
    parts = _TOKEN.split(text)
    pos = [i for i in range(0, len(parts), 2) if parts[i]]
    return "".join(parts[: pos[max(1, round(frac * len(pos))) - 1] + 1])
