"""Mixture selection by attributes: `filter` / `bucket` parsing, validation against a table
schema, bucket ranges and the filter expression recorded in the manifest."""

from __future__ import annotations

import datetime as dt

import pytest

from lmdata.errors import ConfigError, FatalError
from lmdata.mixture.select import check_columns, describe_filter
from lmdata.mixture.spec import parse_spec

SCHEMA = {
    "doc_id": "string",
    "domain": "string",
    "crawl": "string",
    "quality_model_v1__score": "number",
    "is_code": "bool",
    "fetch_date": "date",
    "language": "string",
    "tags": "other",
}


def _source(**sel):
    spec = parse_spec({
        "name": "t",
        "sources": [{"name": "web/en", "table": "gold/web_documents", "languages": ["en"], **sel}],
    })  # fmt: skip
    return spec.sources[0], spec


def test_filter_shorthand_and_expression():
    s, spec = _source(filter={
        "domain": {"not_in": ["spam.example", "o'neil.com"]},
        "crawl": {"min": "CC-MAIN-2024-10", "max": "CC-MAIN-2024-33"},
        "language": "en",
        "license_class": ["permissive", "copyleft"],
        "quality_model_v1__score": {"gt": 0.5, "is_null": False},
        "fetch_date": {"min": dt.date(2024, 1, 1)},  # unquoted YAML date
    })  # fmt: skip
    assert s.selects and s.bucket is None
    assert s.filter["language"].ops() == {"eq": "en"}
    assert s.filter["license_class"].ops() == {"in": ["permissive", "copyleft"]}
    assert s.filter["fetch_date"].ops() == {"min": "2024-01-01"}
    assert describe_filter(s.filter) == (
        "domain NOT IN ('spam.example', 'o''neil.com') AND crawl >= 'CC-MAIN-2024-10' AND "
        "crawl <= 'CC-MAIN-2024-33' AND language = 'en' AND license_class IN ('permissive', "
        "'copyleft') AND quality_model_v1__score > 0.5 AND quality_model_v1__score IS NOT NULL "
        "AND fetch_date >= '2024-01-01'"
    )
    # a web source that selects reads its attributes table; a code source then reads its own
    assert spec.required_tables() == ["gold/web_documents", "silver/web_attributes"]
    code = parse_spec({"name": "t", "sources": [
        {"name": "c", "table": "gold/code_files", "filter": {"license_class": "permissive"}}]})  # fmt: skip
    assert code.required_tables() == ["gold/code_files", "silver/code_attributes"]
    plain = parse_spec({"name": "t", "sources": [{"name": "c", "table": "gold/code_files"}]})
    assert plain.required_tables() == ["gold/code_files"] and not plain.sources[0].selects


def test_bucket_names_ranges_and_weights():
    s, _ = _source(bucket={"column": "q", "edges": [0.3, 0.7],
                           "weights": {"head": 2, "middle": 1, "tail": 0}})  # fmt: skip
    b = s.bucket
    assert b.bucket_names() == ["tail", "middle", "head"]
    assert b.ranges([0.3, 0.7]) == [("tail", None, 0.3), ("middle", 0.3, 0.7), ("head", 0.7, None)]
    assert (b.weight("head"), b.weight("tail"), b.weight("null")) == (2.0, 0.0, 1.0)
    two, _ = _source(bucket={"column": "q", "quantiles": [0.9]})
    assert two.bucket.bucket_names() == ["tail", "head"]
    many, _ = _source(bucket={"column": "q", "edges": [1, 2, 3], "weights": {"b3": 4}})
    assert many.bucket.bucket_names() == ["b0", "b1", "b2", "b3"] and many.bucket.weight("b3") == 4
    named, _ = _source(bucket={"column": "q", "edges": [0.5], "names": ["low", "high"],
                               "weights": {"high": 1.5}})  # fmt: skip
    assert named.bucket.ranges([0.5]) == [("low", None, 0.5), ("high", 0.5, None)]


