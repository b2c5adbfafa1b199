"""Multilingual evaluation / benchmark documents built from real web sentences (issue 17, items 7-8).

    python -m bench.multilingual_corpus --out DIR [--clean 30 --spam 10] [--seed 0] [--format wet]
    python -m bench.multilingual_corpus --out DIR --mb 50          # a resampled WET corpus (bench)

Source: Lingua's language-identification test data (``../shared/data/langid-lingua-testdata/
sentences/<iso639-1>.txt``: ~1,000 Leipzig Wortschatz sentences of arbitrary web pages per
language, Apache-2.0 redistribution; see its PROVENANCE.md), read at build time only.

Kinds of document, per language, all made of that language's own text:

- ``clean``: 3-8 paragraphs of 2-6 consecutive sentences of the file, paragraphs separated by a
  blank line (what WARC main-text extraction produces); one in four uses single newlines. Clean
  documents of one language take disjoint runs of sentences until the file is used up.
- ``repeated_line``: one sentence repeated 10-40 times, one per line.
- ``word_list``: 50-300 words of the language, one per line or separated by ", " / " " (or "、"
  for zh/ja). Words: whitespace tokens with the punctuation stripped; for zh/ja/th (no spaces
  between words) runs of letters cut into 2-4 (zh/ja) or 3-8 (th) character pieces.
- ``menu``: 20-60 lines of 1-3 such words (navigation-menu-like short lines).

One repair of the source text: MediaWiki's language-converter markup ``-{...}-`` (13% of the
Serbian sentences, e.g. ``298 -{m}-``; Leipzig's Serbian comes from Wikipedia's wikitext) is
replaced by its content, as Wikipedia renders it: no reader of a web page sees it, and C4's
curly-bracket rule would drop those pages for an artifact of the corpus, not of the language.

The gold language and kind are in every document's URL: ``http://eval.lmdata/<lang>/<kind>/<n>``
(``parse_url`` reads them back). Output: a local directory laid out like the Common Crawl bucket
(``crawl-data/<crawl>/wet.paths.gz`` + WET files, the layout ``lmdata ingest-cc --source`` and
bench/corpus.py use; records written by bench/corpus.py's FastWARC serialiser) or JSONL.

Deterministic: every language has its own ``random.Random(f"{seed}:{lang}")``, so the same
(seed, counts) gives the same documents and byte-identical files (gzip mtime 0), and adding a
language does not change the others.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench import corpus as cc

DEFAULT_DATA = cc.DEFAULT_DATA
SENTENCES = Path("langid-lingua-testdata") / "sentences"
DEFAULT_SENTENCES = DEFAULT_DATA / SENTENCES  # <iso639-1>.txt, one sentence a line
CRAWL = "CC-MAIN-2099-17"  # not bench/corpus.py's crawl: a lake can hold both
KINDS = ("clean", "repeated_line", "word_list", "menu")
SPAM_KINDS = KINDS[1:]
HOST = "eval.lmdata"
NO_SPACE = {"zh": (2, 4), "ja": (2, 4), "th": (3, 8)}  # languages without spaces between words
JOIN = {"zh": "", "ja": ""}  # sentence joiner inside a paragraph (default " ")
# the bench corpus's mix (clean share of real web text is higher than spam's; spam kinds equal)
BENCH_KIND_WEIGHTS = {"clean": 0.8, "repeated_line": 0.07, "word_list": 0.07, "menu": 0.06}
FILE_MB = 10.0  # MiB of compressed WET per file in the bench corpus (>= 2 files per worker)
BUILDER_VERSION = 1

_URL = re.compile(rf"^https?://{re.escape(HOST)}/([A-Za-z-]+)/([a-z_]+)/(\d+)$")


@dataclass(frozen=True)
class Doc:
    lang: str  # Lingua's ISO 639-1 code (the sentence file's name)
    kind: str  # one of KINDS
    n: int  # serial within (lang, kind)
    text: str
    variant: str = ""  # how it was laid out (e.g. "blank-line", "newline", "comma")

    @property
    def url(self) -> str:
        return f"http://{HOST}/{self.lang}/{self.kind}/{self.n}"


def parse_url(url: str) -> tuple[str, str, int] | None:
    """(lang, kind, n) of a document URL built here, else None."""
    m = _URL.match(url or "")
    return (m.group(1), m.group(2), int(m.group(3))) if m else None


# --------------------------------------------------------------------------- the real text


#: MediaWiki LanguageConverter markup ("-{Henry Cursham}-" renders as "Henry Cursham")
_WIKI_CONVERTER = re.compile(r"-\{([^{}]*)\}-")


def available_languages(sent_dir: Path = DEFAULT_SENTENCES) -> list[str]:
    return sorted(p.stem for p in Path(sent_dir).glob("*.txt"))


def load_sentences(sent_dir: Path = DEFAULT_SENTENCES,
                   langs: list[str] | None = None) -> dict[str, list[str]]:  # fmt: skip
    """lang -> its sentences (one per ``\\n``-terminated line, stripped, non-empty), file order."""
    out = {}
    for lang in langs or available_languages(sent_dir):
        p = Path(sent_dir) / f"{lang}.txt"
        text = _WIKI_CONVERTER.sub(r"\1", p.read_text(encoding="utf-8"))
        lines = [" ".join(x.split()) for x in text.split("\n")]
        out[lang] = [x for x in lines if x]
        if not out[lang]:
            raise ValueError(f"{p}: no sentences")
    return out


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM"


def _segmented_words(lang: str, sentences: list[str]) -> list[str] | None:
    """The letter-bearing words lmdata's segmenter finds (None: not a segmented language, or
    the segmenter is not installed)."""
    if lang not in NO_SPACE:
        return None
    try:
        from lmdata.lang import tokenize as tk
        from lmdata.lang.recipes import recipe_for

        kind = recipe_for(lang).tokenizer
        seen: dict[str, None] = {}
        for s in sentences:
            for w in tk.words(s, kind):
                if any(_is_letter(c) and not c.isascii() for c in w):
                    seen.setdefault(w)
        return list(seen)
    except ImportError:
        return None


def words_of(lang: str, sentences: list[str], rng: random.Random | None = None) -> list[str]:
    """The language's words in first-seen order, without duplicates.

    Space-delimited scripts: whitespace tokens with leading/trailing non-letters stripped, kept
    when they hold a letter. zh/ja/th: the words of lmdata's segmenter for the language (real
    words, as a keyword list would have them); without it, runs of letters (and combining
    marks) cut into pieces of NO_SPACE[lang] characters (a piece never starts with a combining
    mark).
    """
    rng = rng or random.Random(f"words:{lang}")
    seen: dict[str, None] = {}
    segmented = _segmented_words(lang, sentences)
    if segmented is not None:
        return segmented
    if lang in NO_SPACE:
        lo, hi = NO_SPACE[lang]
        for s in sentences:
            run: list[str] = []
            for ch in s + " ":
                if _is_letter(ch) and not ch.isascii():
                    run.append(ch)
                    continue
                i = 0
                while i < len(run):
                    j = min(len(run), i + rng.randint(lo, hi))
                    while j < len(run) and unicodedata.category(run[j]).startswith("M"):
                        j += 1  # never cut before a combining mark
                    piece = "".join(run[i:j])
                    if len(piece) >= lo:
                        seen.setdefault(piece)
                    i = j
                run = []
    else:
        for s in sentences:
            for tok in s.split():
                a, b = 0, len(tok)
                while a < b and not _is_letter(tok[a]):
                    a += 1
                while b > a and not _is_letter(tok[b - 1]):
                    b -= 1
                w = tok[a:b]
                if w and any(_is_letter(c) for c in w):
                    seen.setdefault(w)
    return list(seen)


# --------------------------------------------------------------------------- documents


class LangDocs:
    """Builds one language's documents from its sentences and its own seeded RNG."""

    def __init__(self, lang: str, sentences: list[str], seed: int) -> None:
        self.lang, self.sents = lang, sentences
        self.rng = random.Random(f"{seed}:{lang}")
        self.words = words_of(lang, sentences, random.Random(f"{seed}:{lang}:words"))
        if len(self.words) < 10:
            raise ValueError(f"{lang}: only {len(self.words)} words in its sentences")
        self.cursor = self.rng.randrange(len(sentences))  # disjoint runs for clean documents
        self.serial: Counter = Counter()
        self.long_sents = [s for s in sentences if len(s) >= 30] or sentences

    def _take(self, k: int, disjoint: bool) -> list[str]:
        n = len(self.sents)
        start = self.cursor if disjoint else self.rng.randrange(n)
        if disjoint:
            self.cursor = (self.cursor + k) % n
        return [self.sents[(start + i) % n] for i in range(k)]

    def clean(self, disjoint: bool = True) -> tuple[str, str]:
        r = self.rng
        joiner = JOIN.get(self.lang, " ")
        sizes = [r.randint(2, 6) for _ in range(r.randint(3, 8))]
        run = self._take(sum(sizes), disjoint)
        paras, i = [], 0
        for k in sizes:
            paras.append(joiner.join(run[i : i + k]))
            i += k
        variant = "newline" if r.random() < 0.25 else "blank-line"
        return ("\n" if variant == "newline" else "\n\n").join(paras), variant

    def repeated_line(self) -> tuple[str, str]:
        r = self.rng
        line = self.long_sents[r.randrange(len(self.long_sents))]
        return "\n".join([line] * r.randint(10, 40)), "repeat"

    def word_list(self) -> tuple[str, str]:
        r = self.rng
        words = [self.words[r.randrange(len(self.words))] for _ in range(r.randint(50, 300))]
        seps = ["\n", ", ", " "] + (["、"] if self.lang in ("zh", "ja") else [])
        sep = r.choice(seps)
        name = {"\n": "one-per-line", ", ": "comma", " ": "space", "、": "ideographic-comma"}
        return sep.join(words), name[sep]

    def menu(self) -> tuple[str, str]:
        r = self.rng
        joiner = "" if self.lang in ("zh", "ja") else " "
        lines = []
        for _ in range(r.randint(20, 60)):
            k = r.randint(1, 3)
            start = r.randrange(len(self.words))
            item = joiner.join(self.words[(start + i) % len(self.words)] for i in range(k))
            lines.append(item[:1].upper() + item[1:])
        return "\n".join(lines), "menu"

    def doc(self, kind: str, disjoint: bool = True) -> Doc:
        if kind == "clean":
            text, variant = self.clean(disjoint)
        elif kind in SPAM_KINDS:
            text, variant = getattr(self, kind)()
        else:
            raise ValueError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        self.serial[kind] += 1
        return Doc(self.lang, kind, self.serial[kind], text, variant)


