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
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from typing import Any, ClassVar, NamedTuple

from lmdata.errors import ConfigError
from lmdata.filters.base import Filter, above
from lmdata.filters.registry import register

log = logging.getLogger(__name__)

#: English pattern entities of Presidio's default registry (all work offline)
SUPPORTED_ENTITIES: tuple[str, ...] = (
    "CREDIT_CARD",
    "CRYPTO",
    "DATE_TIME",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "MEDICAL_LICENSE",
    "PHONE_NUMBER",
    "UK_NHS",
    "URL",
    "US_BANK_NUMBER",
    "US_DRIVER_LICENSE",
    "US_ITIN",
    "US_PASSPORT",
    "US_SSN",
    "UUID",
)
DEFAULT_ENTITIES: tuple[str, ...] = (
    "CREDIT_CARD",
    "CRYPTO",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
)
#: entities Presidio finds only with an NER model (not available offline)
NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION", "ORGANIZATION", "NRP", "AGE", "ID", "GPE")
#: ``{short}`` in a placeholder: "[{short}]" -> "[EMAIL]"
SHORT_LABELS: Mapping[str, str] = {
    "CREDIT_CARD": "CREDIT_CARD",
    "CRYPTO": "CRYPTO",
    "DATE_TIME": "DATE",
    "EMAIL_ADDRESS": "EMAIL",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP",
    "MAC_ADDRESS": "MAC",
    "MEDICAL_LICENSE": "MEDICAL_LICENSE",
    "PHONE_NUMBER": "PHONE",
    "UK_NHS": "NHS",
    "URL": "URL",
    "US_BANK_NUMBER": "BANK_NUMBER",
    "US_DRIVER_LICENSE": "DRIVER_LICENSE",
    "US_ITIN": "ITIN",
    "US_PASSPORT": "PASSPORT",
    "US_SSN": "SSN",
    "UUID": "UUID",
}
DEFAULT_PLACEHOLDER = "<{entity}>"
DEFAULT_SCORE_THRESHOLD = 0.4
LANGUAGE = "en"


class PiiSpan(NamedTuple):
    entity_type: str
    start: int
    end: int
    score: float


# ---------------------------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------------------------


def validate_config(
    entities: Iterable[str] | None, placeholder: str, score_threshold: float
) -> tuple[tuple[str, ...], str, float]:
    """Normalized ``(entities, placeholder, score_threshold)``; ConfigError naming the key."""
    if entities is None:
        ents = DEFAULT_ENTITIES
    else:
        if isinstance(entities, str) or not isinstance(entities, Iterable):
            raise ConfigError(f"pii: entities: expected a list of entity names, got {entities!r}")
        ents_list = list(entities)
        if not ents_list:
            raise ConfigError("pii: entities: empty list (leave it out for the defaults)")
        for e in ents_list:
            if not isinstance(e, str):
                raise ConfigError(f"pii: entities: expected entity names, got {e!r}")
            if e in NER_ENTITIES:
                raise ConfigError(
                    f"pii: entities: {e!r} needs an NER model, which is not available offline; "
                    f"pattern entities: {', '.join(SUPPORTED_ENTITIES)}"
                )
            if e not in SUPPORTED_ENTITIES:
                raise ConfigError(
                    f"pii: entities: unknown entity {e!r}; supported: {', '.join(SUPPORTED_ENTITIES)}"
                )
        ents = tuple(sorted(set(ents_list)))
    if not isinstance(placeholder, str):
        raise ConfigError(f"pii: placeholder: expected a format string, got {placeholder!r}")
    try:
        placeholder.format(entity="EMAIL_ADDRESS", short="EMAIL")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"pii: placeholder: {placeholder!r} is not a valid format string with "
            f"{{entity}} / {{short}} ({exc})"
        ) from None
    if (
        isinstance(score_threshold, bool)
        or not isinstance(score_threshold, Real)
        or not 0.0 <= float(score_threshold) <= 1.0
    ):
        raise ConfigError(
            f"pii: score_threshold: expected a number in [0, 1], got {score_threshold!r}"
        )
    return ents, placeholder, float(score_threshold)


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


class PiiRedactor:
    """Detect and redact PII; see the module docstring. Cheap to create and to pickle: the
    engine is built on first use, once per process and config."""

    def __init__(
        self,
        entities: Iterable[str] | None = None,
        placeholder: str = DEFAULT_PLACEHOLDER,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    ) -> None:
        self.entities, self.placeholder, self.score_threshold = validate_config(
            entities, placeholder, score_threshold
        )

    def _engine(self) -> _FastEngine:
        return get_engine(self.entities)

    def analyze_batch(self, texts: Sequence[str]) -> list[list[PiiSpan]]:
        """Per text, the spans Presidio reports (threshold applied, same-type duplicates
        removed), sorted by start."""
        return self._engine().analyze_batch(list(texts), self.score_threshold)

    def analyze(self, text: str) -> list[PiiSpan]:
        return self.analyze_batch([text])[0]

    def redact_batch(self, texts: Sequence[str]) -> list[tuple[str, dict[str, int]]]:
        texts = list(texts)
        return [
            redact_spans(t, s, self.placeholder)
            for t, s in zip(texts, self.analyze_batch(texts), strict=True)
        ]

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """``(redacted text, {entity type: number of redacted spans})``."""
        return self.redact_batch([text])[0]

    def __repr__(self) -> str:
        return (
            f"PiiRedactor(entities={list(self.entities)}, placeholder={self.placeholder!r}, "
            f"score_threshold={self.score_threshold})"
        )


def resolve_overlaps(spans: Iterable[PiiSpan]) -> list[PiiSpan]:
    """Non-overlapping spans, sorted by start: highest score, then longest, then earliest,
    then entity name wins."""
    kept_starts: list[int] = []
    kept: list[PiiSpan] = []
    for s in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start, s.entity_type)):
        i = bisect.bisect_left(kept_starts, s.start)
        if i > 0 and kept[i - 1].end > s.start:
            continue
        if i < len(kept) and kept[i].start < s.end:
            continue
        kept_starts.insert(i, s.start)
        kept.insert(i, s)
    return kept


def redact_spans(
    text: str, spans: Iterable[PiiSpan], placeholder: str = DEFAULT_PLACEHOLDER
) -> tuple[str, dict[str, int]]:
    """Replace ``spans`` (overlaps resolved first) with ``placeholder.format(entity=, short=)``."""
    kept = resolve_overlaps(spans)
    if not kept:
        return text, {}
    out: list[str] = []
    pos = 0
    for s in kept:
        out.append(text[pos : s.start])
        out.append(placeholder.format(entity=s.entity_type, short=SHORT_LABELS[s.entity_type]))
        pos = s.end
    out.append(text[pos:])
    return "".join(out), dict(Counter(s.entity_type for s in kept))


