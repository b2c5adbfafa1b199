"""Shared fixtures for the CC ingest tests.

Everything damaged is generated here, at test time, from the real fixtures in tests/fixtures/cc
and tests/fixtures/warc-edgecases (no binary blobs to maintain). The helpers parse gzip members
and WARC records with the standard library only, independently of the code under test.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import re
import shutil
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from lmdata.ingest.records import IngestCounters, IngestOptions, iter_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CC = FIXTURES / "cc"
EDGE = FIXTURES / "warc-edgecases"
CRAWL = "CC-MAIN-2024-22"

WET_REL = (
    f"crawl-data/{CRAWL}/segments/1715971057216.39/wet/"
    "CC-MAIN-20240517233122-20240518023122-00000.warc.wet.gz"
)
WET2_REL = (
    f"crawl-data/{CRAWL}/segments/1715971057216.39/wet/"
    "CC-MAIN-20240517233122-20240518023122-00001.warc.wet.gz"
)
WARC_REL = (
    f"crawl-data/{CRAWL}/segments/1715971057216.39/warc/"
    "CC-MAIN-20240517233122-20240518023122-00000.warc.gz"
)


# --- independent gzip / WARC helpers --------------------------------------------------------


def gzip_members(data: bytes) -> list[tuple[int, int, bytes]]:
    """(compressed offset, compressed length, uncompressed bytes) of each gzip member."""
    out = []
    pos = 0
    while pos < len(data):
        d = zlib.decompressobj(31)
        raw = d.decompress(data[pos:])
        used = len(data) - pos - len(d.unused_data)
        assert d.eof, "helper expects complete members"
        out.append((pos, used, raw))
        pos += used
    return out


def split_record(raw: bytes) -> tuple[dict[str, str], bytes]:
    """WARC headers (dict) and block of one uncompressed record (CRLF framing)."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("utf-8").split("\r\n")
    assert lines[0].startswith("WARC/1.")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip()] = v.strip()
    length = int(headers["Content-Length"])
    assert rest[length:] == b"\r\n\r\n"
    return headers, rest[:length]


def warc_record(headers: dict[str, str], block: bytes, content_length: int | None = None) -> bytes:
    h = {k: v for k, v in headers.items() if k != "Content-Length"}
    h["Content-Length"] = str(len(block) if content_length is None else content_length)
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode("utf-8") + block + b"\r\n\r\n"


def gz(*records: bytes) -> bytes:
    """One gzip member per record, like Common Crawl (deterministic: mtime=0)."""
    return b"".join(gzip.compress(r, mtime=0) for r in records)