def eval_docs(sentences: dict[str, list[str]], clean: int = 30, spam: int = 10,
              seed: int = 0) -> list[Doc]:  # fmt: skip
    """The evaluation set: per language ``clean`` clean documents (disjoint sentence runs while
    the file lasts) and ``spam`` documents of each spam kind."""
    docs = []
    for lang in sorted(sentences):
        g = LangDocs(lang, sentences[lang], seed)
        docs += [g.doc("clean") for _ in range(clean)]
        for kind in SPAM_KINDS:
            docs += [g.doc(kind) for _ in range(spam)]
    return docs


def bench_docs(sentences: dict[str, list[str]], seed: int = 0,
               weights: dict[str, float] | None = None):  # fmt: skip
    """An endless, seeded stream of documents for the speed benchmark: language uniform over
    ``sentences``, kind by ``weights`` (BENCH_KIND_WEIGHTS), clean documents from random
    (resampled) sentence runs."""
    weights = weights or BENCH_KIND_WEIGHTS
    kinds, w = list(weights), list(weights.values())
    langs = sorted(sentences)
    gens = {lang: LangDocs(lang, sentences[lang], seed) for lang in langs}
    r = random.Random(f"{seed}:bench")
    while True:
        g = gens[langs[r.randrange(len(langs))]]
        yield g.doc(r.choices(kinds, w)[0], disjoint=False)