# ---------------------------------------------------------------------------------------------
# the reference: a plain AnalyzerEngine (blank spaCy pipeline in memory)
# ---------------------------------------------------------------------------------------------

_LOCK = threading.RLock()
_NAIVE: list[Any] = []
_ENGINES: dict[tuple[str, ...], _FastEngine] = {}


def _presidio():
    """Import presidio_analyzer offline-safely (tldextract must not fetch its suffix list)."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    import presidio_analyzer

    return presidio_analyzer


_REGISTRY: list[Any] = []


def _default_registry():
    """Presidio's default recognizer registry for English (built once per process; the
    recognizers are stateless apart from their compiled patterns)."""
    with _LOCK:
        if not _REGISTRY:
            _presidio()
            from presidio_analyzer.recognizer_registry import RecognizerRegistryProvider

            _REGISTRY.append(
                RecognizerRegistryProvider(
                    registry_configuration={"supported_languages": [LANGUAGE]}
                ).create_recognizer_registry()
            )
        return _REGISTRY[0]


def naive_analyzer():
    """A default ``AnalyzerEngine`` (default registry incl. the spaCy recognizer) on a blank
    English spaCy pipeline built in memory: what "Presidio, offline" does out of the box."""
    with _LOCK:
        if not _NAIVE:
            _presidio()
            import spacy
            from presidio_analyzer import AnalyzerEngine
            from presidio_analyzer.nlp_engine import SpacyNlpEngine

            nlp_engine = SpacyNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "blank"}])
            nlp_engine.nlp = {LANGUAGE: spacy.blank(LANGUAGE)}  # loaded: nothing to download
            _NAIVE.append(AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=[LANGUAGE]))
        return _NAIVE[0]


def naive_analyze(
    text: str,
    entities: Iterable[str] | None = None,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
) -> list[PiiSpan]:
    """``AnalyzerEngine.analyze`` on one text, as spans sorted by start (the reference the fast
    path must equal)."""
    ents, _, thr = validate_config(entities, DEFAULT_PLACEHOLDER, score_threshold)
    results = naive_analyzer().analyze(
        text=text, language=LANGUAGE, entities=list(ents), score_threshold=thr
    )
    return _sorted_spans(results)


def _sorted_spans(results) -> list[PiiSpan]:
    return sorted(
        (PiiSpan(r.entity_type, r.start, r.end, float(r.score)) for r in results),
        key=lambda s: (s.start, s.end, s.entity_type, s.score),
    )


# ---------------------------------------------------------------------------------------------
# the fast engine
# ---------------------------------------------------------------------------------------------


def get_engine(entities: Iterable[str] | None = None) -> _FastEngine:
    """The process-wide fast engine for these entities (built on first use)."""
    ents, _, _ = validate_config(entities, DEFAULT_PLACEHOLDER, DEFAULT_SCORE_THRESHOLD)
    engine = _ENGINES.get(ents)
    if engine is None:
        with _LOCK:
            engine = _ENGINES.get(ents)
            if engine is None:
                engine = _ENGINES[ents] = _FastEngine(ents)
                # the ~10^6 long-lived objects of spaCy / Presidio / libphonenumber metadata
                # made every full garbage collection cost ~60 ms; they live as long as the
                # process, so take them out of the collector's scans
                gc.collect()
                gc.freeze()
    return engine


def clear_caches() -> None:
    """Forget built engines and memoised phone verdicts (tests, benchmarks: cold start)."""
    with _LOCK:
        _ENGINES.clear()
        _REGISTRY.clear()
        _PV_CACHE.clear()


# --- character sets --------------------------------------------------------------------------

_ALL_CHARS: list[str] = []
_RE_FLAGS = 2 | 8 | 16 | 32 | 64 | 256  # re.I | re.M | re.S | re.U | re.X | re.A


def _all_chars() -> str:
    """Every code point except surrogates (for computing exact character sets once)."""
    if not _ALL_CHARS:
        _ALL_CHARS.append("".join(map(chr, [*range(0xD800), *range(0xE000, 0x110000)])))
    return _ALL_CHARS[0]


def _class_of(chars: Iterable[str]) -> str:
    """A stdlib-``re`` character class (no flags needed) matching exactly ``chars``."""
    cps = sorted({ord(c) for c in chars})
    if not cps:
        raise ValueError("empty character set")
    parts = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = cps[i], cps[j]
        parts.append(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}")
        i = j + 1
    return "[" + "".join(parts) + "]"


_CLASS_CACHE: dict[tuple[str, str, int], str] = {}


def _chars_matching(engine: str, pattern: str, flags: int) -> str:
    """All single characters ``pattern`` matches with ``engine`` ("re" | "regex") and flags."""
    key = (engine, pattern, flags)
    if key not in _CLASS_CACHE:
        mod = __import__(engine)
        _CLASS_CACHE[key] = "".join(sorted(set(mod.compile(pattern, flags).findall(_all_chars()))))
    return _CLASS_CACHE[key]


def _atoms(pattern: str, flags: int) -> list[str] | None:
    """The single-character atoms (literals, classes, categories, '.') a pattern can consume,
    lookarounds included, as pattern strings; None if the pattern uses anything else (scoped
    inline flags, unknown opcodes) or does not parse with stdlib ``re``'s parser."""
    import re._constants as c
    import re._parser as sre_parse

    try:
        tree = sre_parse.parse(pattern, flags & _RE_FLAGS)  # regex-only flag bits dropped
    except Exception:  # noqa: BLE001 - any parse problem means "no windows for this one"
        return None
    cats = {
        c.CATEGORY_DIGIT: r"\d",
        c.CATEGORY_NOT_DIGIT: r"\D",
        c.CATEGORY_SPACE: r"\s",
        c.CATEGORY_NOT_SPACE: r"\S",
        c.CATEGORY_WORD: r"\w",
        c.CATEGORY_NOT_WORD: r"\W",
    }
    literals: set[str] = set()
    others: set[str] = set()

    def esc(ch: str) -> str:
        return f"\\U{ord(ch):08x}"

    def walk(sub) -> bool:
        for op, av in sub:
            if op is c.LITERAL:
                literals.add(chr(av))
            elif op is c.NOT_LITERAL:
                others.add(f"[^{esc(chr(av))}]")
            elif op is c.ANY:
                others.add(".")
            elif op is c.IN:
                parts = []
                for o, a in av:
                    if o is c.LITERAL:
                        parts.append(esc(chr(a)))
                    elif o is c.RANGE:
                        parts.append(f"{esc(chr(a[0]))}-{esc(chr(a[1]))}")
                    elif o is c.CATEGORY and a in cats:
                        parts.append(cats[a])
                    elif o is c.NEGATE:
                        parts.insert(0, "^")
                    else:
                        return False
                others.add("[" + "".join(parts) + "]")
            elif op is c.SUBPATTERN:
                if av[1] or av[2]:  # scoped inline flags
                    return False
                if not walk(av[3]):
                    return False
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
                if not walk(av[2]):
                    return False
            elif op is c.BRANCH:
                if not all(walk(b) for b in av[1]):
                    return False
            elif op in (c.ASSERT, c.ASSERT_NOT):
                if not walk(av[1]):
                    return False
            elif op is c.ATOMIC_GROUP:
                if not walk(av):
                    return False
            elif op in (c.AT, c.GROUPREF):
                pass  # zero-width / repeats characters already counted
            else:
                return False
        return True

    if not walk(tree):
        return None
    out = sorted(others)
    if literals:
        out.append("[" + "".join(esc(ch) for ch in sorted(literals)) + "]")
    return out


