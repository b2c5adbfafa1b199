"""Mixture specs: validation, temperature sampling and the sampling plan."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from lmdata.errors import ConfigError
from lmdata.mixture.spec import (
    copies,
    load_spec,
    parse_spec,
    plan,
    size_free_rates,
    temperature_weights,
)

ROOT = Path(__file__).resolve().parents[3]


def _spec(**over):
    d = {
        "name": "t",
        "seed": 1,
        "sources": [
            {"name": "web/en", "table": "gold/web_documents", "languages": ["EN"]},
            {"name": "web/other", "table": "gold/web_documents", "exclude_languages": ["en"]},
            {"name": "code/python", "table": "gold/code_files", "languages": ["Python"]},
        ],
    }
    d.update(over)
    return parse_spec(d)


def test_sample_spec_is_valid():
    spec, path = load_spec("sample", ROOT / "configs/mixtures")
    assert spec.name == "sample" == path.stem
    assert [s.name for s in spec.sources] == [
        "web/en",
        "web/zh+ja+ko",
        "web/other-languages",
        "code/python",
    ]
    assert spec.table_versions() == {
        "gold/web_documents": "latest",
        "silver/web_attributes": "latest",
        "gold/code_files": "latest",
    }


def test_unknown_and_bad_keys_are_named(tmp_path):
    with pytest.raises(ConfigError, match="sampling.temprature: unknown key"):
        _spec(sampling={"temprature": 2})
    with pytest.raises(ConfigError, match="weights sum to 1.2 > 1"):
        _spec(sources=[
            {"name": "a", "table": "gold/web_documents", "weight": 0.6},
            {"name": "b", "table": "gold/code_files", "weight": 0.6},
        ])  # fmt: skip
    with pytest.raises(ConfigError, match="weight or tokens, not both"):
        _spec(sources=[{"name": "a", "table": "gold/code_files", "weight": 0.5, "tokens": 9}])
    with pytest.raises(ConfigError, match="sources.0.table"):
        _spec(sources=[{"name": "a", "table": "gold/nope"}])
    with pytest.raises(ConfigError, match="read by no source"):
        _spec(
            tables={"silver/web_attributes": 3}, sources=[{"name": "a", "table": "gold/code_files"}]
        )
    with pytest.raises(ConfigError, match="eod_token"):
        _spec(tokenizer={"special_tokens": ["<pad>"]})
    p = tmp_path / "other.yaml"
    p.write_text(
        yaml.safe_dump({"name": "t", "sources": [{"name": "a", "table": "gold/code_files"}]})
    )
    with pytest.raises(ConfigError, match="must match the file name"):
        load_spec(str(p))
    with pytest.raises(ConfigError, match="not found"):
        load_spec("does-not-exist", tmp_path)


def test_sample_spec_weights_web_by_language_and_survives_an_empty_source():
    """The sample mixture splits web text by language (each document in exactly one web
    source); a language source that selects nothing (here zh+ja+ko) gets rate 0 and the others
    are planned as usual (capped at max_rate): the mix stage does not fail on it."""
    from lmdata.mixture.card import render
    from lmdata.mixture.spec import language_matches

    spec, _ = load_spec("sample", ROOT / "configs/mixtures")
    web = [s for s in spec.sources if s.kind == "web"]
    for lang, want in [("en", "web/en"), ("zh", "web/zh+ja+ko"), ("JA", "web/zh+ja+ko"),
                       ("ko", "web/zh+ja+ko"), ("ru", "web/other-languages"),
                       ("de", "web/other-languages"), (None, "web/other-languages")]:  # fmt: skip
        assert [s.name for s in web if language_matches(s, lang)] == [want], lang
    assert {s.name: s.weight for s in web} == {
        "web/en": 0.25,
        "web/zh+ja+ko": 0.15,
        "web/other-languages": None,
    }
    natural = {"web/en": 100.0, "web/zh+ja+ko": 0.0, "web/other-languages": 50.0}
    natural["code/python"] = 10_000.0
    p = plan(spec, natural)
    assert p["web/zh+ja+ko"].rate == 0.0 and p["web/zh+ja+ko"].target == 0.0
    assert p["web/en"].rate == spec.sampling.max_rate == p["web/other-languages"].rate
    assert 0 < p["code/python"].rate < 1
    assert sum(x.weight for x in p.values()) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match=r"web/zh\+ja\+ko: no documents"):
        plan(spec, natural, strict=True)
    # the dataset card names the empty source
    sources = [
        {"name": s.name, "table": s.table, "delta_version": 0, "filter": s.filter_dict(),
         "weight": p[s.name].weight, "documents": 0 if s.name == "web/zh+ja+ko" else 1,
         "tokens": 0 if s.name == "web/zh+ja+ko" else 10}
        for s in spec.sources
    ]  # fmt: skip
    manifest = {
        "mixture": "sample", "version": 1, "created_at": "2026-01-01T00:00:00Z", "seed": 1,
        "spec": {"plan": {k: {"rate": v.rate} for k, v in p.items()}}, "sources": sources,
        "shards": [], "totals": {"documents": 3, "tokens": 30, "tokens_by_language": {"en": 30}},
        "tokenizer": {"dtype": "uint16", "vocab_size": 4096, "eod_id": 0, "sha256": "0" * 64},
    }  # fmt: skip
    card = render(manifest, {}, {})
    assert "- web/zh+ja+ko has no documents in the pinned tables." in card
    assert "| web/zh+ja+ko | gold/web_documents@v0 |" in card


def test_languages_are_normalised():
    s = _spec()
    assert s.sources[0].languages == ["en"] and s.sources[2].languages == ["python"]


def test_temperature_weights_math():
    sizes = {"a": 900.0, "b": 100.0, "c": 0.0}
    t1 = temperature_weights(sizes, 1.0)
    assert t1 == pytest.approx({"a": 0.9, "b": 0.1, "c": 0.0})
    t2 = temperature_weights(sizes, 2.0)  # sqrt: 30 : 10
    assert t2 == pytest.approx({"a": 0.75, "b": 0.25, "c": 0.0})
    big = temperature_weights(sizes, 1e6)  # T -> inf: uniform over non-empty sources
    assert big["a"] == pytest.approx(0.5, abs=1e-4) and big["c"] == 0.0
    half = temperature_weights(sizes, 0.5)  # sharpening: 810000 : 10000
    assert half["a"] == pytest.approx(810000 / 820000)
    huge = temperature_weights({"a": 1e300, "b": 1e299}, 0.01)  # no overflow
    assert huge["a"] == pytest.approx(1.0) and math.isfinite(huge["b"])
    with pytest.raises(ConfigError):
        temperature_weights(sizes, 0)


def test_plan_weights_budgets_and_temperature():
    s = _spec(
        sampling={"temperature": 2.0},
        sources=[
            {"name": "en", "table": "gold/web_documents"},
            {"name": "de", "table": "gold/web_documents"},
            {"name": "py", "table": "gold/code_files", "weight": 0.2},
            {"name": "rs", "table": "gold/code_files", "tokens": 500},
        ],
    )
    p = plan(s, {"en": 900.0, "de": 100.0, "py": 1000.0, "rs": 100.0})
    rest = 900 + 100 + 1000  # natural size of the share sources
    assert p["py"].target == pytest.approx(0.2 * rest)
    assert p["en"].target == pytest.approx(0.8 * 0.75 * rest)
    assert p["de"].target == pytest.approx(0.8 * 0.25 * rest)
    assert p["rs"].target == 500 and p["rs"].rate == 5.0  # up-sampled x5
    assert p["de"].rate == pytest.approx(4.0) and p["en"].rate == pytest.approx(1200 / 900)
    assert sum(x.weight for x in p.values()) == pytest.approx(1.0)
    # a total size: budgets first, the rest shared
    s2 = s.model_copy(update={"sampling": s.sampling.model_copy(update={"total_tokens": 2500})})
    p2 = plan(s2, {"en": 900.0, "de": 100.0, "py": 1000.0, "rs": 100.0})
    assert p2["py"].target == pytest.approx(0.2 * 2000)
    assert sum(x.target for x in p2.values()) == pytest.approx(2500)


def test_plan_natural_is_rate_one_and_empty_sources():
    s = _spec()
    p = plan(s, {"web/en": 123.0, "web/other": 0.0, "code/python": 77.0})
    assert p["web/en"].rate == 1.0 and p["code/python"].rate == 1.0
    assert p["web/other"].rate == 0.0 and p["web/other"].target == 0.0
    with pytest.raises(ConfigError, match="web/other: no documents"):
        plan(s, {"web/en": 123.0, "web/other": 0.0, "code/python": 77.0}, strict=True)


def test_only_weights_are_relative():
    s = _spec(sources=[
        {"name": "a", "table": "gold/web_documents", "weight": 0.2},
        {"name": "b", "table": "gold/code_files", "weight": 0.6},
    ])  # fmt: skip
    p = plan(s, {"a": 100.0, "b": 100.0})
    assert p["a"].target == pytest.approx(50) and p["b"].target == pytest.approx(150)


@pytest.mark.parametrize("rate", [0.0, 0.25, 1.0, 2.7])
def test_copies_have_the_planned_mean(rate):
    n = 10000
    mean = sum(copies(rate, (i + 0.5) / n) for i in range(n)) / n
    assert mean == pytest.approx(rate, abs=1e-3)
    assert {copies(rate, (i + 0.5) / n) for i in range(n)} <= {
        math.floor(rate),
        math.floor(rate) + 1,
    }


def test_max_rate_caps_up_sampling():
    s = _spec(sampling={"temperature": 1e6, "max_rate": 3.0})  # ~uniform: the small one x many
    p = plan(s, {"web/en": 10.0, "web/other": 1000.0, "code/python": 1000.0})
    assert p["web/en"].rate == 3.0 and p["web/en"].target == 30.0
    assert p["web/other"].rate < 1.0  # the others are not scaled up to fill the gap


_TWO = [
    {"name": "a", "table": "gold/web_documents"},
    {"name": "b", "table": "gold/code_files"},
]


@pytest.mark.parametrize(
    ("over", "free"),
    [
        ({}, True),  # temperature 1 over every source
        ({"sampling": {"temperature": 1.0, "max_rate": 0.5}}, True),
        ({"sources": [{"name": "a", "table": "gold/web_documents", "weight": 0.3}]}, True),
        ({"sources": [_TWO[0]], "sampling": {"temperature": 3.0}}, True),
        ({"sampling": {"temperature": 2.0}}, False),
        ({"sampling": {"temperature": 1.0, "total_tokens": 1000}}, False),
        ({"sources": [_TWO[0], {**_TWO[1], "weight": 0.5}]}, False),
        ({"sources": [_TWO[0], {**_TWO[1], "tokens": 10}]}, False),
        ({"sources": [{**_TWO[0], "tokens": 10}]}, False),
    ],
)
def test_size_free_rates_agree_with_the_plan(over, free):
    """size_free_rates says the rates are the same for any sizes exactly when plan() agrees:
    the mix stage then skips measuring sizes and tokens per byte before sampling."""
    s = _spec(**over)
    names = [x.name for x in s.sources]
    sizes = [dict(zip(names, v, strict=False)) for v in ([10.0, 5e3, 7.0], [3e6, 1.0, 40.0])]
    rates = [{k: p.rate for k, p in plan(s, n).items()} for n in sizes]
    got = size_free_rates(s)
    assert (got is not None) == free
    if free:
        assert rates[0] == rates[1] == got
    else:
        assert rates[0] != rates[1]
