"""Language-dependent data and logic: per-language recipes (FineWeb-2), word tokenizers and
segmenters. Pure (no pyspark / airflow); heavy segmenters load lazily once per process."""

from __future__ import annotations

from collections.abc import Iterable

#: the attribute every curated web document carries with its language (the label of whichever
#: language-ID filter ran: lid_cascade_v2 by default), beside ``recipe``
LANGUAGE_COLUMN = "language"
#: where older lakes (curated before the ``language`` attribute) keep it
LEGACY_LANGUAGE_COLUMNS = ("lid_fasttext_v1__lang",)


def language_column(columns: Iterable[str]) -> str | None:
    """The column of a table that holds the document language (None: the table has none)."""
    names = set(columns)
    for c in (LANGUAGE_COLUMN, *LEGACY_LANGUAGE_COLUMNS):
        if c in names:
            return c
    return None