def http_response(
    body: bytes, content_type: str | None = "text/html; charset=utf-8", status: int = 200
) -> bytes:
    lines = [f"HTTP/1.1 {status} X"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def response_record(url: str, body: bytes, **kw) -> bytes:
    return warc_record(
        {
            "WARC-Type": "response",
            "WARC-Target-URI": url,
            "WARC-Date": "2024-05-18T00:00:00Z",
            "WARC-Record-ID": f"<urn:uuid:{hashlib.md5(url.encode()).hexdigest()}>",
            "Content-Type": "application/http; msgtype=response",
        },
        http_response(body, **kw),
    )


@dataclass
class WetParts:
    data: bytes
    members: list
    info_raw: bytes
    conv_headers: dict
    conv_block: bytes

    def conv(
        self, url: str, block: bytes | None = None, content_length: int | None = None
    ) -> bytes:
        h = dict(self.conv_headers)
        h["WARC-Target-URI"] = url
        h.pop("WARC-Block-Digest", None)  # the test records get their own digest (sha1 fallback)
        return warc_record(h, self.conv_block if block is None else block, content_length)


@pytest.fixture(scope="session")
def wet_parts() -> WetParts:
    data = (CC / "whirlwind.warc.wet.gz").read_bytes()
    members = gzip_members(data)
    headers, block = split_record(members[1][2])
    return WetParts(data, members, members[0][2], headers, block)


# --- running the code under test -------------------------------------------------------------


@dataclass
class Result:
    rows: list
    counters: IngestCounters = field(default_factory=IngestCounters)

    @property
    def docs(self) -> list[dict]:
        return [r for k, r in self.rows if k == "doc"]

    @property
    def rejects(self) -> list[dict]:
        return [r for k, r in self.rows if k == "reject"]

    @property
    def reasons(self) -> list[str]:
        return [r["reason"] for r in self.rejects]


def ingest_bytes(data: bytes, uri: str = "mem://test.warc.gz", **opts) -> Result:
    opts.setdefault("crawl", CRAWL)
    c = IngestCounters()
    rows = list(iter_file(uri, io.BytesIO(data), IngestOptions(**opts), counters=c))
    return Result(rows, c)


def ingest_path(path: Path, **opts) -> Result:
    opts.setdefault("crawl", CRAWL)
    c = IngestCounters()
    with open(path, "rb") as f:
        rows = list(iter_file(str(path), f, IngestOptions(**opts), counters=c))
    return Result(rows, c)


@pytest.fixture(scope="session")
def h() -> SimpleNamespace:
    """The helpers above, as a fixture (test modules never import conftest)."""
    return SimpleNamespace(
        CC=CC,
        EDGE=EDGE,
        CRAWL=CRAWL,
        WET_REL=WET_REL,
        WET2_REL=WET2_REL,
        WARC_REL=WARC_REL,
        gzip_members=gzip_members,
        split_record=split_record,
        warc_record=warc_record,
        gz=gz,
        http_response=http_response,
        response_record=response_record,
        ingest_bytes=ingest_bytes,
        ingest_path=ingest_path,
    )


# --- a Common-Crawl-like tree: local dir, moto S3, HTTP -------------------------------------


@pytest.fixture(scope="session")
def cc_tree(tmp_path_factory, wet_parts) -> Path:
    """<root>/crawl-data/CC-MAIN-2024-22/{wet,warc}.paths.gz + the files they list."""
    root = tmp_path_factory.mktemp("cc-root")
    for rel, src in ((WET_REL, CC / "whirlwind.warc.wet.gz"), (WARC_REL, CC / "whirlwind.warc.gz")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, root / rel)
    # A second WET file: three conversion records in per-record gzip members.
    wp = wet_parts
    second = gz(
        wp.info_raw,
        wp.conv("https://example.org/a"),
        wp.conv("https://example.org/b", "Zweiter Text äöü\n".encode()),
        wp.conv("https://example.org/c", "третий текст\n".encode()),
    )
    (root / WET2_REL).write_bytes(second)
    for fmt, rels in (("wet", [WET_REL, WET2_REL]), ("warc", [WARC_REL])):
        listing = root / f"crawl-data/{CRAWL}/{fmt}.paths.gz"
        listing.write_bytes(gzip.compress(("\n".join(rels) + "\n").encode(), mtime=0))
    return root


@pytest.fixture(scope="session")
def moto_s3(cc_tree):
    """A real moto S3 server on 127.0.0.1 holding the tree in bucket 'commoncrawl'."""
    pytest.importorskip("boto3")
    from support import moto_commoncrawl_bucket

    with moto_commoncrawl_bucket(cc_tree) as endpoint:
        yield endpoint


@dataclass
class HttpServer:
    base: str
    hits: dict


class _Handler(http.server.BaseHTTPRequestHandler):
    root: Path
    hits: dict
    lock = threading.Lock()
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _count(self) -> int:
        with self.lock:
            self.hits[self.path] = self.hits.get(self.path, 0) + 1
            return self.hits[self.path]

    def _send(self, status: int, body: bytes, headers: dict | None = None, cut: int | None = None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if cut is None:
            self.wfile.write(body)
        else:  # drop the connection mid-body
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True

    def do_GET(self):  # noqa: N802 - http.server API
        n = self._count()
        path = self.path.split("?", 1)[0]
        if path.startswith("/always-503/"):
            return self._send(503, b"unavailable")
        flaky = path.startswith("/flaky/")
        if flaky:
            path = path[len("/flaky") :]
        f = (self.root / path.lstrip("/")).resolve()
        if not f.is_file() or self.root not in f.parents:
            return self._send(404, b"not found")
        data = f.read_bytes()
        rng = self.headers.get("Range")
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m:
            start = int(m.group(1))
            return self._send(
                206,
                data[start:],
                {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"},
            )
        return self._send(200, data, cut=len(data) // 2 if flaky and n == 1 else None)


@pytest.fixture(scope="session")
def http_cc(cc_tree):
    hits: dict = {}
    handler = type("Handler", (_Handler,), {"root": cc_tree.resolve(), "hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    host, port = server.server_address[:2]
    yield HttpServer(f"http://{host}:{port}", hits)
    server.shutdown()
    server.server_close()
