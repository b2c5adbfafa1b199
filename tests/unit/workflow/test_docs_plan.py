"""docs_ingest's plan: DAG param specs -> ingest-docs argument lists."""

import pytest

from lmdata.workflow.plan import docs_plan


def test_docs_plan_default_takes_the_logical_dates_slice():
    assert docs_plan([], "2026-02-03T00:00:00+00:00") == [["--logical-date", "2026-02-03"]]


def test_docs_plan_specs():
    spec = {"input": ["s3://b/fw/", "/data/x.jsonl"], "dataset": "fw", "preset": "fineweb",
            "slice": "1/4"}  # fmt: skip
    assert docs_plan([spec], "2026-02-03") == [
        ["--input", "s3://b/fw/", "--input", "/data/x.jsonl", "--dataset", "fw",
         "--preset", "fineweb", "--slice", "1/4"]
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown docs input keys"):
        docs_plan([{"crawl": "x"}], None)
