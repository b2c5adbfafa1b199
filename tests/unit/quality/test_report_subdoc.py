"""The report's sub-document dedup tables (issue 23): bytes removed per level and the most
repeated paragraphs, from curate's stage stats."""

from lmdata.quality import report as R


def test_subdoc_tables_from_curate_counters():
    runs = [
        {"stage": "ingest-cc", "stats": {"counters": {"files": 2}}},
        {
            "stage": "curate",
            "stats": {
                "counters": {
                    "repeated_lines:bytes_removed": 120,
                    "paragraph_dedup:bytes_removed": 3400,
                    "substring_dedup:bytes_removed": 0,
                    "paragraph_dedup_top": [["All rights reserved by the site.", 7], ["x"]],
                }
            },
        },
    ]
    bytes_t, top_t = R.subdoc_dedup(runs)
    assert bytes_t["title"] == "bytes removed per level (curate)"
    assert [n for _, n in bytes_t["rows"]] == [120, 3400, 0]
    assert top_t["rows"] == [("All rights reserved by the site.", 7)]
    assert R.subdoc_dedup(runs[:1]) == []
