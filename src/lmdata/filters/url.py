"""``url_v1``: URL and domain block lists (FineWeb's URL filter, datatrove ``URLFilter``).

The cheapest high-precision web filter: it reads only the document's URL (the ``url`` column,
passed as metadata by the curate stage), never the text. Configured in params.yaml; the list
files sit beside the thresholds (each option is a list of files; ``null`` = the shipped default,
``[]`` = none)::

    curate.web.pipeline.url_v1:
      domain_lists: null           # files of domains, one per line (UT1 ``domains`` format)
      url_lists: null              # files of URLs, one per line (UT1 ``urls``: host/path, no scheme)
      banned_word_lists: null      # files of words matched on the URL's tokens
      soft_banned_word_lists: null # files of words: drop when >= soft_banned_word_threshold match
      banned_subword_lists: null   # files of sub-words matched as substrings of the squashed URL
      block_domains: true          # rule switches (re-decidable with `curate --redecide`)
      block_urls: true
      block_banned_words: true
      soft_banned_word_threshold: 2   # datatrove's soft_word_threshold; null = off
      block_banned_subwords: true
      require_url: false           # true: a document without a parseable http(s) URL is dropped

List files: UTF-8, one entry per line, blank lines and lines starting with ``#`` ignored (UT1's
and FineWeb's formats). Matching rules (datatrove's, made Unicode/IDN-safe):

- host: lower-cased, IDNA-decoded to Unicode (``xn--bcher-kva.de`` == ``bücher.de``), trailing dot
  and port dropped; the registered domain is the Public Suffix List's (tldextract's bundled
  snapshot, read offline). A domain entry blocks that host and every host under it: the host and
  each parent down to the registered domain are looked up in one set (datatrove looks up the
  registered domain and the full host only; UT1's lists mean the entry and its subdomains).
- URL entries: compared without scheme, ``www.``, fragment and trailing ``/``, host canonical as
  above, path and query percent-decoded; an entry ``host/a`` also blocks ``host/a/b`` (UT1 /
  squidGuard prefix semantics, at ``/`` boundaries). datatrove compares the raw URL, so UT1's
  scheme-less entries never match there.
- banned / soft-banned words: the decoded URL lower-cased and split on every non-letter/digit
  (Unicode-aware; datatrove splits on ``[^a-zA-Z0-9]``, which cuts non-Latin words apart). A list
  entry is squashed the same way (``"blow job"`` -> ``blowjob``). Scripts written without word
  separators (Chinese, Japanese, Thai) rarely give URL tokens that equal a word: list their terms
  as sub-words.
- sub-words: squashed entry is a substring of the squashed decoded URL (every non-letter/digit
  removed, lower-cased).

Scores (floats): ``has_url`` (1: a parseable http(s) URL), ``domain_hit`` / ``url_hit`` (0/1),
``banned_words`` / ``soft_banned_words`` / ``banned_subwords`` (number of distinct entries
found). String attributes: ``domain`` and ``host`` (Unicode), and ``url_v1.matches`` (JSON
``{rule: [entries]}``, null when nothing matched), which names the entry in the drop reason,
e.g. ``url_v1:domain_blocklist:example.com``; ``curate --redecide`` reads it back, so switching
rules or the soft threshold needs no rescoring (a changed list file does: ``--rescore``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from lmdata.errors import ConfigError
from lmdata.filters.core import Filter
from lmdata.filters.registry import register

#: list kinds -> (option key, the shipped default file or None)
LIST_OPTIONS: dict[str, tuple[str, str | None]] = {
    "domains": ("domain_lists", None),
    "urls": ("url_lists", None),
    "banned_words": ("banned_word_lists", "banned_words.txt"),
    "soft_banned_words": ("soft_banned_word_lists", "soft_banned_words.txt"),
    "banned_subwords": ("banned_subword_lists", "banned_subwords.txt"),
}
OPTIONS = tuple(opt for opt, _ in LIST_OPTIONS.values())
#: rule -> (score name, drop-reason name, threshold switch), in decision order (datatrove's)
RULES = (
    ("domain_hit", "domain_blocklist", "block_domains"),
    ("url_hit", "url_blocklist", "block_urls"),
    ("banned_words", "banned_words", "block_banned_words"),
    ("soft_banned_words", "soft_banned_words", "soft_banned_word_threshold"),
    ("banned_subwords", "banned_subwords", "block_banned_subwords"),
)
DOMAIN_LABEL, HOST_LABEL = "domain", "host"
_NON_WORD = re.compile(r"[\W_]+")  # Unicode-aware: \w covers letters and digits of every script


def squash(text: str) -> str:
    """Lower-cased, every non-letter/digit removed (datatrove's ``normalize``, Unicode-aware)."""
    return _NON_WORD.sub("", text.lower())


def url_tokens(text: str) -> set[str]:
    return {t for t in _NON_WORD.split(text.lower()) if t}


@lru_cache(maxsize=65536)
def canonical_host(host: str) -> str:
    """Lower-case Unicode form of a host: IDNA labels (``xn--``) decoded, UTS #46 mapping for
    non-ASCII hosts (full-width dots and letters), trailing dot dropped. Invalid IDNA labels
    stay as they are (the host is still matched and reported)."""
    host = host.strip().rstrip(".").lower()
    if host.isascii() and "xn--" not in host:
        return host
    import idna  # the IDNA 2008 / UTS #46 library requests and tldextract use

    try:
        return idna.decode(idna.encode(host, uts46=True, transitional=False))
    except (idna.IDNAError, UnicodeError, ValueError):
        return unicodedata.normalize("NFC", host)


@lru_cache(maxsize=1)
def _extractor():
    # the Public Suffix List snapshot bundled with tldextract; no suffix_list_urls and no cache
    # dir = nothing fetched from the network and nothing written to disk
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=65536)
def registered_domain(host: str) -> str:
    """The Public Suffix List's registered domain of a canonical host (``a.b.example.co.uk`` ->
    ``example.co.uk``); the host itself for IP addresses and hosts without a public suffix."""
    ext = _extractor().extract_str(host)
    return ext.top_domain_under_public_suffix or host


