"""FilterPipeline.apply_batch (the path the curate stage runs) equals per-document apply."""

import json
from pathlib import Path

from lmdata.config import DEFAULT_WEB_FILTERS, load_params
from lmdata.filters.base import FilterPipeline

ROOT = Path(__file__).resolve().parents[3]


def test_apply_batch_equals_apply_for_the_web_pipeline():
    assert "pii_presidio_v1" in DEFAULT_WEB_FILTERS
    p = FilterPipeline.from_config(load_params(ROOT / "params.yaml").curate.web.pipeline)
    rows = [
        json.loads(line)
        for line in (ROOT / "tests/fixtures/filters/dclm_agreement_sample.jsonl").open()
    ]
    texts = [r["text"] for r in rows] + [
        "Mail john.doe@example.com or call 212-555-0199. " * 20,
        "",
    ]
    one = [p.apply(t) for t in texts]
    many = p.apply_batch(texts)
    assert [(r.scores, r.reason, r.text, r.labels) for r in one] == [
        (r.scores, r.reason, r.text, r.labels) for r in many
    ]
    assert "<EMAIL_ADDRESS>" in many[-2].text and "john.doe" not in many[-2].text