class _CharRuns:
    """Maximal runs of the characters a set of patterns can consume (see module docstring)."""

    def __init__(self, engine: str, atoms: list[str], flags: int) -> None:
        mod = __import__(engine)
        alt = "(?:" + "|".join(atoms) + ")"
        self._one = mod.compile(alt, flags)
        self._run = mod.compile(alt + "+", flags)
        self._member: dict[str, bool] = {}
        self.has_newline = self.member("\n")

    def member(self, ch: str) -> bool:
        m = self._member.get(ch)
        if m is None:
            m = self._member[ch] = self._one.fullmatch(ch) is not None
        return m

    def window(self, text: str, start: int, end: int) -> tuple[int, int]:
        """[start, end) grown to the runs it touches, plus one context character each side."""
        member = self.member
        while start > 0 and member(text[start - 1]):
            start -= 1
        m = self._run.match(text, end)
        if m is not None:
            end = m.end()
        return max(0, start - 1), min(len(text), end + 1)

    def windows(self, text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """The merged windows of ``spans``, in linear time: a span starting inside the last
        window only extends it to the right (that window already holds the whole run of every
        character in it), so a long run with many spans is walked once."""
        out: list[tuple[int, int]] = []
        run = self._run.match
        n = len(text)
        for s, e in sorted(spans):
            if out and s < out[-1][1]:
                if e >= out[-1][1]:
                    m = run(text, e)
                    out[-1] = (out[-1][0], min(n, (m.end() if m is not None else e) + 1))
                continue
            ws, we = self.window(text, s, e)
            if out and ws <= out[-1][1]:
                out[-1] = (out[-1][0], max(we, out[-1][1]))
            else:
                out.append((ws, we))
        return out


def _merge(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    windows.sort()
    out: list[tuple[int, int]] = []
    for s, e in windows:
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


# --- triggers --------------------------------------------------------------------------------


def _fingerprint(recognizer) -> str:
    pats = [(p.name, p.regex, p.score) for p in recognizer.patterns]
    return hashlib.sha1(repr((pats, recognizer.global_regex_flags)).encode()).hexdigest()[:16]


class _Trigger(NamedTuple):
    """What every match of a recognizer contains (see ``_TRIGGERS``)."""

    fingerprint: str  # of the patterns this entry was written for
    min_digits: int | None = None  # digits inside one run of digits + phone punctuation
    min_dots: int = 0  # "." inside that same run
    extra: tuple[str, ...] = ()  # other trigger regexes (``_build_trigger`` names)


#: Why each entry holds (all separators below are phone punctuation: "-", " ", "." included):
#:   CreditCard (4\d{3}|5[0-5]\d{2}|6\d{3}|1\d{3}|3\d{3})[- ]?\d{3,4}[- ]?\d{3,4}[- ]?\d{3,5}: 13 digits
#:   UsSsn: 9 [0-9] with at most two of "- ." between them (all five patterns)
#:   Nhs [0-9]{3}[- ]?[0-9]{3}[- ]?[0-9]{4}: 10; UsItin 9\d{2}[- ]?..[- ]?\d{4}: 9
#:   UsBank [0-9]{8,17}; UsPassport [0-9]{9} | [A-Z][0-9]{8}: 8
#:   MedicalLicense [A-Z][a-zA-Z]\d{7} | [A-Z]9\d{7}: 7
#:   Ip: every IPv4 / IPv4-mapped / IPv4-embedded match holds a dotted quad of [0-9] (4
#:       digits, 3 dots), every IPv6 match "::" or ":<1-4 hex>:" (trigger "ipv6")
#:   Email: "[@]" ("at"); Iban: [A-Z]{2}[0-9]{2} ("iban"); Crypto: (bc1|[13])[...]{25,59}
#:   with no \b ("crypto"); Url: [.](?:<TLD of >= 2 letters>) in every pattern ("url").
_TRIGGERS: dict[str, _Trigger] = {
    "CreditCardRecognizer": _Trigger("a6dd13a662f09692", 13),
    "UsSsnRecognizer": _Trigger("ce7dd6a5891d2979", 9),
    "NhsRecognizer": _Trigger("2706a42bcd44b904", 10),
    "UsItinRecognizer": _Trigger("2a37f532450de60e", 9),
    "UsBankRecognizer": _Trigger("f48a2a371cf03224", 8),
    "UsPassportRecognizer": _Trigger("6efc8eb12c6adf8d", 8),
    "MedicalLicenseRecognizer": _Trigger("12fb8a94168a11f6", 7),
    "IpRecognizer": _Trigger("b003ad7fcee78407", 4, 3, ("ipv6",)),
    "EmailRecognizer": _Trigger("b2490b3a4d9654ce", extra=("at",)),
    "IbanRecognizer": _Trigger("f83397f292a2bcfc", extra=("iban",)),
    "CryptoRecognizer": _Trigger("cee8e7dffbac3556", extra=("crypto",)),
    "UrlRecognizer": _Trigger("1a78b590347982dc", extra=("url",)),
}


class _RegexTrigger:
    def __init__(self, rx) -> None:
        self.rx = rx

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self.rx.finditer(text)]


class _LongRunTrigger:
    """Runs of at least ``length`` characters of ``chars``: on ``text.encode("ascii",
    "replace")`` (one byte per character, so offsets carry over) every ASCII member becomes
    b"a" and every other byte b" " (``bytes.translate``), then a search for b"a" * length -
    several times faster than a regex starting with a character class. Exact when the text
    holds none of the non-ASCII members (checked first; else the plain regex runs)."""

    def __init__(self, chars: str, length: int) -> None:
        import re

        table = bytearray(b" " * 256)
        for ch in chars:
            if ord(ch) < 128:
                table[ord(ch)] = ord("a")
        self.table = bytes(table)
        self.non_ascii = [ch for ch in chars if ord(ch) >= 128]
        self.needle = b"a" * length
        self.fallback = re.compile(f"{_class_of(chars)}{{{length},}}")

    def spans(self, text: str) -> list[tuple[int, int]]:
        if any(ch in text for ch in self.non_ascii):
            return [m.span() for m in self.fallback.finditer(text)]
        raw = text.encode("ascii", "replace").translate(self.table)
        out = []
        find, needle = raw.find, self.needle
        i = find(needle)
        while i >= 0:
            j = raw.find(b" ", i + len(needle))
            j = len(raw) if j < 0 else j
            out.append((i, j))
            i = find(needle, j)
        return out


def _build_trigger(name: str, flags: int):
    """A trigger (``.spans(text)``); case folding spelled out with the ``regex`` module's own
    character sets, so stdlib ``re`` can run the simple ones."""
    import re

    def cls(pattern: str) -> str:
        return _class_of(_chars_matching("regex", pattern, flags))

    if name == "at":
        return _RegexTrigger(re.compile("@"))
    if name == "ipv6":
        h = cls("[0-9A-Fa-f]")
        return _RegexTrigger(re.compile(f":(?::|{h}{{1,4}}:)"))
    if name == "iban":
        import regex

        letter, digit = cls("[A-Z]"), cls("[0-9]")
        return _RegexTrigger(regex.compile(f"{digit}{digit}(?<={letter}{letter}{digit}{digit})"))
    if name == "crypto":  # (bc1|[13])[a-zA-HJ-NP-Z0-9]{25,59}: 26 characters of this set
        chars = _chars_matching("regex", "[13a-zA-HJ-NP-Z0-9]", flags)
        return _LongRunTrigger(chars, 26)
    if name == "url":
        letter = cls("[a-z]")
        return _RegexTrigger(re.compile(f"{cls('[.]')}{letter}{letter}"))
    raise KeyError(name)


class _Digits:
    """The shared digit-run scan: maximal runs of digits separated by phone punctuation with at
    least ``min_digits`` digits. Digits are the ``regex`` module's \\d, a superset of stdlib
    ``re``'s (it knows newer Unicode digits), so the runs cover both engines' digits."""

    def __init__(self, min_digits: int, ext_chars: str | None = None) -> None:
        """``ext_chars``: also report (as ``n == -1``) a digit followed by optional
        ``[ \\xa0\\t,]`` and one of these characters (phone extensions), in the same scan."""
        import re

        import regex
        from phonenumbers import phonenumberutil as pu

        digits = _chars_matching("regex", r"\d", 0)
        if not set(_chars_matching("re", r"\d", 0)) <= set(digits):  # pragma: no cover
            raise RuntimeError("pii: regex's \\d is not a superset of re's")
        punct = _chars_matching("re", "[" + pu._VALID_PUNCTUATION + pu._PLUS_CHARS + "]", re.I)
        self.punct_chars = punct
        self.punct_class = _class_of(punct)
        self.min_digits = max(1, min_digits)
        run = rf"(?:{self.punct_class}*\d){{{self.min_digits - 1},}}"
        if ext_chars:  # one scan: the run alternative is tried first at every digit
            self.regex = regex.compile(rf"\d(?:(?P<run>{run})|[ \xa0\t,]*{_class_of(ext_chars)})")
        else:
            self.regex = regex.compile(rf"\d(?P<run>{run})")
        self._strip = dict.fromkeys(map(ord, digits))

    def hits(self, text: str) -> list[tuple[int, int, int]]:
        """``(start, end, number of digits)`` per run; ``n == -1`` for an extension hit. A
        run hit is maximal: an extension hit only takes a digit whose run is too short."""
        strip, least = self._strip, self.min_digits
        out = []
        for m in self.regex.finditer(text):
            s, e = m.span()
            if m.lastgroup is None:
                out.append((s, e, -1))
            elif e - s <= least:  # nothing but its (at least ``least``) digits
                out.append((s, e, least))
            else:
                g = text[s:e]
                out.append((s, e, len(g) - len(g.translate(strip))))
        return out


# --- plans -----------------------------------------------------------------------------------


class _RegexPlan:
    """One pattern recognizer, run on trigger windows, on the whole batch, or per document."""

    def __init__(self, recognizer) -> None:
        self.rec = recognizer
        self.mode = "doc"  # "windows" | "batch" | "doc"
        self.min_digits: int | None = None
        self.min_dots = 0
        self.triggers: list[Any] = []
        flags = recognizer.global_regex_flags or 0
        atoms: list[str] | None = []
        for p in recognizer.patterns:
            a = _atoms(p.regex, flags)
            if a is None:
                atoms = None
                break
            atoms.extend(a)
        if not atoms:
            log.info("pii: %s: patterns not analysable, scanning per document", recognizer.name)
            return
        self.runs = _CharRuns("regex", sorted(set(atoms)), flags)
        if self.runs.has_newline:
            log.info("pii: %s: patterns can span lines, scanning per document", recognizer.name)
            return
        self.mode = "batch"
        spec = _TRIGGERS.get(type(recognizer).__name__)
        if spec is None:
            return
        if _fingerprint(recognizer) != spec.fingerprint:
            log.warning(
                "pii: %s: patterns differ from the ones the trigger table was written for; "
                "scanning whole batches (exact, slower)",
                recognizer.name,
            )
            return
        self.mode = "windows"
        self.min_digits = spec.min_digits
        self.min_dots = spec.min_dots
        self.triggers = [_build_trigger(name, flags) for name in spec.extra]

    def run(self, big: str, digit_hits, docs: list[str], doc_starts: list[int]) -> list:
        """RecognizerResults with offsets into ``big``."""
        entities = self.rec.supported_entities
        if self.mode == "doc":
            out = []
            for text, start in zip(docs, doc_starts, strict=True):
                for r in self.rec.analyze(text, entities, None):
                    out.append(_shift(r, start))
            return out
        if self.mode == "batch":
            return self.rec.analyze(big, entities, None)
        spans: list[tuple[int, int]] = []
        if self.min_digits is not None:
            dots = self.min_dots
            spans.extend(
                (s, e)
                for s, e, n in digit_hits
                if n >= self.min_digits and (not dots or big.count(".", s, e) >= dots)
            )
        for trig in self.triggers:
            spans.extend(trig.spans(big))
        if not spans:
            return []
        windows = self.runs.windows(big, spans)
        return _run_on_windows(big, windows, lambda t: self.rec.analyze(t, entities, None))


def _shift(r, delta: int):
    from presidio_analyzer import RecognizerResult

    return RecognizerResult(
        r.entity_type,
        r.start + delta,
        r.end + delta,
        r.score,
        analysis_explanation=None,
        recognition_metadata=r.recognition_metadata,
    )


def _run_on_windows(big: str, windows: list[tuple[int, int]], analyze) -> list:
    """``analyze`` once on the windows joined with "\\n"; results mapped back into ``big``."""
    seg_starts = []
    pos = 0
    for s, e in windows:
        seg_starts.append(pos)
        pos += e - s + 1
    joined = "\n".join(big[s:e] for s, e in windows)
    out = []
    for r in analyze(joined):
        i = bisect.bisect_right(seg_starts, r.start) - 1
        out.append(_shift(r, windows[i][0] - seg_starts[i]))
    return out


#: (previous char rejects?, candidate, next char rejects?, region, leniency) -> result of
#: libphonenumber's own parse-and-verify: False, or the parsed number
_PV_CACHE: dict[tuple[bool | None, str, bool | None, str, int], Any] = {}
_PV_CACHE_MAX = 200_000
#: the extension syntax the phone window triggers below were written for
_EXTN_FINGERPRINT = "84a2b96c3e056cdd"


class _PhonePlan:
    """Presidio's PhoneRecognizer (libphonenumber's matcher, once per region) on windows.

    Windows: maximal runs of the characters libphonenumber's candidate pattern can consume,
    plus one character each side (the matcher reads one neighbour of a candidate, and a
    following ":" + 2 digits, which ":" being in the run covers), that contain a candidate
    which can verify. A candidate verifies only with at least ``k_min`` digits, letters
    counting as digits when 3+ ASCII letters make it a vanity number (see ``_k``). Such a
    candidate's digits lie in one run of digits and phone punctuation (shared digit scan),
    or it has an extension (a digit, optional ``[ \\xa0\\t,]``, then the first character of
    an extension marker), or its letters are 3+ "x" (the only ASCII letter in phone
    punctuation) in one run of digits and punctuation. Falls back to the recognizer itself,
    per document, when libphonenumber's internals are not the expected ones."""

    def __init__(self, recognizer) -> None:
        import re

        import phonenumbers
        import regex
        from phonenumbers import phonenumbermatcher as pm
        from phonenumbers import phonenumberutil as pu

        self.rec = recognizer
        self.regions = tuple(recognizer.supported_regions)
        self.leniency = int(recognizer.leniency)
        self.ok = False
        self.k_min = 1
        needed = (
            (pm, "_PATTERN"),
            (pm.PhoneNumberMatcher, "_parse_and_verify"),
            (pm.PhoneNumberMatcher, "_extract_match"),
            (pm.PhoneNumberMatcher, "_is_latin_letter"),
            (pm.PhoneNumberMatcher, "_is_invalid_punctuation_symbol"),
            (pu, "_EXTN_PATTERNS_FOR_MATCHING"),
            (pu, "_VALID_PUNCTUATION"),
            (pu, "_PLUS_CHARS"),
            (pu, "_VALID_START_CHAR_PATTERN"),
            (pu, "_choose_formatting_pattern_for_number"),
            (pu, "_formatting_rule_has_first_group_only"),
        )
        if not all(hasattr(x, a) for x, a in needed) or (
            hashlib.sha1(pu._EXTN_PATTERNS_FOR_MATCHING.encode()).hexdigest()[:16]
            != _EXTN_FINGERPRINT
        ):
            log.warning("pii: unexpected phonenumbers internals; phone numbers per document")
            return
        flags = pm._PATTERN.flags
        atoms = _atoms(pm._PATTERN.pattern, flags)
        if atoms is None:
            return
        self.runs = _CharRuns("re", atoms, flags)
        if self.runs.has_newline:
            return
        digits = _Digits(1)
        ascii_letter = re.compile("[A-Za-z]")
        x_chars = {ch for ch in digits.punct_chars if ascii_letter.match(ch)}
        if not x_chars <= {"x", "X"}:
            return
        self._matcher = pm.PhoneNumberMatcher
        self._normalize_digits = pu.normalize_digits_only
        self._plus = frozenset(pu._PLUS_CHARS)
        self._start_char = pu._VALID_START_CHAR_PATTERN
        self._ascii_letter = ascii_letter
        self._bad: dict[str, bool] = {}
        self.k_nat, self.k_intl = self._digit_bounds(phonenumbers, pu)
        self.k_min = min([self.k_intl, *self.k_nat.values()])
        self.idd = {}
        self._nat: dict[str, dict[str, Any] | None] = {}
        for r in self.regions:
            md = phonenumbers.PhoneMetadata.metadata_for_region(r)
            if md is not None and md.international_prefix:
                self.idd[r] = re.compile(md.international_prefix)
            info = self._national_info(phonenumbers, pu, md)
            if info is not None:  # regions parsed alike (US, CA) share verdicts
                same = [i for i in self._nat.values() if i is not None and i["key"] == info["key"]]
                info = same[0] if same else info
            self._nat[r] = info
        self._choose_format = pu._choose_formatting_pattern_for_number
        self._first_group_only = pu._formatting_rule_has_first_group_only
        self._nat_cache: dict[tuple[str, int, bool], bool] = {}
        self._digits_cache: dict[str, str] = {}
        self._allowed_cache: dict[str, tuple[str, ...]] = {}
        self._ascii_non_digit = re.compile("[^0-9]")
        self._letter = re.compile(r"[^\W\d_]")  # superset of str.isalpha
        self._is_digit_delete = dict.fromkeys(
            i for i in range(0x110000) if not 0xD800 <= i < 0xE000 and chr(i).isdigit()
        )
        # a character an extension needs (libphonenumber's parsing extension pattern, with its
        # IGNORECASE): any letter, or one of , ; # ＃ ~ ～ (each case-folded as re does)
        self._ext_marker = re.compile(
            _class_of(_chars_matching("re", "[,;#＃~～]", flags)) + r"|[^\W\d_]"
        )

        plan = self

        class _Recorder(pm.PhoneNumberMatcher):
            def _extract_match(self, candidate, offset):
                # every attempt made for this candidate is a substring of it, with at most its
                # digit count: none can verify below k_min, so do not explore them
                if plan._k(candidate) < plan.k_min:
                    return None
                return super()._extract_match(candidate, offset)

            def _parse_and_verify(self, candidate, offset):
                self.attempts.append((candidate, offset))
                return None

        class _Memoised(pm.PhoneNumberMatcher):
            """libphonenumber's matcher, skipping parses already known to fail."""

            def _parse_and_verify(self, candidate, offset):
                text = self.text
                p = text[offset - 1] if offset > 0 else ""
                end = offset + len(candidate)
                n = text[end] if end < len(text) else ""
                key = (
                    plan._rejects(p),
                    candidate,
                    plan._rejects(n),
                    plan._cache_region(candidate, self.preferred_region),
                    self.leniency,
                )
                number = _PV_CACHE.get(key)
                if number is False:
                    return None
                if number is None and self.preferred_region not in plan._allowed(candidate):
                    return None
                if number is not None:
                    return pm.PhoneNumberMatch(offset, candidate, number)
                match = super()._parse_and_verify(candidate, offset)
                _PV_CACHE[key] = False if match is None else match.number
                return match

        self._recorder = _Recorder
        self._memoised = _Memoised
        # first characters of the extension markers in _EXTN_PATTERNS_FOR_MATCHING
        # (";ext=", "e?xt...", "ｅ?ｘｔ...", "доб", "anexo", "[xｘ#＃~～]", "int", "ｉｎｔ"),
        # case-folded the way libphonenumber's regex (stdlib re, IGNORECASE) folds them
        self.ext_chars = _chars_matching("re", "[;exｅｘдa#＃~～iｉ]", flags)
        xs = _chars_matching("re", "[x]", flags)
        p_wo_x = _class_of(set(digits.punct_chars) - set(xs))
        # three x in one run of digits and punctuation: found from each "x" (a literal scan)
        # whose next character can continue such a run
        follow = _class_of(
            set(digits.punct_chars) | set(xs) | set(_chars_matching("regex", r"\d", 0))
        )
        self._x_starts = [re.compile(re.escape(x) + f"(?={follow})") for x in xs]
        self._x_run = regex.compile(rf"{_class_of(xs)}(?:(?:{p_wo_x}|\d)*{_class_of(xs)}){{2}}")
        self.ok = True

    def _digit_bounds(self, phonenumbers, pu) -> tuple[dict[str, int], int]:
        """The fewest digits a candidate needs to be valid: per default region when parsed as a
        national number, and for any country when it has "+" or an international prefix.
        From the metadata: a number is valid only if its national significant number's length
        is one of its country's ``general_desc.possible_length``; national prefixes and country
        codes only add digits, except a ``national_prefix_transform_rule`` may insert the
        literal digits it spells. No bound (1) unless leniency >= VALID."""
        import re

        if self.leniency < 1:
            return dict.fromkeys(self.regions, 1), 1
        meta = phonenumbers.PhoneMetadata

        def min_len(cc: int) -> int:
            lens = []
            for region in pu.COUNTRY_CODE_TO_REGION_CODE.get(cc, ()):
                md = meta.metadata_for_region_or_calling_code(cc, region)
                pl = [x for x in (md.general_desc.possible_length if md else ()) if x > 0]
                if not pl:
                    return 1
                lens.append(min(pl))
            return min(lens) if lens else 1

        def added(md) -> int:
            rule = (md.national_prefix_transform_rule or "") if md else ""
            return len(re.findall(r"(?<![\\$])\d", rule))

        k_nat = {}
        for r in self.regions:
            md = meta.metadata_for_region(r)
            k_nat[r] = 1 if md is None else max(1, min_len(md.country_code) - added(md))
        k_intl = min(
            len(str(cc))
            + min_len(cc)
            - added(
                meta.metadata_for_region_or_calling_code(cc, pu.region_code_for_country_code(cc))
            )
            for cc in pu.COUNTRY_CODE_TO_REGION_CODE
        )
        return k_nat, max(1, k_intl)

    _TYPES = (
        "fixed_line",
        "mobile",
        "toll_free",
        "premium_rate",
        "shared_cost",
        "personal_number",
        "voip",
        "pager",
        "uan",
        "voicemail",
    )

    @classmethod
    def _national_info(cls, phonenumbers, pu, md) -> dict[str, Any] | None:
        """What parsing a national number for region ``md`` uses: its country code, national
        prefix pattern and transform rule, the main region's metadata (national prefix and
        formats, for ``_is_national_prefix_present_if_required``), and per region sharing the
        country code (general pattern, possible lengths, [(type pattern, lengths)]). None when
        the metadata is incomplete (then every candidate is parsed)."""
        import re

        if md is None:
            return None
        cc = md.country_code
        regions = []
        for region in pu.COUNTRY_CODE_TO_REGION_CODE.get(cc, ()):
            rmd = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(cc, region)
            desc = rmd.general_desc if rmd is not None else None
            lengths = tuple(x for x in (desc.possible_length if desc else ()) if x > 0)
            if desc is None or not desc.national_number_pattern or not lengths:
                return None
            types = []
            for name in cls._TYPES:
                t = getattr(rmd, name, None)
                if t is not None and t.national_number_pattern:
                    types.append((re.compile(t.national_number_pattern), tuple(t.possible_length)))
            regions.append((re.compile(desc.national_number_pattern), lengths, types))
        main = phonenumbers.PhoneMetadata.metadata_for_region(pu.region_code_for_country_code(cc))
        if not regions or main is None:
            return None
        nfp = md.national_prefix_for_parsing
        main_nfp = main.national_prefix_for_parsing
        return {
            "key": (cc, nfp, md.national_prefix_transform_rule),
            "cc": str(cc),
            "np": re.compile(nfp) if nfp else None,
            "rule": md.national_prefix_transform_rule or None,
            "main_np": re.compile(main_nfp) if main_nfp else None,
            "formats": main.number_format,
            "regions": regions,
            "lengths": frozenset(n for _, lengths, _ in regions for n in lengths),
        }

    def reset_caches(self) -> None:
        self._nat_cache.clear()
        self._digits_cache.clear()
        self._allowed_cache.clear()

    def _national_ok(self, digits: str, region: str, plain: bool) -> bool:
        """False only if no parse of a national candidate (no "+", no international prefix)
        with these ``digits`` can be valid for ``region``'s matcher. libphonenumber's
        ``is_valid_number`` needs the national significant number (NSN) to have a possible
        length of, match the general pattern of, and match one number type of, a region
        sharing the country code; VALID leniency also needs the national prefix when the
        number was read in national format and its format rule requires one.
        ``plain`` candidates (no character that can start an extension: letters , ; # ~) have
        as digits exactly the number's digits, and parsing only strips the country code (if the
        digits start with it) and the national prefix (at most twice, or applies the transform
        rule), so the NSN is one of a few strings; otherwise the number's digits are a prefix
        of ``digits`` (an extension cut off) and, without a transform rule, the NSN is one of
        their substrings."""
        info = self._nat.get(region)
        if info is None:
            return True
        key = (digits, id(info), plain)
        v = self._nat_cache.get(key)
        if v is None:
            if plain:
                v = self._plain_national_ok(digits, info)
            elif info["rule"]:
                v = True
            else:
                v = self._any_valid_substring(digits, info["regions"])
            if len(self._nat_cache) > _PV_CACHE_MAX:
                self._nat_cache.clear()
            self._nat_cache[key] = v
        return v

    def _plain_national_ok(self, digits: str, info: dict[str, Any]) -> bool:
        np_re, rule, cc = info["np"], info["rule"], info["cc"]
        regions = info["regions"]
        if (np_re is None or np_re.match(digits) is None) and not digits.startswith(cc):
            # nothing to strip: the NSN is ``digits``, read in national format
            if len(digits) not in info["lengths"] or not self._valid_nsn(digits, regions):
                return False
            return self._prefix_not_required(digits, digits, info)

        def closure(start: str) -> set[str]:
            out = {start}
            for _ in range(2):  # parse may strip the national prefix twice
                for x in list(out):
                    m = np_re.match(x) if np_re is not None else None
                    if m is None:
                        continue
                    if rule and m.groups() and m.groups()[-1] is not None:
                        out.add(np_re.sub(rule, x, count=1))
                    else:
                        out.add(x[m.end() :])
            return out

        if digits.startswith(cc) and any(
            self._valid_nsn(x, regions) for x in closure(digits[len(cc) :])
        ):
            return True  # read with the country code: no national-prefix requirement
        candidates = [x for x in closure(digits) if self._valid_nsn(x, regions)]
        if not candidates:
            return False
        return any(self._prefix_not_required(digits, x, info) for x in candidates)

    def _prefix_not_required(self, digits: str, nsn: str, info: dict[str, Any]) -> bool:
        """libphonenumber's ``_is_national_prefix_present_if_required`` for input ``digits``
        read in national format as ``nsn``: fine if the input may start with the national
        prefix, else the format rule for ``nsn`` must not require one."""
        main_np = info["main_np"]
        if main_np is not None and main_np.match(digits) is not None:
            return True  # a national prefix may be present
        fmt = self._choose_format(info["formats"], nsn)
        return not (
            fmt is not None
            and fmt.national_prefix_formatting_rule
            and not fmt.national_prefix_optional_when_formatting
            and not self._first_group_only(fmt.national_prefix_formatting_rule)
        )

    @staticmethod
    def _valid_nsn(nsn: str, regions) -> bool:
        n = len(nsn)
        for pattern, lengths, types in regions:
            if n in lengths and pattern.fullmatch(nsn):
                for tp, tl in types:
                    if (not tl or n in tl) and tp.fullmatch(nsn):
                        return True
        return False

    @staticmethod
    def _any_valid_substring(digits: str, regions) -> bool:
        n = len(digits)
        for pattern, lengths, types in regions:
            for length in lengths:
                for i in range(n - length + 1):
                    if pattern.fullmatch(digits, i, i + length) and any(
                        (not tl or length in tl) and tp.fullmatch(digits, i, i + length)
                        for tp, tl in types
                    ):
                        return True
        return False

    def _k(self, c: str) -> int:
        """Digits of candidate ``c``, plus its letters when it has 3+ ASCII letters (then
        libphonenumber maps letters to keypad digits)."""
        k = len(c) - len(c.translate(self._is_digit_delete))
        if len(self._ascii_letter.findall(c)) >= 3:
            k += len(self._letter.findall(c))
        return k

    def _digits(self, c: str) -> str:
        """libphonenumber's ``normalize_digits_only(c)`` (memoised; ASCII fast path)."""
        v = self._digits_cache.get(c)
        if v is None:
            if len(self._digits_cache) > _PV_CACHE_MAX:
                self._digits_cache.clear()
            v = self._digits_cache[c] = (
                self._ascii_non_digit.sub("", c) if c.isascii() else self._normalize_digits(c)
            )
        return v

    def _rejects(self, ch: str) -> bool | None:
        """How the matcher's neighbour check sees ``ch``: None (no neighbour), True (a Latin
        letter, "%" or a currency symbol: reject), False (fine)."""
        if not ch:
            return None
        v = self._bad.get(ch)
        if v is None:
            m = self._matcher
            v = self._bad[ch] = bool(m._is_invalid_punctuation_symbol(ch) or m._is_latin_letter(ch))
        return v

    def _cache_region(self, c: str, region: str) -> str:
        """``region``, or "+" when the candidate's number starts with a plus sign: parsing and
        verifying such a number never reads the default region."""
        m = self._start_char.search(c)
        return "+" if m is not None and m.group() in self._plus else region

    def _verifies(self, p: str, c: str, n: str, region: str) -> bool:
        """libphonenumber's ``_parse_and_verify(c)`` with neighbours ``p`` and ``n``; it reads
        them only through the check above, so the verdict is memoised on that."""
        pb, nb = self._rejects(p), self._rejects(n)
        key = (pb, c, nb, self._cache_region(c, region), self.leniency)
        v = _PV_CACHE.get(key)
        if v is None:
            if len(_PV_CACHE) >= _PV_CACHE_MAX:
                _PV_CACHE.clear()
            pre = p if pb else ""
            text = pre + c + (n if nb else "")
            match = self._matcher(text, region, leniency=self.leniency)._parse_and_verify(
                c, len(pre)
            )
            v = _PV_CACHE[key] = False if match is None else match.number
        return v is not False

    def _allowed(self, c: str) -> tuple[str, ...]:
        """The regions whose matcher might verify candidate ``c`` (memoised; pure in ``c``).
        A region is ruled out when ``c`` has too few digits for the way it would be parsed
        (national, or international with "+" / the region's international prefix) or, when
        national, no valid national significant number (``_national_ok``). Digits: Unicode
        digits, plus letters when 3+ ASCII letters make it a vanity number."""
        allowed = self._allowed_cache.get(c)
        if allowed is None:
            k = len(c) - len(c.translate(self._is_digit_delete))
            ascii_letters = len(self._ascii_letter.findall(c))
            if ascii_letters >= 3:
                k += len(self._letter.findall(c))
            allowed = ()
            if k >= self.k_min:
                digits = self._digits(c)
                intl_any = ascii_letters >= 3 or not self._plus.isdisjoint(c)
                plain = self._ext_marker.search(c) is None
                out = []
                for region in self.regions:
                    kn = self.k_nat.get(region, 1)
                    if k < kn and k < self.k_intl:
                        continue
                    idd = self.idd.get(region)
                    if intl_any or idd is None or idd.match(digits) is not None:
                        ok = k >= min(kn, self.k_intl)
                    else:
                        ok = k >= kn and self._national_ok(digits, region, plain)
                    if ok:
                        out.append(region)
                allowed = tuple(out)
            if len(self._allowed_cache) > _PV_CACHE_MAX:
                self._allowed_cache.clear()
            self._allowed_cache[c] = allowed
        return allowed

    def _regions_to_match(self, attempts, texts, seg_starts) -> dict[int, set[str]]:
        """Window index -> regions for which one of its recorded attempts verifies."""
        todo: dict[int, set[str]] = {}
        for c, off in attempts:
            allowed = self._allowed(c)
            if not allowed:
                continue
            i = bisect.bisect_right(seg_starts, off) - 1
            done = todo.setdefault(i, set())
            for region in allowed:
                if region in done:
                    continue
                w, lo = texts[i], off - seg_starts[i]
                hi = lo + len(c)
                p = w[lo - 1] if lo > 0 else ""
                n = w[hi] if hi < len(w) else ""
                if self._verifies(p, c, n, region):
                    done.add(region)
        return todo

    def run(self, big: str, digit_hits, docs: list[str], doc_starts: list[int]) -> list:
        from presidio_analyzer import EntityRecognizer

        entities = self.rec.supported_entities
        if not self.ok:
            return [
                _shift(r, start)
                for text, start in zip(docs, doc_starts, strict=True)
                for r in self.rec.analyze(text, entities, None)
            ]
        windows = self.runs.windows(big, [(s, e) for s, e, n in digit_hits if n >= self.k_min])
        # extension hits (``n == -1``, from the shared scan) and "x" runs: kept when the
        # window's digit count can reach k_min
        spans = [(s, e) for s, e, n in digit_hits if n == -1]
        x_run = self._x_run.match
        for x_start in self._x_starts:  # literal "x" scans
            for m in x_start.finditer(big):
                xm = x_run(big, m.start())
                if xm is not None:
                    spans.append(xm.span())
        for s, e in self.runs.windows(big, spans):
            if self._k(big[s:e]) >= self.k_min:  # bounds k of every candidate inside
                windows.append((s, e))
        if not windows:
            return []
        windows = _merge(windows)
        texts = [big[s:e] for s, e in windows]
        seg_starts = []
        pos = 0
        for t in texts:
            seg_starts.append(pos)
            pos += len(t) + 1
        # the attempts do not depend on the region until one verifies (never, here)
        rec = self._recorder("\n".join(texts), self.regions[0], self.leniency, 1 << 62)
        rec.attempts = []
        for _ in rec:
            pass
        out = []
        for i, regions in self._regions_to_match(rec.attempts, texts, seg_starts).items():
            if not regions:
                continue
            w = texts[i]
            results = []
            for region in self.regions:  # Presidio's loop, restricted to regions that match
                if region in regions:
                    for match in self._memoised(w, region, leniency=self.leniency):
                        results.append(self.rec._get_recognizer_result(match, w, region, None))
            delta = windows[i][0]
            out.extend(_shift(r, delta) for r in EntityRecognizer.remove_duplicates(results))
        return out


class _FastEngine:
    """The configured recognizers of Presidio's default registry, run as described above."""

    def __init__(self, entities: tuple[str, ...]) -> None:
        _presidio()
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer

        registry = _default_registry()
        self.entities = entities
        recognizers = registry.get_recognizers(language=LANGUAGE, entities=list(entities))
        self.plans: list[_RegexPlan | _PhonePlan] = []
        for rec in recognizers:
            if isinstance(rec, PhoneRecognizer):
                self.plans.append(_PhonePlan(rec))
            elif hasattr(rec, "patterns") and not getattr(rec, "deny_list", None):
                self.plans.append(_RegexPlan(rec))
            else:  # pragma: no cover - not in the default English registry
                raise ConfigError(f"pii: entities: no pattern recognizer for {rec.name!r}")
        found = {e for r in recognizers for e in r.supported_entities}
        missing = sorted(set(entities) - found)
        if missing:
            raise ConfigError(f"pii: entities: no recognizer in Presidio's registry for {missing}")
        mins = [p.min_digits for p in self.plans if isinstance(p, _RegexPlan) and p.min_digits]
        phone = [p for p in self.plans if isinstance(p, _PhonePlan) and p.ok]
        mins += [p.k_min for p in phone]
        ext_chars = phone[0].ext_chars if phone else None
        self.digits = _Digits(min(mins), ext_chars) if mins else None

    def reset_caches(self) -> None:
        """Forget memoised phone-number verdicts (benchmarks: measure a cold start)."""
        _PV_CACHE.clear()
        for plan in self.plans:
            if isinstance(plan, _PhonePlan) and plan.ok:
                plan.reset_caches()

    def analyze_batch(self, texts: list[str], score_threshold: float) -> list[list[PiiSpan]]:
        from presidio_analyzer import EntityRecognizer

        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"pii: expected str, got {type(t).__name__}")
        if not texts:
            return []
        big = "\n".join(texts)
        doc_starts = []
        pos = 0
        for t in texts:
            doc_starts.append(pos)
            pos += len(t) + 1
        digit_hits = self.digits.hits(big) if self.digits is not None else []
        per_doc: list[list] = [[] for _ in texts]
        for plan in self.plans:
            for r in plan.run(big, digit_hits, texts, doc_starts):
                if r.score < score_threshold:
                    continue
                d = bisect.bisect_right(doc_starts, r.start) - 1
                per_doc[d].append(_shift(r, -doc_starts[d]))
        return [
            _sorted_spans(EntityRecognizer.remove_duplicates(rs)) if rs else [] for rs in per_doc
        ]


