"""In a pipeline, toxicity_v1's word list follows the language lid_fasttext_v1 found."""

from __future__ import annotations

from lmdata.filters.base import FilterPipeline, doc_language

GERMAN = (
    "Der Nachbar ist ein Arschloch und seine Kinder sind auch nicht besser. "
    "Gestern hat er wieder den ganzen Abend laut Musik gehört und die Straße blockiert, "
    "und als ich ihn darauf angesprochen habe, hat er mich nur ausgelacht."
)
ENGLISH = (
    "The weather in the valley was calm this morning, and the farmers went out early to "
    "check on the fields before the rain that was forecast for the afternoon."
)


def test_word_list_follows_the_detected_language():
    pipe = FilterPipeline.from_config({"lid_fasttext_v1": {}, "toxicity_v1": {}})
    de, en = pipe.apply_batch([GERMAN, ENGLISH])
    assert doc_language(de.labels) == "de" and doc_language(en.labels) == "en"
    assert de.scores["toxicity_v1.wordlist_count"] == 1.0  # "Arschloch" from the German list
    assert en.scores["toxicity_v1.wordlist_count"] == 0.0
    # per-document apply gives the same scores as the batch path
    assert pipe.apply(GERMAN).scores == de.scores


def test_without_a_language_filter_the_default_list_is_used():
    pipe = FilterPipeline.from_config({"toxicity_v1": {}})
    [res] = pipe.apply_batch([GERMAN])
    assert res.scores["toxicity_v1.wordlist_count"] == 0.0  # the English list has no "Arschloch"