@pytest.mark.parametrize(
    ("sel", "msg"),
    [
        ({"bucket": {"column": "q"}}, "give edges or quantiles"),
        ({"bucket": {"column": "q", "edges": [1], "quantiles": [0.5]}}, "give edges or quantiles"),
        ({"bucket": {"column": "q", "edges": [0.7, 0.3]}}, "finite and increasing"),
        ({"bucket": {"column": "q", "quantiles": [0.5, 1.0]}}, "quantiles must be in"),
        ({"bucket": {"column": "q", "edges": [1], "weights": {"top": 2}}},
         r"unknown buckets \['top'\]; buckets are \['tail', 'head', 'null'\]"),
        ({"bucket": {"column": "q", "edges": [1], "weights": {"head": -1}}}, "must be >= 0"),
        ({"bucket": {"column": "q", "edges": [1], "names": ["a"]}}, "names has 1"),
        ({"bucket": {"column": "q", "edges": [1], "wieghts": {}}}, "unknown key"),
        ({"filter": {"domain": {"nin": ["x"]}}}, "unknown key"),
        ({"filter": {"domain": {}}}, "at least one of"),
        ({"filter": {"domain": {"in": []}}}, "empty list"),
        ({"filter": ["domain"]}, "filter"),
    ],
)  # fmt: skip
def test_bad_selection_is_a_named_config_error(sel, msg):
    with pytest.raises(ConfigError, match=msg):
        _source(**sel)


def test_columns_checked_against_the_schema():
    s, _ = _source(
        filter={"domain": {"not_in": ["x.com"]}, "fetch_date": {"max": "2024-12-31"}},
        bucket={"column": "quality_model_v1__score", "quantiles": [0.5]},
    )
    check_columns(s.name, s.filter, s.bucket, SCHEMA, "T")  # valid: no error
    cases = [
        ({"filter": {"domian": "x"}}, "column 'domian' is not in T; available columns: crawl "
         "(string), doc_id (string), domain (string), fetch_date (date), is_code (bool)"),
        ({"bucket": {"column": "nope", "edges": [1]}}, "column 'nope' is not in T"),
        ({"bucket": {"column": "domain", "edges": [1]}},
         "bucket column 'domain' is string, a bucket needs a number column; number columns: "
         "quality_model_v1__score"),
        ({"filter": {"quality_model_v1__score": {"min": "high"}}},
         "filter quality_model_v1__score.min: 'high' does not compare with column "
         "'quality_model_v1__score' of type number"),
        ({"filter": {"domain": [1, 2]}}, "filter domain.in: 1 does not compare"),
        ({"filter": {"is_code": {"min": True}}}, "is_code is bool, a range needs"),
        ({"filter": {"quality_model_v1__score": True}}, "filter quality_model_v1__score.eq: True"),
        ({"filter": {"fetch_date": {"min": "last year"}}}, "'last year' does not compare"),
        ({"filter": {"tags": "a"}}, "column 'tags' of type other"),
    ]  # fmt: skip
    for sel, msg in cases:
        src, _ = _source(**sel)
        with pytest.raises(FatalError) as e:
            check_columns(src.name, src.filter, src.bucket, SCHEMA, "T")
        assert msg in str(e.value) and "source web/en" in str(e.value)
    nulls, _ = _source(filter={"tags": {"is_null": False}})
    check_columns(nulls.name, nulls.filter, nulls.bucket, SCHEMA, "T")


def test_card_records_each_selection():
    from lmdata.mixture.card import _selections

    b = [{"name": "tail", "low": None, "high": 0.42, "weight": 0.0, "documents_in": 7,
          "documents": 0, "tokens": 0},
         {"name": "head", "low": 0.42, "high": None, "weight": 2.0, "documents_in": 3,
          "documents": 6, "tokens": 1200},
         {"name": "null", "low": None, "high": None, "weight": 1.0, "documents_in": 1,
          "documents": 1, "tokens": 9}]  # fmt: skip
    sel = {"attributes": "silver/web_attributes@v4", "filter": "domain NOT IN ('x.com')",
           "bucket": {"column": "q", "quantiles": [0.7], "edges": [0.42], "buckets": b}}  # fmt: skip
    lines = _selections([{"name": "web/en"}, {"name": "web/q", "selection": sel}])
    text = "\n".join(lines)
    assert "### web/q (attributes: silver/web_attributes@v4, joined by doc_id)" in text
    assert "- filter: `domain NOT IN ('x.com')`" in text
    assert "- buckets of `q`: quantiles [0.7] -> edges [0.42]" in text
    assert "| tail | [-inf, 0.42) | 0 | 7 | 0 | 0 |" in text
    assert "| head | [0.42, +inf) | 2 | 3 | 6 | 1,200 |" in text
    assert "| null | null | 1 | 1 | 1 | 9 |" in text
    assert "web/en" not in text