@dataclass(frozen=True)
class ParsedUrl:
    host: str  # canonical (see canonical_host), "" when the URL has none
    domain: str
    path: str  # percent-decoded path (+ "?" + query), fragment dropped

    @property
    def key(self) -> str:
        """The form URL list entries are compared in: host without ``www.`` + path, no trailing
        slash."""
        host = self.host[4:] if self.host.startswith("www.") else self.host
        return (host + self.path).rstrip("/")


def parse_url(url: str | None, *, entry: bool = False) -> ParsedUrl | None:
    """``None`` for a missing URL or one without a ``scheme://host``. ``entry``: a list entry,
    which may omit the scheme (UT1's ``urls`` files)."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if "://" not in url:
        if not entry:
            return None
        url = "http://" + url
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if not host:
        return None
    host = canonical_host(unquote(host))
    if not host:
        return None
    path = unquote(parts.path, errors="replace")
    if parts.query:
        path += "?" + unquote(parts.query, errors="replace")
    return ParsedUrl(host, registered_domain(host), path)


def _url_prefixes(key: str) -> Iterable[str]:
    """``host/a/b?q`` -> itself, ``host/a/b``, ``host/a`` (prefixes at ``/`` boundaries)."""
    yield key
    base = key.split("?", 1)[0].rstrip("/")
    if base != key:
        yield base
    while "/" in base:
        base = base.rsplit("/", 1)[0].rstrip("/")
        yield base


def _host_and_parents(host: str, domain: str) -> Iterable[str]:
    """The host, then each parent down to the registered domain (or to the last two labels)."""
    yield host
    labels = host.split(".")
    stop = max(len(domain.split(".")), 1) if host.endswith(domain) else 2
    for i in range(1, len(labels) - stop + 1):
        yield ".".join(labels[i:])


# --- lists ----------------------------------------------------------------------------------------


def read_list(path: str | Path, kind: str) -> set[str]:
    """One list file in UT1 / FineWeb format, normalized for ``kind`` (a key of LIST_OPTIONS).
    ConfigError naming the file (and line) when it cannot be read or an entry is malformed."""
    if kind not in LIST_OPTIONS:
        raise ConfigError(f"url_v1: unknown list kind {kind!r} (known: {', '.join(LIST_OPTIONS)})")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"url_v1: cannot read {LIST_OPTIONS[kind][0]} file {path}: {e}") from e
    return parse_list(text.splitlines(), kind, where=str(path))


def parse_list(lines: Iterable[str], kind: str, *, where: str = "<list>") -> set[str]:
    out: set[str] = set()
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if kind == "domains":
            entry = line.lstrip("*").lstrip(".")
            if any(c.isspace() for c in entry) or "/" in entry:
                raise ConfigError(f"url_v1: {where}:{n}: not a domain: {line!r}")
            out.add(canonical_host(entry))
        elif kind == "urls":
            parsed = parse_url(line, entry=True)
            if parsed is None:
                raise ConfigError(f"url_v1: {where}:{n}: not a URL: {line!r}")
            out.add(parsed.key)
        else:
            word = squash(line)
            if word:
                out.add(word)
    return out


def default_list_path(kind: str) -> Path | None:
    name = LIST_OPTIONS[kind][1]
    if name is None:
        return None
    return Path(str(resources.files("lmdata.filters") / "data" / "url" / name))


@dataclass(frozen=True)
class BlockLists:
    domains: frozenset[str]
    urls: frozenset[str]
    banned_words: frozenset[str]
    soft_banned_words: frozenset[str]
    banned_subwords: tuple[str, ...]  # sorted: the first match is deterministic

    @classmethod
    def load(cls, files: Mapping[str, Sequence[str] | None]) -> BlockLists:
        """``files``: option key -> list of paths (None = the shipped default)."""
        sets: dict[str, set[str]] = {}
        for kind, (opt, _) in LIST_OPTIONS.items():
            paths = files.get(opt)
            if paths is None:
                default = default_list_path(kind)
                paths = [str(default)] if default is not None else []
            sets[kind] = set().union(*(read_list(p, kind) for p in paths)) if paths else set()
        return cls(
            frozenset(sets["domains"]),
            frozenset(sets["urls"]),
            frozenset(sets["banned_words"]),
            frozenset(sets["soft_banned_words"]),
            tuple(sorted(sets["banned_subwords"])),
        )

    def matches(self, p: ParsedUrl) -> dict[str, list[str]]:
        """Every rule that fires on the URL -> the entries it matched (sorted)."""
        found: dict[str, list[str]] = {}
        dom = [h for h in _host_and_parents(p.host, p.domain) if h in self.domains]
        if dom:
            found["domain_blocklist"] = dom[:1]
        url = [k for k in _url_prefixes(p.key) if k in self.urls]
        if url:
            found["url_blocklist"] = url[:1]
        decoded = p.host + p.path
        tokens = url_tokens(decoded)
        hard = sorted(tokens & self.banned_words)
        if hard:
            found["banned_words"] = hard
        soft = sorted(tokens & self.soft_banned_words)
        if soft:
            found["soft_banned_words"] = soft
        # ~150 entries: a C-level substring scan each (~10 us per URL); an Aho-Corasick
        # automaton (pyahocorasick, datatrove's choice) pays off only for thousands of entries
        flat = squash(decoded)
        sub = [w for w in self.banned_subwords if w in flat]
        if sub:
            found["banned_subwords"] = sub
        return found


# --- the filter -----------------------------------------------------------------------------------


@register
class UrlFilter(Filter):
    """Block lists on the document URL; see the module docstring."""

    name = "url_v1"
    version = 1
    score_names = (
        "has_url",
        "domain_hit",
        "url_hit",
        "banned_words",
        "soft_banned_words",
        "banned_subwords",
    )
    default_thresholds: ClassVar[Mapping[str, Any]] = {
        "block_domains": True,
        "block_urls": True,
        "block_banned_words": True,
        "soft_banned_word_threshold": 2,
        "block_banned_subwords": True,
        "require_url": False,
        **dict.fromkeys(OPTIONS),
    }
    #: FilterPipeline builds it with :meth:`from_options` (list files beside the thresholds)
    requires_options: ClassVar[bool] = True
    #: string attributes with one value per site: kept out of the per-label stats of curate
    unbounded_labels: ClassVar[tuple[str, ...]] = (DOMAIN_LABEL, HOST_LABEL, "url_v1.matches")

    def __init__(self, lists: Mapping[str, Sequence[str] | None] | None = None) -> None:
        self.lists = BlockLists.load(lists or {})
        self._keys = {n: self.key(n) for n in (*self.score_names, "matches")}

    @classmethod
    def from_options(cls, overrides: Mapping[str, Any] | None) -> UrlFilter:
        opts = cls.resolve_thresholds(overrides)
        return cls({k: opts[k] for k in OPTIONS})

    # -- scoring -----------------------------------------------------------------------------
    def score_url(self, url: str | None) -> dict[str, Any]:
        """Scores (floats) and the string attributes (``domain``, ``host``, ``url_v1.matches``;
        carried in the same mapping so the pipeline's labels and ``check`` can read them)."""
        k = self._keys
        p = parse_url(url)
        out: dict[str, Any] = dict.fromkeys((k[s] for s in self.score_names), 0.0)
        if p is None:
            return out
        found = self.lists.matches(p)
        out[k["has_url"]] = 1.0
        out[k["domain_hit"]] = float("domain_blocklist" in found)
        out[k["url_hit"]] = float("url_blocklist" in found)
        for s in ("banned_words", "soft_banned_words", "banned_subwords"):
            out[k[s]] = float(len(found.get(s, ())))
        out[DOMAIN_LABEL], out[HOST_LABEL] = p.domain, p.host
        out[k["matches"]] = json.dumps(found, ensure_ascii=False) if found else None
        return out

    def score_file(self, text: str, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.score_url((meta or {}).get("url"))

    def score(self, text: str) -> dict[str, float]:
        return self.score_url(None)  # no URL without metadata: scored as missing

    # -- labels ------------------------------------------------------------------------------
    @classmethod
    def label_keys(cls) -> list[str]:
        return [DOMAIN_LABEL, HOST_LABEL, cls.key("matches")]

    @classmethod
    def labels_from_scores(cls, scores: Mapping[str, Any]) -> dict[str, str]:
        return {k: scores[k] for k in cls.label_keys() if scores.get(k) is not None}

    # -- deciding ----------------------------------------------------------------------------
    def check(self, scores: Mapping[str, Any], t: Mapping[str, Any]) -> str | None:
        if t["require_url"] and not scores[self.key("has_url")]:
            return self.reason("no_url")
        found: dict[str, list[str]] = {}
        raw = scores.get(self.key("matches"))
        if raw:
            try:
                found = json.loads(raw)
            except ValueError:
                found = {}
        for score, rule, switch in RULES:
            value = scores[self.key(score)]
            limit = t[switch]
            if isinstance(limit, bool):
                fires = limit and value > 0
            else:
                fires = limit is not None and value > 0 and value >= limit
            if fires:
                entries = found.get(rule)
                return f"{self.reason(rule)}:{'+'.join(entries)}" if entries else self.reason(rule)
        return None

    @classmethod
    def resolve_thresholds(cls, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """As :meth:`Filter.resolve_thresholds`, plus the list options (null or a list of file
        paths; a single path is accepted)."""
        rest, opts = cls.split_options(overrides, OPTIONS)
        for k, v in opts.items():
            if isinstance(v, str):
                opts[k] = v = [v]
            if v is not None and (
                not isinstance(v, list) or not all(isinstance(p, str) and p for p in v)
            ):
                raise ConfigError(
                    f"filter {cls.name!r}, {k!r}: expected null or a list of file paths, got {v!r}"
                )
        return {**super().resolve_thresholds(rest), **opts}


def reason_family(reason: str) -> str:
    """``url_v1:domain_blocklist:example.com`` -> ``url_v1:domain_blocklist`` (stats keys stay
    few; the entries are in the attributes table); other reasons unchanged."""
    if reason.startswith(UrlFilter.name + ":"):
        return ":".join(reason.split(":", 2)[:2])
    return reason
