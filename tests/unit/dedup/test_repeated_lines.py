"""CCNet-style repeated-line helpers: line keys, hashes, removal, thresholds."""

from lmdata.dedup.lines import emptied, iter_lines, line_hash, line_key, min_docs_for, remove_lines


def test_line_key_normalizes_case_digits_and_spaces():
    assert line_key("  Copyright 2024  ACME\t Inc. ") == "copyright 0000 acme inc."
    assert line_hash("Page 1 of 12") == line_hash("page 7 OF 99")
    assert line_hash("Page 1 of 12") != line_hash("Page 1 of 12 next")


def test_iter_lines_skips_blanks_and_marks_first_occurrence():
    rows = list(iter_lines("Menu\n\nBody text é\nMenu\n   \n"))
    assert [(i, first, line) for i, _, _, first, line in rows] == [
        (0, True, "Menu"),
        (2, True, "Body text é"),
        (3, False, "Menu"),
    ]
    assert rows[1][2] == len("Body text é".encode()) + 1


def test_remove_lines_and_emptiness():
    text = "Nav\nKeep this.\n\nFooter\n\nAnd this."
    assert remove_lines(text, [0, 3]) == "Keep this.\n\nAnd this."
    assert remove_lines(text, []) == text
    assert remove_lines("Nav\n\nFooter", [0, 2]) == ""
    assert emptied("", {}) and not emptied("x", {})
    assert emptied("short", {"min_chars": 10})


def test_min_docs_threshold():
    assert min_docs_for(10, {"min_docs": 3, "min_doc_frac": 0.001}) == 3
    assert min_docs_for(100_000, {"min_docs": 3, "min_doc_frac": 0.001}) == 100
