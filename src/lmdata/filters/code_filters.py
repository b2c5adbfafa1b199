"""Source-file quality filters after Codex / The Stack / StarCoder (pure: stdlib only).

Score first, decide later (:mod:`lmdata.filters.base`). Code filters also read the file's
metadata (path, language, license class: the columns of a ``bronze/code_files`` row), so they
are :class:`CodeFilter` s: ``score_file(text, meta)`` scores with the metadata, ``score(text)``
without it (path/license scores then take their "nothing known" value). Run a mixed pipeline
over a code row with :func:`apply_code_filters`.

Published rules and where they come from:

- Codex (Chen et al. 2021, arXiv:2107.03374, Sec. 3.1): "We filtered out files which were
  likely auto-generated, had average line length greater than 100, had maximum line length
  greater than 1000, or contained a small percentage of alphanumeric characters."
  CodeParrot (huggingface/transformers ``examples/research_projects/codeparrot``) and The Stack's
  basic filter (bigcode-project/bigcode-dataset ``preprocessing/``) made these concrete:
  ``max_line_length > 1000``, ``mean_line_length > 100``, alphanumeric fraction ``< 0.25``,
  "auto-generated" or similar in the first 5 lines. These are our defaults.
- StarCoder (Li et al. 2023, arXiv:2305.06161, Sec. 3): alphabetic fraction < 25% (we keep it
  as ``min_alpha_fraction``, off by default: alphanumeric is the Codex/Stack rule); XML filter
  (``"<?xml version="`` in the first 100 characters, not for XSLT); JSON/YAML files kept only
  with 50 to 5000 characters (our ``data_file`` rule, extended to CSV/TSV).
- StarCoder2 / The Stack v2 (Lozhkov et al. 2024, arXiv:2402.19173, Sec. 3): files with more
  than 100k lines removed; the long-line rules do not apply to HTML, JSON, Markdown, Roff, TeX,
  Text and XML; encoded-data filter (base64 runs of >= 64, hex byte sequences of >= 8, runs of
  >= 8 ``\\uXXXX`` escapes; drop when one match is longer than 1024 characters or matches cover
  more than 50% of the file). Our hex pattern also accepts ", " between bytes (C arrays).
- The Stack (Kocetkov et al. 2022, arXiv:2211.15533): permissively licensed repositories only
  (:class:`CodeLicense`), files larger than 1 MB excluded (done at ingest, ``max_file_bytes``).
- Vendored code: GitHub Linguist's ``vendor.yml`` spirit (``node_modules/``, ``vendor/``,
  ``third_party/``, ...), as a configurable list of directory names (:class:`CodeVendored`).

Not implemented: StarCoder's HTML visible-text ratio (needs an HTML parser) and go-enry's
generated-file heuristics beyond the header markers.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from lmdata.filters.base import Filter, FilterPipeline, PipelineResult, above, below
from lmdata.filters.registry import register
from lmdata.ingest.languages import DATA_LANGUAGES, WEB_LANGUAGES

# --- shared text statistics (also the bronze/code_files columns) ---------------------------------

_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]+")
_ASCII_NON_ALNUM = bytes(b for b in range(128) if not chr(b).isalnum())
_ASCII_NON_ALPHA = bytes(b for b in range(128) if not chr(b).isalpha())


def _count(text: str, ascii_drop: bytes, pred) -> int:
    """How many characters of ``text`` satisfy ``pred`` (``str.isalnum`` / ``str.isalpha``):
    ASCII via ``bytes.translate`` (C speed), the (usually few) others one by one."""
    n = len(text.encode("ascii", "ignore").translate(None, ascii_drop))
    if not text.isascii():
        n += sum(map(pred, "".join(_NON_ASCII_RE.findall(text))))
    return n


def code_text_stats(text: str) -> dict[str, float | int]:
    """``line_count``, ``max_line_length``, ``mean_line_length``, ``alnum_fraction``, computed
    as CodeParrot / The Stack do (``str.splitlines``; alphanumeric = ``str.isalnum``)."""
    lines = text.splitlines()
    n = len(lines)
    n_chars = len(text)
    alnum = _count(text, _ASCII_NON_ALNUM, str.isalnum) if n_chars else 0
    return {
        "line_count": n,
        "max_line_length": max(map(len, lines)) if n else 0,
        "mean_line_length": (sum(map(len, lines)) / n) if n else 0.0,
        "alnum_fraction": (alnum / n_chars) if n_chars else 0.0,
    }


def _alpha_fraction(text: str) -> float:
    if not text:
        return 0.0
    return _count(text, _ASCII_NON_ALPHA, str.isalpha) / len(text)


# --- base class for filters that read file metadata -------------------------------------------


class CodeFilter(Filter):
    """A filter whose scores may depend on the file's metadata as well as its text.

    ``meta``: a mapping with (any of) ``path``, ``language``, ``license_class`` (a
    ``bronze/code_files`` row works as is).
    """

    @abstractmethod
    def score_file(self, text: str, meta: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Named scores, keys prefixed with ``f"{name}."``."""

    def score(self, text: str) -> dict[str, float]:
        return self.score_file(text, None)

    def score_and_transform(self, text: str) -> tuple[dict[str, float], str]:
        return self.score_file(text, None), text


