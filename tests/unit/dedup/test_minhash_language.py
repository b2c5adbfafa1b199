"""Per-language MinHash shingles: characters for Chinese/Japanese/Thai, words elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lmdata.dedup.minhash import (
    MinHashParams,
    estimated_jaccard,
    shingle_unit,
    signatures,
)

FIXTURE = Path(__file__).parents[2] / "fixtures" / "multilingual" / "filter_sentences.json"
S = json.loads(FIXTURE.read_text(encoding="utf-8"))
LANG = MinHashParams(shingle="language")


def _near_dup(lang: str, sep: str) -> tuple[str, str]:
    a = sep.join(S[lang][:12])
    b = sep.join([*S[lang][:11], S[lang][20]])  # one sentence of twelve replaced
    return a, b


def test_chinese_near_duplicates_are_found_by_character_shingles() -> None:
    a, b = _near_dup("zh", "")
    by_lang = signatures([a, b], LANG, languages=["zh", "zh"])
    by_word = signatures([a, b], MinHashParams(shingle="word"))
    assert estimated_jaccard(by_lang[0], by_lang[1]) > 0.7
    # word shingles: a Chinese page without spaces is one "word", so no near-duplicate match
    assert estimated_jaccard(by_word[0], by_word[1]) < 0.2


def test_each_document_gets_exactly_its_units_signature() -> None:
    texts = [" ".join(S["de"][:8]), "".join(S["ja"][:8]), " ".join(S["th"][:8]), None]
    langs = ["de", "ja", "th", None]
    got = signatures(texts, LANG, languages=langs)
    for i, (t, lang) in enumerate(zip(texts, langs, strict=True)):
        unit = shingle_unit(LANG, lang)
        want = signatures([t], MinHashParams(shingle=unit))[0]
        assert np.array_equal(got[i], want), (lang, unit)
    assert shingle_unit(LANG, "zh") == "char" and shingle_unit(LANG, "ko") == "word"
    # no languages given: word shingles for all, deterministic
    assert np.array_equal(signatures(texts, LANG), signatures(texts, MinHashParams()))