# ---------------------------------------------------------------------------------------------
# the filter
# ---------------------------------------------------------------------------------------------


@register
class PiiPresidio(Filter):
    """PII counts per entity type (+ ``total``) and redaction; see the module docstring.

    Scores: ``<ENTITY>`` = number of redacted spans of that type (0 for types not configured),
    ``total`` = all redacted spans. Threshold ``max_total`` (default None = never drop): drop a
    document with more PII spans than that. Constructor arguments as for :class:`PiiRedactor`.
    """

    name = "pii_presidio_v1"
    version = 1
    score_names = (*SUPPORTED_ENTITIES, "total")
    default_thresholds: ClassVar[Mapping[str, Any]] = {"max_total": None}

    def __init__(
        self,
        entities: Iterable[str] | None = None,
        placeholder: str = DEFAULT_PLACEHOLDER,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    ) -> None:
        self.redactor = PiiRedactor(entities, placeholder, score_threshold)
        self._last: tuple[str, dict[str, float], str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"redactor": self.redactor, "_last": None}

    def _scores(self, counts: Mapping[str, int]) -> dict[str, float]:
        k = self.key
        out = {k(e): float(counts.get(e, 0)) for e in SUPPORTED_ENTITIES}
        out[k("total")] = float(sum(counts.values()))
        return out

    def score_and_transform_batch(self, texts: Sequence[str]) -> list[tuple[dict[str, float], str]]:
        """``score_and_transform`` for many texts at once (the fast path)."""
        return [(self._scores(c), t) for t, c in self.redactor.redact_batch(texts)]

    def score_and_transform(self, text: str) -> tuple[dict[str, float], str]:
        last = self._last
        if last is not None and last[0] == text:
            return dict(last[1]), last[2]
        redacted, counts = self.redactor.redact(text)
        scores = self._scores(counts)
        self._last = (text, scores, redacted)
        return dict(scores), redacted

    def score(self, text: str) -> dict[str, float]:
        return self.score_and_transform(text)[0]

    def transform(self, text: str) -> str:
        return self.score_and_transform(text)[1]

    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        if above(scores[self.key("total")], t["max_total"]):
            return self.reason("total")
        return None
