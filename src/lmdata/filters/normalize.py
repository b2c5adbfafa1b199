"""Text normalization: the formatter step that runs before scoring in ``curate`` (pure module).

Every change is counted per kind (``mojibake``, ``control``, ``zero_width``, ``newline``,
``unicode_form``, ``fullwidth``, ``whitespace``) so the stage stats and the per-document
``norm_changes`` attribute say what was rewritten. Normalization is idempotent:
``normalize(normalize(x)) == normalize(x)`` (a hypothesis property test checks it); the steps run
to a fixed point (at most :data:`MAX_ROUNDS` rounds), because one step can expose work for an
earlier one (removing a zero-width character can join a mojibake sequence or a combining mark).

Steps, in order (each can be switched off):

1. ``ftfy``: mojibake / broken-encoding repair only (ftfy ``fix_encoding`` and friends; quotes,
   ligatures, widths and line breaks are left to the steps below or left alone).
2. ``strip_control``: C0/C1 control characters removed except TAB, LF, CR, FF; CRLF and lone CR
   become LF (``newline``).
3. ``strip_zero_width``: ZERO WIDTH SPACE, WORD JOINER, BOM, MONGOLIAN VOWEL SEPARATOR and SOFT
   HYPHEN removed. ZWJ / ZWNJ are kept: they carry meaning in Persian, Indic scripts and emoji.
4. ``unicode_form``: NFC (default), NFKC, or none.
5. ``fullwidth_punct``: per language (``{zh: true, ja: true}``), for documents in that script
   (Kana => ja, else Han => zh): full-width ASCII letters/digits become half-width, and ASCII
   ``, . ! ? : ;`` right after a CJK character become the full-width form (ja: ``、。！？：；``;
   zh: ``，。！？：；``), swallowing the spaces after it.
6. ``collapse_whitespace``: runs of spaces/tabs (and Unicode spaces, not U+3000) become one space,
   lines are stripped, 3+ newlines become one blank line, the document is stripped. Never for
   code (its defaults in params.yaml keep indentation).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lmdata.errors import ConfigError

MAX_ROUNDS = 4
KINDS = (
    "mojibake",
    "control",
    "newline",
    "zero_width",
    "unicode_form",
    "fullwidth",
    "whitespace",
)

_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_NEWLINE_RE = re.compile(r"\r\n?")
_ZERO_WIDTH_RE = re.compile("[\u200b\u2060\ufeff\u180e\u00ad]")
_HSPACE = " \t\x0c\u00a0\u2000-\u200a\u202f\u205f"
_HSPACE_RUN_RE = re.compile(f"[{_HSPACE}]{{2,}}|[\t\x0c\u00a0\u2000-\u200a\u202f\u205f]")
_LINE_EDGE_RE = re.compile(f"^[{_HSPACE}]+|[{_HSPACE}]+$", re.MULTILINE)
_BLANK_RUN_RE = re.compile(r"\n{3,}")
_KANA_RE = re.compile("[\u3040-\u30ff\u31f0-\u31ff]")
_HAN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_CJK_PUNCT_RE = re.compile(f"(?<=[{_CJK}])([,.!?:;])(?:[ \t]+|(?=[\n{_CJK}])|$)")
_FULLWIDTH_ALNUM_RE = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_PUNCT_MAP = {  # ASCII , . ! ? : ; -> full-width forms (ja: the ideographic comma)
    "zh": dict(zip(",.!?:;", "\uff0c\u3002\uff01\uff1f\uff1a\uff1b", strict=True)),
    "ja": dict(zip(",.!?:;", "\u3001\u3002\uff01\uff1f\uff1a\uff1b", strict=True)),
}


@dataclass(frozen=True)
class NormalizeOptions:
    ftfy: bool = True
    unicode_form: str = "NFC"  # NFC | NFKC | none
    strip_control: bool = True
    strip_zero_width: bool = True
    collapse_whitespace: bool = True
    fullwidth_punct: Mapping[str, bool] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | None) -> NormalizeOptions:
        if cfg is None:
            return cls()
        if isinstance(cfg, NormalizeOptions):
            return cfg
        if not isinstance(cfg, Mapping):
            raise ConfigError(f"normalize: expected a mapping, got {type(cfg).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = set(cfg) - known
        if unknown:
            raise ConfigError(f"normalize: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        opts = cls(**{k: v for k, v in cfg.items() if v is not None or k == "unicode_form"})
        if opts.unicode_form not in ("NFC", "NFKC", "none", None):
            raise ConfigError(
                f"normalize.unicode_form: expected NFC, NFKC or none, got {opts.unicode_form!r}"
            )
        bad = set(opts.fullwidth_punct or {}) - set(_PUNCT_MAP)
        if bad:
            raise ConfigError(
                f"normalize.fullwidth_punct: unsupported languages {sorted(bad)} "
                f"(supported: {sorted(_PUNCT_MAP)})"
            )
        return opts


def _ftfy_config():
    import ftfy

    return ftfy.TextFixerConfig(
        unescape_html=False,
        remove_terminal_escapes=True,
        fix_latin_ligatures=False,
        fix_character_width=False,
        uncurl_quotes=False,
        fix_line_breaks=False,
        remove_control_chars=False,
        normalization=None,
        explain=False,
    )


_FTFY_CFG: list[Any] = []


def _ftfy_fix(text: str) -> str:
    if not _FTFY_CFG:
        _FTFY_CFG.append(_ftfy_config())
    import ftfy

    return ftfy.fix_text(text, _FTFY_CFG[0])


def script_language(text: str) -> str | None:
    """``ja`` when the text has Kana, else ``zh`` when it has Han characters, else None."""
    if _KANA_RE.search(text):
        return "ja"
    if _HAN_RE.search(text):
        return "zh"
    return None


def _halfwidth(m: re.Match) -> str:
    return chr(ord(m.group(0)) - 0xFEE0)


def _round(text: str, o: NormalizeOptions, changes: dict[str, int]) -> str:
    def count(kind: str, n: int) -> None:
        if n:
            changes[kind] = changes.get(kind, 0) + n

    if o.ftfy and not (text.isascii() and "\x1b" not in text):  # ASCII: nothing to repair
        fixed = _ftfy_fix(text)
        if fixed != text:
            count("mojibake", 1)
            text = fixed
    if o.strip_control:
        text, n = _CONTROL_RE.subn("", text)
        count("control", n)
        text, n = _NEWLINE_RE.subn("\n", text)
        count("newline", n)
    if o.strip_zero_width:
        text, n = _ZERO_WIDTH_RE.subn("", text)
        count("zero_width", n)
    if o.unicode_form in ("NFC", "NFKC") and not unicodedata.is_normalized(o.unicode_form, text):
        text = unicodedata.normalize(o.unicode_form, text)
        count("unicode_form", 1)
    if o.fullwidth_punct:
        lang = script_language(text)
        if lang is not None and o.fullwidth_punct.get(lang):
            text, n = _FULLWIDTH_ALNUM_RE.subn(_halfwidth, text)
            count("fullwidth", n)
            table = _PUNCT_MAP[lang]
            text, n = _CJK_PUNCT_RE.subn(lambda m: table[m.group(1)], text)
            count("fullwidth", n)
    if o.collapse_whitespace:
        n_total = 0
        text, n = _LINE_EDGE_RE.subn("", text)
        n_total += n
        text, n = _HSPACE_RUN_RE.subn(" ", text)
        n_total += n
        text, n = _BLANK_RUN_RE.subn("\n\n", text)
        n_total += n
        stripped = text.strip()
        n_total += stripped != text
        text = stripped
        count("whitespace", n_total)
    return text


def normalize(text: str, options: NormalizeOptions | Mapping[str, Any] | None = None) -> str:
    return normalize_counted(text, options)[0]


def normalize_counted(
    text: str, options: NormalizeOptions | Mapping[str, Any] | None = None
) -> tuple[str, dict[str, int]]:
    """``(normalized text, {kind: number of edits})``; kinds without edits are left out."""
    o = NormalizeOptions.from_mapping(options)
    changes: dict[str, int] = {}
    for _ in range(MAX_ROUNDS):
        new = _round(text, o, changes)
        if new == text:
            break
        text = new
    return text, changes


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