def apply_code_filters(pipeline: FilterPipeline, row: Mapping[str, Any]) -> PipelineResult:
    """Run ``pipeline`` over one code row: CodeFilters get the row's metadata, the others
    (e.g. ``secrets_v1``) the text; transforms chain as in :meth:`FilterPipeline.apply`."""
    return pipeline.apply(row["text"], row)


# --- starcoder_code_v1 -------------------------------------------------------------------------

AUTOGEN_SCAN_LINES = 5  # CodeParrot's scan_width
AUTOGEN_MARKERS = (
    "auto-generated",
    "autogenerated",
    "automatically generated",
    "generated automatically",
    "do not edit",
    "generated by",
    "code generated",
)
XML_HEADER = "<?xml version="
XML_SCAN_CHARS = 100
# StarCoder2: long-line rules skip these (prose and data formats)
LONG_LINE_EXEMPT_LANGUAGES = frozenset(
    {
        "HTML",
        "JSON",
        "Markdown",
        "Roff",
        "TeX",
        "Text",
        "XML",
        "reStructuredText",
        "SVG",
        "CSV",
        "TSV",
    }
)
_MINIFIED_NAME_RE = re.compile(r"[.-]min\.(?:js|mjs|css)$|\.bundle\.js$", re.I)
MINIFIED_MIN_CHARS = 500
MINIFIED_MEAN_LINE_LENGTH = 200
# StarCoder2 encoded-data patterns
_ENCODED_RES = (
    re.compile(r"[a-zA-Z0-9+/\n=]{64,}"),
    # (the leading look-ahead / literal only make ``re`` skip ahead faster; same matches)
    re.compile(r"(?=[0-9a-fA-F\\])(?:\b(?:0x|\\x)?[0-9a-fA-F]{2}(?:,\s*|\b\s*)){8,}"),
    re.compile(r"\\u[0-9a-fA-F]{4}(?:\\u[0-9a-fA-F]{4}){7,}"),
)
# control characters other than \t \n \v \f \r, plus U+FFFD (decoding damage)
_NONTEXT_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")


def _autogenerated(text: str) -> bool:
    head = "\n".join(text.splitlines()[:AUTOGEN_SCAN_LINES]).lower()
    return any(m in head for m in AUTOGEN_MARKERS)


def _encoded(text: str) -> tuple[int, float]:
    """(longest match, fraction of characters covered by matches) over the three patterns."""
    if len(text) < 64:
        return 0, 0.0
    longest = 0
    covered = 0
    for rx in _ENCODED_RES:
        for m in rx.finditer(text):
            n = m.end() - m.start()
            covered += n
            if n > longest:
                longest = n
    return longest, min(1.0, covered / len(text))


