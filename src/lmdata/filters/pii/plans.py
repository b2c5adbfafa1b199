"""How each recognizer runs over a batch: ``_RegexPlan`` (pattern recognizers) and
``_PhonePlan`` (Presidio's PhoneRecognizer on libphonenumber's matcher).

Points 3 and 4 of the package docstring. A plan gets the joined batch and the shared digit-run
hits and returns Presidio ``RecognizerResult`` s with offsets into the batch: on trigger windows
when the trigger table (:mod:`.triggers`) applies, else on the whole batch or per document
(exact, slower). ``_PhonePlan`` is most of this module: it records libphonenumber's candidate
attempts once, rules out (attempt, region) pairs from the metadata, and memoises verdicts
(``_PV_CACHE``).

Who calls whom: :mod:`.engine` (``_FastEngine``) builds one plan per recognizer and calls
``run``; plans call :mod:`.triggers` (character runs, triggers) and Presidio / phonenumbers.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
from typing import Any

from lmdata.filters.pii.triggers import (
    _TRIGGERS,
    _atoms,
    _build_trigger,
    _CharRuns,
    _chars_matching,
    _class_of,
    _Digits,
    _fingerprint,
    _merge,
)

log = logging.getLogger("lmdata.filters.pii")  # the package's logger, as before the split


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
