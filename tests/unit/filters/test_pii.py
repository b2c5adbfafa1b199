"""pii_presidio_v1: redaction, config, and the fast path == a plain Presidio AnalyzerEngine."""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lmdata.errors import ConfigError
from lmdata.filters import pii
from lmdata.filters.base import FilterPipeline
from lmdata.filters.pii import (
    DEFAULT_ENTITIES,
    SUPPORTED_ENTITIES,
    PiiPresidio,
    PiiRedactor,
    PiiSpan,
    naive_analyze,
    resolve_overlaps,
)
from lmdata.filters.registry import get_filter

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pii"
P = "pii_presidio_v1"

# made-up examples, one or more per default entity; the comment says why it is (not) PII
PLANTED = [
    # e-mail: the TLD must be a real one (tldextract's bundled suffix list)
    "Write to jane.doe@example.com or john@example.invalidtld today.",
    # phone: libphonenumber-valid US and UK numbers; 555-1234 has too few digits
    "Call (650) 253-0000 or +44 20 7946 0958, not 555-1234.",
    "Server 192.168.1.20 and 2001:db8::ff00:42:8329 went down.",
    # credit card: Luhn-valid, then the same number with a wrong check digit
    "Card 4111 1111 1111 1111 works, 4111 1111 1111 1112 does not.",
    # IBAN: mod-97 valid (spaced and compact), then a wrong check sum
    "Pay to DE89 3704 0044 0532 0130 00 (not DE89 3704 0044 0532 0130 01) or GB82WEST12345698765432.",
    # SSN: well-formed, then invalid area/group/serial and a bare 9-digit number (weak, 0.05)
    "SSN 536-22-8726; bogus: 000-12-3456, 666-12-3456, 123-45-6789, 536228726.",
    # bitcoin: base58check valid, a corrupted copy, and a valid bech32 address
    "BTC 1BoatSLRHtKNngkdXEeobR76b53LETtpyT vs 1BoatSLRHtKNngkdXEeobR76b53LETtpyX "
    "and bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq.",
    "Visit https://www.example.com/path?q=1 or mail me: a.b@example.org",
    # UK NHS number (mod 11 valid) that is also a valid US phone number
    "NHS 943 476 5919 and 943 476 5918.",
]
PLANTED_REDACTED = [
    "Write to <EMAIL_ADDRESS> or john@example.invalidtld today.",
    "Call <PHONE_NUMBER> or <PHONE_NUMBER>, not 555-1234.",
    "Server <IP_ADDRESS> and <IP_ADDRESS> went down.",
    "Card <CREDIT_CARD> works, 4111 1111 1111 1112 does not.",
    "Pay to <IBAN_CODE> (not DE89 3704 0044 0532 0130 01) or <IBAN_CODE>.",
    "SSN <US_SSN>; bogus: 000-12-3456, 666-12-3456, 123-45-6789, 536228726.",
    "BTC <CRYPTO> vs 1BoatSLRHtKNngkdXEeobR76b53LETtpyX and <CRYPTO>.",
    "Visit https://www.example.com/path?q=1 or mail me: <EMAIL_ADDRESS>",
    "NHS <PHONE_NUMBER> and <PHONE_NUMBER>.",
]
EDGE = [
    "",
    "\n",
    "1640",  # a valid German number on its own (4 digits)
    "x 1640 x",
    "2013\n2014\n(212) 555-0199\n",
    "tel: +1 650-253-0000 ext. 42",
    "650-253-0000x42; 650 253 0000 # 7",
    "1 ext 3 or 12-34# or 1x2x3x4",
    "Ruf an: 030 1234567 oder 0049 30 1234567, Kosten 16,40 €",
    "emoji 😀 +44 20 7946 0958 😀 4111-1111-1111-1111",
    "a@b.co\na@b.co\r\nIP 10.0.0.1.",
    "٠٦٥٠٢٥٣٠٠٠٠ and ６５０-２５３-００００",
    "see 1.2.3.4/24 and ::1 and ::ffff:10.0.0.1",
]


