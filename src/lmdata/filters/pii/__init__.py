"""PII detection and redaction with Presidio's pattern recognizers, offline and fast.

``pii_presidio_v1`` counts PII spans per entity type and its ``transform`` replaces each span
with a placeholder (``<EMAIL_ADDRESS>`` by default), like ``c4_v1``'s transform edits text. It
never drops a document unless ``max_total`` is set: redaction is the remedy.

API::

    r = PiiRedactor(entities=DEFAULT_ENTITIES, placeholder="<{entity}>", score_threshold=0.4)
    r.redact("mail me: jane@example.com")   # -> ("mail me: <EMAIL_ADDRESS>", {"EMAIL_ADDRESS": 1})
    r.redact_batch(texts)                   # -> [(redacted, counts), ...]  (much faster per doc)
    r.analyze(text) / r.analyze_batch(texts)  # -> [PiiSpan(entity_type, start, end, score), ...]

Entities. Offline only Presidio's pattern/checksum recognizers work (PERSON, LOCATION, ... need
an NER model that cannot be downloaded here; asking for them is a ConfigError).
``SUPPORTED_ENTITIES`` lists the English pattern entities of Presidio's default registry.
``DEFAULT_ENTITIES`` are the ones that are personal data and precise enough on web text:
EMAIL_ADDRESS (TLD-validated), PHONE_NUMBER (libphonenumber-validated), IP_ADDRESS,
CREDIT_CARD (Luhn), IBAN_CODE (mod-97), US_SSN (formatted, invalid ranges removed), CRYPTO
(bitcoin checksum). Off by default: URL (web text is full of URLs that are not personal),
DATE_TIME / MAC_ADDRESS / UUID (not personal by themselves), UK_NHS (mod-11 passes one random
10-digit number in 11, e.g. phone numbers), and the context-only US types (US_BANK_NUMBER,
US_DRIVER_LICENSE, US_PASSPORT, US_ITIN, MEDICAL_LICENSE), which Presidio scores 0.01-0.3
without a context word and which therefore match any long number here.

Scores and threshold. Without an NER/lemma model Presidio's context enhancement is inert (the
blank spaCy pipeline has no lemmas, so no context word ever matches): a span's score is its
pattern's score, 1.0 when a checksum validates, or 0.4 for phone numbers. The default
``score_threshold`` 0.4 keeps validated and "medium" patterns and drops the "very weak" ones
(any 9-digit number as US_SSN at 0.05, "::" as IP at 0.1).

Overlaps. Presidio removes same-type spans contained in a higher-scoring one; spans of
different types may still overlap (an URL inside an e-mail address). Redaction keeps spans by
highest score, then longest, then earliest, then entity name, and drops any span overlapping
one already kept. ``counts`` count the redacted spans.

How it is fast (same spans as ``AnalyzerEngine.analyze``, see ``naive_analyze``). A plain
per-document ``AnalyzerEngine.analyze`` runs at ~0.1-0.4 MB/s per core: spaCy tokenizes every
document, every regex of every recognizer scans all the text (the URL regex alone ~2 MB/s),
and the phone recognizer runs libphonenumber's matcher 8 times (once per region) over the
whole text, parsing every number it meets (~0.6 MB/s). Here (numbers in BENCHMARKS.md, "PII"):

1. No NLP at all. Recognizers are Presidio's own instances (default registry, same flags),
   called directly with ``nlp_artifacts=None``; pattern and phone recognizers do not use NLP
   artifacts, and with a blank model the context enhancer never changes a score, so skipping
   spaCy changes nothing. Thresholding and ``EntityRecognizer.remove_duplicates`` are applied
   as the engine applies them.
2. Batching: the documents are joined with "\\n" and every scan runs once over the batch.
3. Windows instead of whole texts. For each recognizer, the set A of characters its patterns
   can consume is derived from the parsed regexes (literals, classes, lookarounds; compiled
   with the recognizer's own engine and flags). A match lies inside one maximal run of A
   characters, and regex context (``\\b``, look-behind/ahead) reads at most one character
   past the run, so the recognizer finds on "runs plus one character each side" exactly the
   matches it finds on the whole text. "\\n" is in no A: matches never span two documents
   and a "\\n" neighbour behaves like a text boundary. Only runs holding a *trigger* are
   analyzed (all windows of a recognizer joined into one string, one call): a substring
   every match must contain - "@" for e-mail; a run of digits and phone punctuation with
   >= 13 digits for credit cards, 9 for SSN, 4 digits and 3 dots for IPv4; ``[A-Z]{2}[0-9]{2}``
   for IBAN; ... - found by one shared digit-run scan or a few cheap scans, case folding
   spelled out from the ``regex`` module's own sets. Each ``_TRIGGERS`` entry is tied to a
   fingerprint of the recognizer's patterns; on a mismatch (another Presidio version) that
   recognizer scans whole batches instead, exact and slower.
4. Phone numbers. libphonenumber's matcher only reads runs of its candidate pattern's
   characters (digits, phone punctuation, extension words) and one neighbour, so it too runs
   on windows: runs with >= 4 digits, a digit followed by an extension marker, or three "x"
   in a run. Its sequence of candidate attempts does not depend on the region until one
   verifies, so it is recorded once (a matcher subclass whose parse step only records). An
   attempt is then ruled out for a region from libphonenumber's metadata alone: too few
   digits (the shortest valid national number: 4 in DE, 7 in US/CA, ...; country code +
   shortest length when international), or, read as a national number, no national
   significant number that is valid for the country (possible lengths, general and per-type
   patterns, and the national prefix its format requires). The rest get libphonenumber's
   own parse-and-verify, memoised (numbers starting with "+" once for all regions). Only a
   (window, region) with an attempt that verifies is matched for real, by libphonenumber's
   matcher (memoised verdicts reused).
5. ``gc.freeze()`` once the engine is built: the ~10^6 long-lived objects of spaCy, Presidio
   and libphonenumber's metadata made every full collection cost ~60 ms.

Known difference: libphonenumber's matcher gives up after 65,535 failed candidates per text;
here that budget is per window, so on a document with more candidates than that (huge numeric
tables) this can find phone numbers the naive call misses. Checked equal otherwise on ~15,000
texts (the Presidio research set, CC web documents, news articles, Wikipedia talk comments,
Jigsaw comments, sentences in 40 languages) and 16,000 random phone-like strings, for the
default and for all 17 entities, thresholds 0 and 0.4.

Offline: set ``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=""`` before Presidio is imported (done
here unless already set) so the e-mail recognizer's tldextract uses its bundled suffix list.
The reference engine (``naive_analyzer``) uses a blank English spaCy pipeline built in memory
(``spacy.blank("en")``, no download, nothing written to disk); the fast path needs no spaCy
pipeline at all. Engines are built once per process (module-level cache keyed by the config)
and are never pickled: ``PiiRedactor`` and the filter only carry their config.

Layout (each module's docstring says who calls whom; arrows = imports, none point back up)::

    filter.py    PiiPresidio (the registered filter), PiiRedactor, resolve_overlaps, redact_spans
      -> engine.py    get_engine / _FastEngine (points 1, 2, 5), naive_analyzer / naive_analyze
           -> plans.py     _RegexPlan, _PhonePlan (points 3, 4), memoised phone verdicts
                -> triggers.py  character runs, the _TRIGGERS table, the shared digit-run scan
      -> config.py    entity tables, PiiSpan, validate_config (read by all of the above)

Every name importable from ``lmdata.filters.pii`` before the split still is (re-exported here).
Module-level state lives where it is used (``plans._EXTN_FINGERPRINT``, ``plans._PV_CACHE``,
``engine._ENGINES``): patch it there, not on this package.
"""