# --------------------------------------------------------------------------- output


def write_jsonl(docs, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"url": d.url, "lang": d.lang, "kind": d.kind, "n": d.n,
                                "variant": d.variant, "text": d.text}, ensure_ascii=False) + "\n")  # fmt: skip
    return path


def write_wet(docs, root: Path, seed: int = 0, file_mb: float = FILE_MB,
              max_mb: float | None = None, files: int | None = None) -> dict:  # fmt: skip
    """Write ``docs`` (an iterable) as WET files under ``root`` (the ``ingest-cc --source``).

    ``max_mb``: stop once this many MiB of compressed WET are written (for an endless stream);
    ``files``: spread a finite list over this many files (round robin) instead of ``file_mb``.
    Returns the metadata also written to ``root/corpus.json``.
    """
    rng = random.Random(f"{seed}:wet")
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    seg = f"{4070908800000 + 17 * 1_234_567 + seed % 1000}.00"
    clock = 4110000000.0  # 2100-03-29: a fixed clock, record dates increase
    rel_paths: list[str] = []
    handles: list = []
    sizes: list[int] = []
    counts: Counter = Counter()
    langs: Counter = Counter()
    payload_bytes = 0

    def new_file() -> None:
        j = len(rel_paths)
        name = f"CC-MAIN-21000329000000-21000329030000-{j:05d}.warc.wet.gz"
        rel = f"crawl-data/{CRAWL}/segments/{seg}/wet/{name}"
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        f = open(tmp / rel, "wb")  # noqa: SIM115 - closed below
        rel_paths.append(rel)
        handles.append(f)
        sizes.append(f.write(cc.warcinfo(rng, name, clock)))

    if files:
        for _ in range(files):
            new_file()
    else:
        new_file()
    limit = max_mb * cc.MIB if max_mb else None
    i = 0
    for d in docs:
        clock += 0.5
        payload = d.text.encode("utf-8")
        rec = cc.conversion(rng, d.url, clock, cc.ISO3.get(d.lang, d.lang), payload)
        if files:
            k = i % files
        else:
            k = len(handles) - 1
            if sizes[k] >= file_mb * cc.MIB:
                new_file()
                k += 1
        sizes[k] += handles[k].write(rec)
        payload_bytes += len(payload)
        counts[d.kind] += 1
        langs[d.lang] += 1
        i += 1
        if limit and sum(sizes) >= limit:
            break
    for f in handles:
        f.close()
    crawl_dir = tmp / "crawl-data" / CRAWL
    (crawl_dir / "wet.paths.gz").write_bytes(
        gzip.compress(("\n".join(rel_paths) + "\n").encode(), mtime=0)
    )
    meta = {
        "builder_version": BUILDER_VERSION,
        "crawl": CRAWL,
        "seed": seed,
        "n_files": len(rel_paths),
        "files": rel_paths,
        "conversion_records": i,
        "compressed_bytes": sum(sizes),
        "payload_bytes": payload_bytes,
        "kinds": dict(sorted(counts.items())),
        "languages": dict(sorted(langs.items())),
    }
    (tmp / "corpus.json").write_text(json.dumps(meta, indent=1) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    tmp.replace(root)
    return meta


def build_eval(out: Path, sent_dir: Path = DEFAULT_SENTENCES, langs: list[str] | None = None,
               clean: int = 30, spam: int = 10, seed: int = 0, files: int = 2) -> dict:  # fmt: skip
    docs = eval_docs(load_sentences(sent_dir, langs), clean, spam, seed)
    meta = write_wet(docs, Path(out), seed, files=files)
    meta.update(clean_per_lang=clean, spam_per_kind=spam)
    (Path(out) / "corpus.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def bench_dir(out: Path, mb: float, seed: int) -> Path:
    return Path(out) / f"multilingual-wet-mb{mb:g}-seed{seed}"


def build_bench(mb: float, seed: int = 0, out: Path = cc.DEFAULT_OUT,
                sent_dir: Path = DEFAULT_SENTENCES,
                langs: list[str] | None = None, file_mb: float = FILE_MB, force: bool = False,
                log=print) -> Path:  # fmt: skip
    """Build (or reuse) the speed benchmark's corpus: >= ``mb`` MiB of compressed WET."""
    if not mb > 0:
        raise ValueError(f"corpus size must be > 0 MiB, got {mb!r}")
    root = bench_dir(out, mb, seed)
    done = root / "corpus.json"
    langs = sorted(langs or available_languages(sent_dir))
    if done.exists() and not force:
        meta = json.loads(done.read_text())
        if meta.get("builder_version") == BUILDER_VERSION and meta.get("langs") == langs:
            return root
    t0 = time.time()
    # file size: at least 2 files even for a small corpus (file-parallel peers use 2 workers)
    fmb = min(file_mb, mb / 2)
    meta = write_wet(bench_docs(load_sentences(sent_dir, langs), seed), root, seed, file_mb=fmb,
                     max_mb=mb)  # fmt: skip
    meta.update(mb=mb, file_mb=fmb, langs=langs, build_seconds=round(time.time() - t0, 1))
    done.write_text(json.dumps(meta, indent=1) + "\n")
    log(f"built {root}: {meta['n_files']} files, {meta['compressed_bytes'] / cc.MIB:.1f} MiB, "
        f"{meta['conversion_records']:,} records ({meta['build_seconds']} s)")  # fmt: skip
    return root


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.multilingual_corpus",
                                description=__doc__.split("\n")[0])  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="output directory (or .jsonl file)")
    p.add_argument(
        "--sentences",
        type=Path,
        default=DEFAULT_SENTENCES,
        help="directory of <iso639-1>.txt sentence files (Lingua's test data)",
    )
    p.add_argument("--langs", default="", help="comma list of ISO 639-1 codes (default: all)")
    p.add_argument("--clean", type=int, default=30, help="clean documents per language")
    p.add_argument("--spam", type=int, default=10, help="documents per spam kind per language")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=("wet", "jsonl"), default="wet")
    p.add_argument("--mb", type=float, help="bench corpus: MiB of compressed WET (resampled mix)")
    a = p.parse_args(argv)
    langs = [x for x in a.langs.split(",") if x] or None
    if a.mb:
        root = build_bench(a.mb, a.seed, a.out, a.sentences, langs)
        print(root)
        return 0
    if a.format == "jsonl":
        docs = eval_docs(load_sentences(a.sentences, langs), a.clean, a.spam, a.seed)
        print(write_jsonl(docs, a.out), len(docs), "documents")
        return 0
    meta = build_eval(a.out, a.sentences, langs, a.clean, a.spam, a.seed)
    print(f"{a.out}: {meta['conversion_records']} documents in {meta['n_files']} WET files, "
          f"kinds {meta['kinds']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