@register
class StarCoderCode(CodeFilter):
    """Codex / The Stack / StarCoder file rules (see the module docstring). Scores:

    - ``size_chars``, ``line_count``, ``max_line_length``, ``mean_line_length``,
      ``alnum_fraction`` (:func:`code_text_stats`), ``alpha_fraction``
    - ``autogenerated``: 1 when a marker ("auto-generated", "autogenerated", "automatically
      generated", "generated automatically", "do not edit", "generated by", "code generated";
      any case) is in the first 5 lines
    - ``nontext_fraction``: control characters (not tab/newline/CR/FF/VT) and U+FFFD per char;
      ``has_nul``: 1 when a NUL character is present (binary data that decoded)
    - ``xml_header``: 1 when ``<?xml version=`` is in the first 100 characters and the language
      is not XSLT
    - ``minified``: 1 for a web language (JS/TS/CSS/HTML/...) file named ``*.min.js`` etc., or
      of >= 500 characters with a mean line length > 200
    - ``encoded_max_match``, ``encoded_fraction``: StarCoder2's encoded-data patterns
    - ``data_file``: 1 for JSON/YAML/CSV/TSV; ``long_line_exempt``: 1 for the languages that
      StarCoder2 exempts from the line-length rules

    Rule order (first hit is the reason): has_nul, nontext_fraction, minified, line_count,
    max_line_length, mean_line_length, alnum_fraction, alpha_fraction, autogenerated,
    xml_header, encoded data, data_file size.
    """

    name = "starcoder_code_v1"
    version = 1
    score_names = (
        "size_chars",
        "line_count",
        "max_line_length",
        "mean_line_length",
        "alnum_fraction",
        "alpha_fraction",
        "autogenerated",
        "nontext_fraction",
        "has_nul",
        "xml_header",
        "minified",
        "encoded_max_match",
        "encoded_fraction",
        "data_file",
        "long_line_exempt",
    )
    default_thresholds: ClassVar[Mapping[str, Any]] = {
        "max_line_length": 1000,  # Codex / The Stack
        "max_mean_line_length": 100,  # Codex / The Stack
        "min_alnum_fraction": 0.25,  # Codex / The Stack
        "min_alpha_fraction": None,  # StarCoder uses 0.25 alphabetic; off by default
        "max_line_count": 100_000,  # StarCoder2
        "exempt_prose_and_data": True,  # StarCoder2: no line-length rules for HTML/JSON/Text...
        "filter_autogenerated": True,  # Codex / CodeParrot
        "filter_nul": True,
        "max_nontext_fraction": 0.01,
        "filter_xml": True,  # StarCoder
        "filter_minified": True,
        "max_encoded_match": 1024,  # StarCoder2
        "max_encoded_fraction": 0.5,  # StarCoder2
        "data_file_min_chars": 50,  # StarCoder (JSON/YAML)
        "data_file_max_chars": 5000,  # StarCoder (JSON/YAML)
    }

    def score_file(self, text: str, meta: Mapping[str, Any] | None = None) -> dict[str, float]:
        meta = meta or {}
        language = meta.get("language") or "unknown"
        path = meta.get("path") or ""
        st = code_text_stats(text)
        n = len(text)
        nontext = len(_NONTEXT_RE.findall(text)) if n else 0
        longest, enc_frac = _encoded(text)
        minified = language in WEB_LANGUAGES and (
            bool(_MINIFIED_NAME_RE.search(path))
            or (n >= MINIFIED_MIN_CHARS and st["mean_line_length"] > MINIFIED_MEAN_LINE_LENGTH)
        )
        k = self.key
        return {
            k("size_chars"): float(n),
            k("line_count"): float(st["line_count"]),
            k("max_line_length"): float(st["max_line_length"]),
            k("mean_line_length"): float(st["mean_line_length"]),
            k("alnum_fraction"): float(st["alnum_fraction"]),
            k("alpha_fraction"): _alpha_fraction(text),
            k("autogenerated"): float(_autogenerated(text)),
            k("nontext_fraction"): nontext / n if n else 0.0,
            k("has_nul"): float("\x00" in text),
            k("xml_header"): float(XML_HEADER in text[:XML_SCAN_CHARS] and language != "XSLT"),
            k("minified"): float(minified),
            k("encoded_max_match"): float(longest),
            k("encoded_fraction"): enc_frac,
            k("data_file"): float(language in DATA_LANGUAGES),
            k("long_line_exempt"): float(language in LONG_LINE_EXEMPT_LANGUAGES),
        }

    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        k = self.key
        if t["filter_nul"] and scores[k("has_nul")]:
            return self.reason("has_nul")
        if above(scores[k("nontext_fraction")], t["max_nontext_fraction"]):
            return self.reason("nontext_fraction")
        if t["filter_minified"] and scores[k("minified")]:
            return self.reason("minified")
        if above(scores[k("line_count")], t["max_line_count"]):
            return self.reason("line_count")
        exempt = t["exempt_prose_and_data"] and scores[k("long_line_exempt")]
        if not exempt:
            if above(scores[k("max_line_length")], t["max_line_length"]):
                return self.reason("max_line_length")
            if above(scores[k("mean_line_length")], t["max_mean_line_length"]):
                return self.reason("mean_line_length")
        if below(scores[k("alnum_fraction")], t["min_alnum_fraction"]):
            return self.reason("alnum_fraction")
        if below(scores[k("alpha_fraction")], t["min_alpha_fraction"]):
            return self.reason("alpha_fraction")
        if t["filter_autogenerated"] and scores[k("autogenerated")]:
            return self.reason("autogenerated")
        if t["filter_xml"] and scores[k("xml_header")]:
            return self.reason("xml_header")
        if above(scores[k("encoded_max_match")], t["max_encoded_match"]) or above(
            scores[k("encoded_fraction")], t["max_encoded_fraction"]
        ):
            return self.reason("encoded_data")
        if scores[k("data_file")]:
            size = scores[k("size_chars")]
            if below(size, t["data_file_min_chars"]) or above(size, t["data_file_max_chars"]):
                return self.reason("data_file")
        return None