def _nemo() -> list[tuple[str, list[tuple[str, str]]]]:
    """(text, [(tag, value)]) per non-empty line of the NeMo-Curator files, tags stripped."""
    out = []
    for path in sorted((FIXTURES / "nemo").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                gold = re.findall(r"<([a-z_]+)>(.*?)</\1>", line)
                out.append((re.sub(r"</?[a-z_]+>", "", line), gold))
    return out


def _fixture_texts() -> list[str]:
    sample = json.loads((FIXTURES / "presidio_research_sample.json").read_text(encoding="utf-8"))
    web = [
        json.loads(line)["text"]
        for line in (FIXTURES / "web_docs.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return [s["full_text"] for s in sample] + web + [t for t, _ in _nemo()] + PLANTED + EDGE


TEXTS = _fixture_texts()


# --- redaction ---------------------------------------------------------------------------------


def test_planted_examples_are_redacted():
    r = PiiRedactor()
    out = r.redact_batch(PLANTED)
    assert [t for t, _ in out] == PLANTED_REDACTED
    assert [c for _, c in out] == [
        {"EMAIL_ADDRESS": 1},
        {"PHONE_NUMBER": 2},
        {"IP_ADDRESS": 2},
        {"CREDIT_CARD": 1},
        {"IBAN_CODE": 2},
        {"US_SSN": 1},
        {"CRYPTO": 2},
        {"EMAIL_ADDRESS": 1},
        {"PHONE_NUMBER": 2},
    ]
    assert r.redact(PLANTED[3]) == out[3]  # one document == a batch of one


def test_checksums_decide():
    spans = PiiRedactor().analyze_batch(PLANTED[3:7])
    assert [(s.entity_type, s.score) for s in spans[0]] == [("CREDIT_CARD", 1.0)]  # Luhn
    assert [s.entity_type for s in spans[1]] == ["IBAN_CODE", "IBAN_CODE"]  # mod 97
    assert [(s.start, s.end) for s in spans[2]] == [(4, 15)]  # SSN ranges
    assert [s.end - s.start for s in spans[3]] == [34, 42]  # bitcoin checksums


def test_placeholder_styles():
    text = PLANTED[0]
    assert PiiRedactor(placeholder="[{short}]").redact(text)[0] == (
        "Write to [EMAIL] or john@example.invalidtld today."
    )
    assert PiiRedactor(placeholder="").redact(text)[0] == (
        "Write to  or john@example.invalidtld today."
    )
    assert PiiRedactor(placeholder="{{{entity}}}").redact(PLANTED[1])[0] == (
        "Call {PHONE_NUMBER} or {PHONE_NUMBER}, not 555-1234."
    )


def test_overlaps_resolved_by_score_then_length_then_start():
    spans = [
        PiiSpan("URL", 9, 16, 0.5),
        PiiSpan("EMAIL_ADDRESS", 9, 29, 1.0),
        PiiSpan("URL", 18, 29, 0.5),
        PiiSpan("PHONE_NUMBER", 40, 50, 0.4),
        PiiSpan("UK_NHS", 40, 50, 1.0),
        PiiSpan("US_SSN", 60, 71, 0.5),
        PiiSpan("US_ITIN", 60, 71, 0.5),  # tie: entity name decides (US_ITIN < US_SSN)
        PiiSpan("PHONE_NUMBER", 80, 92, 0.4),
        PiiSpan("PHONE_NUMBER", 85, 99, 0.4),  # same score, longer: wins
        PiiSpan("IP_ADDRESS", 100, 104, 0.6),
        PiiSpan("IP_ADDRESS", 102, 106, 0.6),  # same score and length: earlier wins
    ]
    assert resolve_overlaps(spans) == [
        PiiSpan("EMAIL_ADDRESS", 9, 29, 1.0),
        PiiSpan("UK_NHS", 40, 50, 1.0),
        PiiSpan("US_ITIN", 60, 71, 0.5),
        PiiSpan("PHONE_NUMBER", 85, 99, 0.4),
        PiiSpan("IP_ADDRESS", 100, 104, 0.6),
    ]
    # with URL on, the e-mail (1.0) still wins over the URLs inside it
    r = PiiRedactor(entities=[*DEFAULT_ENTITIES, "URL", "UK_NHS"])
    assert r.redact(PLANTED[0]) == (
        "Write to <EMAIL_ADDRESS> or john@<URL>validtld today.",  # Presidio: TLD ".in"
        {"EMAIL_ADDRESS": 1, "URL": 1},
    )
    assert r.redact(PLANTED[8]) == (
        "NHS <UK_NHS> and <PHONE_NUMBER>.",
        {"UK_NHS": 1, "PHONE_NUMBER": 1},
    )


def test_score_threshold():
    text = PLANTED[5]  # the bare 9-digit number is a "very weak" SSN (0.05)
    assert PiiRedactor().redact(text)[1] == {"US_SSN": 1}
    assert PiiRedactor(score_threshold=0.0).redact(text)[1] == {"US_SSN": 2}
    assert PiiRedactor(score_threshold=0.6).redact(text)[1] == {}


def test_nemo_curator_gold_spans_found():
    tag_to_entity = {
        "email": "EMAIL_ADDRESS",
        "phone_number": "PHONE_NUMBER",
        "ssn": "US_SSN",
        "credit_card_number": "CREDIT_CARD",
        "ip_address": "IP_ADDRESS",
    }
    rows = _nemo()
    found = PiiRedactor().analyze_batch([t for t, _ in rows])
    missed = []
    for (text, gold), spans in zip(rows, found, strict=True):
        got = {(s.entity_type, text[s.start : s.end]) for s in spans}
        for tag, value in gold:
            if tag in tag_to_entity and (tag_to_entity[tag], value) not in got:
                missed.append((tag, value))
    assert missed == []
    assert sum(len(g) for _, g in rows) >= 17


# --- the fast path equals a plain AnalyzerEngine -------------------------------------------------


@pytest.mark.parametrize(
    ("entities", "threshold"),
    [(DEFAULT_ENTITIES, 0.4), (DEFAULT_ENTITIES, 0.0), (SUPPORTED_ENTITIES, 0.0)],
)
def test_fast_equals_naive_on_fixtures(entities, threshold):
    fast = PiiRedactor(entities, score_threshold=threshold).analyze_batch(TEXTS)
    naive = [naive_analyze(t, entities, threshold) for t in TEXTS]
    diffs = [(t[:80], f, n) for t, f, n in zip(TEXTS, fast, naive, strict=True) if f != n]
    assert diffs == []
    assert sum(map(len, naive)) > 80  # the comparison covers real spans


def test_fast_equals_naive_on_random_phone_like_strings():
    rng = random.Random(7)
    atoms = [
        *"0123456789",
        "00", "011", "+", "＋", " ", "-", ".", "(", ")", "/", "x", "X", "ext", "ext.", "#", ",",
        ";", "~", "a", "int", "anexo", "доб", "\n", "\t", "\xa0", "٣", "５", "%", "$", "€", ":",
        "30", "1640", "0164", "49", "44", "+49 ", "+1 ", "1-800-", "(212) ", "555-", "2013",
    ]  # fmt: skip
    texts = ["".join(rng.choice(atoms) for _ in range(rng.randint(1, 20))) for _ in range(300)]
    ents = ["PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "IP_ADDRESS"]
    fast = PiiRedactor(ents, score_threshold=0.0).analyze_batch(texts)
    naive = [naive_analyze(t, ents, 0.0) for t in texts]
    assert [(t, f) for t, f, n in zip(texts, fast, naive, strict=True) if f != n] == []
    assert sum(map(len, fast)) > 30


def test_batch_equals_one_by_one():
    r = PiiRedactor(SUPPORTED_ENTITIES, score_threshold=0.0)
    texts = EDGE + PLANTED + ["4111", "1111 1111 1111", "1111\n"] * 3
    assert r.analyze_batch(texts) == [r.analyze(t) for t in texts]


def test_exact_fallbacks_when_trigger_tables_do_not_apply(monkeypatch):
    """A recognizer whose patterns changed (other Presidio version) or libphonenumber
    internals that changed: scanned whole / per document, still exact."""
    for name, spec in list(pii._TRIGGERS.items()):
        monkeypatch.setitem(pii._TRIGGERS, name, spec._replace(fingerprint="changed"))
    monkeypatch.setattr(pii.plans, "_EXTN_FINGERPRINT", "changed")  # where _PhonePlan reads it
    engine = pii._FastEngine(DEFAULT_ENTITIES)
    assert {getattr(p, "mode", None) for p in engine.plans} == {"batch", None}
    assert not [p for p in engine.plans if isinstance(p, pii._PhonePlan)][0].ok
    texts = TEXTS[:60] + PLANTED
    assert engine.analyze_batch(texts, 0.4) == [naive_analyze(t) for t in texts]


def test_phone_digit_bound_matches_libphonenumber():
    """No string of 1-3 digits (with or without "+") is a valid number for any default region,
    as the metadata-derived bound says (k_min = 4: German 164x numbers)."""
    import phonenumbers

    plan = [p for p in pii.get_engine().plans if isinstance(p, pii._PhonePlan)][0]
    assert plan.k_min == 4 and plan.k_nat["DE"] == 4 and plan.k_nat["US"] == 7
    for n in range(1, 4):
        for i in range(10**n):
            for text in (f"{i:0{n}d}", f"+{i:0{n}d}"):
                for region in plan.regions:
                    assert not list(phonenumbers.PhoneNumberMatcher(text, region, leniency=1))
    assert list(phonenumbers.PhoneNumberMatcher("1640", "DE", leniency=1))


# --- config ----------------------------------------------------------------------------------


def test_default_and_supported_entities_match_presidio():
    registry = pii._default_registry()
    pattern = {
        e for r in registry.recognizers if hasattr(r, "patterns") for e in r.supported_entities
    }
    pattern.add("PHONE_NUMBER")
    assert set(SUPPORTED_ENTITIES) == pattern
    assert set(DEFAULT_ENTITIES) <= set(SUPPORTED_ENTITIES)
    assert PiiRedactor().entities == tuple(sorted(DEFAULT_ENTITIES))


@pytest.mark.parametrize(
    ("kwargs", "key", "word"),
    [
        ({"entities": ["EMAIL_ADDRESS", "SOCIAL"]}, "entities", "SOCIAL"),
        ({"entities": ["PERSON"]}, "entities", "NER"),
        ({"entities": "EMAIL_ADDRESS"}, "entities", "list"),
        ({"entities": []}, "entities", "empty"),
        ({"entities": [1]}, "entities", "1"),
        ({"placeholder": "<{nope}>"}, "placeholder", "nope"),
        ({"placeholder": "<{entity>"}, "placeholder", "format"),
        ({"placeholder": None}, "placeholder", "None"),
        ({"score_threshold": 2}, "score_threshold", "2"),
        ({"score_threshold": True}, "score_threshold", "True"),
        ({"score_threshold": "0.5"}, "score_threshold", "0.5"),
    ],
)
def test_config_errors_name_the_key(kwargs, key, word):
    with pytest.raises(ConfigError) as err:
        PiiRedactor(**kwargs)
    assert f"pii: {key}:" in str(err.value) and word in str(err.value)
    with pytest.raises(ConfigError):
        PiiPresidio(**kwargs)


# --- the filter ------------------------------------------------------------------------------


def test_filter_registered_scores_transform_decide():
    cls = get_filter(P)
    assert cls is PiiPresidio
    flt = cls()
    text = PLANTED[1] + "\n" + PLANTED[0]
    scores, redacted = flt.score_and_transform(text)
    assert list(scores) == flt.score_keys() == [f"{P}.{e}" for e in (*SUPPORTED_ENTITIES, "total")]
    assert all(type(v) is float for v in scores.values())
    assert scores[f"{P}.PHONE_NUMBER"] == 2.0 and scores[f"{P}.EMAIL_ADDRESS"] == 1.0
    assert scores[f"{P}.total"] == 3.0 and scores[f"{P}.URL"] == 0.0
    assert redacted == PLANTED_REDACTED[1] + "\n" + PLANTED_REDACTED[0]
    assert flt.score(text) == scores and flt.transform(text) == redacted
    assert flt.decide(scores) is None  # never drops by default
    assert flt.decide(scores, {"max_total": 3}) is None
    assert flt.decide(scores, {"max_total": 2}) == f"{P}:total"
    with pytest.raises(ConfigError, match="max_pii"):
        flt.decide(scores, {"max_pii": 1})
    assert flt.score_and_transform_batch([text, ""]) == [
        (scores, redacted),
        flt.score_and_transform(""),
    ]


def test_filter_in_a_pipeline_and_pickled():
    pipeline = FilterPipeline([(PiiPresidio(placeholder="[{short}]"), {"max_total": 5})])
    result = pipeline.apply(PLANTED[3])
    assert result.keep and result.text == "Card [CREDIT_CARD] works, 4111 1111 1111 1112 does not."
    blob = pickle.dumps(pipeline.filters[0])
    assert len(blob) < 2000 and b"presidio" not in blob  # config only, never the engine
    clone = pickle.loads(blob)
    assert clone.score_and_transform(PLANTED[3]) == pipeline.filters[0].score_and_transform(
        PLANTED[3]
    )
    assert pickle.loads(pickle.dumps(PiiRedactor())).redact(PLANTED[0]) == PiiRedactor().redact(
        PLANTED[0]
    )


def test_engine_built_once_per_config():
    assert pii.get_engine() is pii.get_engine(DEFAULT_ENTITIES)
    assert pii.get_engine(["URL"]) is not pii.get_engine()


def test_offline_build_in_a_fresh_process():
    """Import, registry, engine, tldextract and the reference engine with every socket refused."""
    code = """
import socket
def refuse(*a, **k):
    raise OSError("network disabled by the test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
from lmdata.filters.pii import PiiRedactor, naive_analyze
text = "mail jane.doe@example.com, call (650) 253-0000"
out = PiiRedactor().redact(text)
assert out == ("mail <EMAIL_ADDRESS>, call <PHONE_NUMBER>", {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}), out
assert len(naive_analyze(text)) == 2
import os
assert os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] == ""
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if k != "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


_TORCH_PROBE = """
import importlib.util, sys
from lmdata.filters.pii import engine
engine._default_registry()
spans = engine.naive_analyze("mail bob@example.com")
print("torch" in sys.modules, [s.entity_type for s in spans])
print(any(type(f).__name__ == "_NoTorch" for f in sys.meta_path))
if importlib.util.find_spec("torch") is not None:
    import torch  # the training stage's import still works afterwards
    print(torch.tensor([1, 2]).sum().item())
else:
    print(3)
"""


def test_presidio_is_imported_without_torch():
    """spaCy's thinc would import torch (~1.2 s, ~170 MiB per Python worker) for nothing: the
    engine's import of Presidio keeps it out, and only for that import."""
    proc = subprocess.run(
        [sys.executable, "-c", _TORCH_PROBE], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split("\n")[:3] == ["False ['EMAIL_ADDRESS']", "False", "3"]
