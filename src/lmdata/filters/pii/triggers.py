"""Where a recognizer's matches can be: character sets, trigger tables and the digit-run scan.

Point 3 of the package docstring. From a recognizer's regexes, ``_atoms`` / ``_CharRuns`` derive
the characters its matches can consume (so windows = maximal runs of them, plus one character
each side); ``_TRIGGERS`` says what every match of a known recognizer contains (checked against a
fingerprint of its patterns), built into scanners by ``_build_trigger``; ``_Digits`` is the one
digit-run scan shared by all recognizers. Pure ``re`` / ``regex`` (phonenumbers only for its
punctuation set); no Presidio import.

Who calls whom: :mod:`.plans` builds each recognizer's plan from these; :mod:`.engine` builds
the shared ``_Digits`` scan. Nothing here calls back up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import NamedTuple

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