# --- code_vendored_v1 ----------------------------------------------------------------------------

DEFAULT_VENDORED_DIRS: tuple[str, ...] = (
    "node_modules",
    "bower_components",
    "jspm_packages",
    "vendor",
    "vendors",
    "third_party",
    "third-party",
    "thirdparty",
    "3rdparty",
    "3rd_party",
    "external",
    "externals",
    "site-packages",
    "dist-packages",
    ".venv",
    "Pods",
    "Carthage",
    "Godeps",
)


@register
class CodeVendored(CodeFilter):
    """``vendored``: 1 when a directory component of the file's path is one of ``dirs``
    (default :data:`DEFAULT_VENDORED_DIRS`, case-sensitive; pass another list to the
    constructor, e.g. from params.yaml). Threshold ``filter_vendored`` (default true).
    Without a path (``score(text)``) the score is 0."""

    name = "code_vendored_v1"
    version = 1
    score_names = ("vendored",)
    default_thresholds: ClassVar[Mapping[str, Any]] = {"filter_vendored": True}

    def __init__(self, dirs: Iterable[str] | None = None) -> None:
        self.dirs = frozenset(DEFAULT_VENDORED_DIRS if dirs is None else dirs)

    def score_file(self, text: str, meta: Mapping[str, Any] | None = None) -> dict[str, float]:
        path = (meta or {}).get("path") or ""
        parts = path.split("/")[:-1]
        return {self.key("vendored"): float(any(p in self.dirs for p in parts))}

    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        if t["filter_vendored"] and scores[self.key("vendored")]:
            return self.reason("vendored")
        return None


# --- code_license_v1 -----------------------------------------------------------------------------


@register
class CodeLicense(CodeFilter):
    """The repository license class as scores (one-hot ``permissive`` / ``copyleft`` /
    ``unknown``, from the row's ``license_class``). The Stack keeps permissive licenses only,
    so by default copyleft and unknown are dropped (reasons ``code_license_v1:copyleft`` /
    ``code_license_v1:unknown``); ``allow_copyleft`` / ``allow_unknown`` switch that off."""

    name = "code_license_v1"
    version = 1
    score_names = ("permissive", "copyleft", "unknown")
    default_thresholds: ClassVar[Mapping[str, Any]] = {
        "allow_copyleft": False,
        "allow_unknown": False,
    }

    def score_file(self, text: str, meta: Mapping[str, Any] | None = None) -> dict[str, float]:
        cls = (meta or {}).get("license_class") or "unknown"
        if cls not in ("permissive", "copyleft"):
            cls = "unknown"
        return {self.key(c): float(c == cls) for c in self.score_names}

    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        if not t["allow_copyleft"] and scores[self.key("copyleft")]:
            return self.reason("copyleft")
        if not t["allow_unknown"] and scores[self.key("unknown")]:
            return self.reason("unknown")
        return None


#: the default order of the code filters (secrets last: it redacts, it does not drop)
DEFAULT_CODE_FILTERS: tuple[str, ...] = (
    "code_license_v1",
    "code_vendored_v1",
    "starcoder_code_v1",
    "secrets_v1",
)