from __future__ import annotations

from lmdata.filters.pii.config import (
    DEFAULT_ENTITIES,
    DEFAULT_PLACEHOLDER,
    DEFAULT_SCORE_THRESHOLD,
    LANGUAGE,
    NER_ENTITIES,
    SHORT_LABELS,
    SUPPORTED_ENTITIES,
    PiiSpan,
    validate_config,
)
from lmdata.filters.pii.engine import (
    _default_registry,
    _FastEngine,
    _presidio,
    clear_caches,
    get_engine,
    naive_analyze,
    naive_analyzer,
)
from lmdata.filters.pii.filter import PiiPresidio, PiiRedactor, redact_spans, resolve_overlaps
from lmdata.filters.pii.plans import _PhonePlan, _RegexPlan
from lmdata.filters.pii.triggers import _TRIGGERS

__all__ = [
    "DEFAULT_ENTITIES",
    "DEFAULT_PLACEHOLDER",
    "DEFAULT_SCORE_THRESHOLD",
    "LANGUAGE",
    "NER_ENTITIES",
    "SHORT_LABELS",
    "SUPPORTED_ENTITIES",
    "PiiPresidio",
    "PiiRedactor",
    "PiiSpan",
    "_FastEngine",
    "_PhonePlan",
    "_RegexPlan",
    "_TRIGGERS",
    "_default_registry",
    "_presidio",
    "clear_caches",
    "get_engine",
    "naive_analyze",
    "naive_analyzer",
    "redact_spans",
    "resolve_overlaps",
    "validate_config",
]
