"""WARC container reading (framing, gzip members, damage recovery) and HTML main-text extraction.

Why our own framing loop instead of ``fastwarc.warc.ArchiveIterator`` over the whole file:
checked with FastWARC 2.0.0 on generated damage (see tests/unit/ingest/test_bad_inputs.py),

- a gzip member cut in the middle ends the iteration *silently*: the last record is returned with
  a short payload and no error (no way to tell a truncated file from a short one);
- a record whose Content-Length is wrong is returned as if it were fine (its payload runs into the
  next record or stops short) and only the *next* header parse raises ``OSError``; the iterator
  cannot be resumed on a forward-only stream, so all later records are lost;
- LF-only headers (hand-written files such as cc_net's sample) are mis-parsed into one record of
  type ``unknown``, again without an error.

So this module decodes gzip members itself with ``zlib.decompressobj(31)`` (C speed; one Python
call per 32 KiB and per member), which gives the exact compressed offset of every member (= the
CC index offset of a record) and a reliable end-of-member check, and it frames records itself
(WARC version line, header block, Content-Length, CRLFCRLF trailer). Each framed record is then
parsed by FastWARC (``WarcRecord.from_bytes`` + ``parse_http``), which does the WARC/HTTP header
parsing and the chunked / gzip / brotli payload decoding. A bad trailer is repaired by re-framing
the record at the next ``WARC/1.x`` line, so one bad record never costs the rest of the file.

Size (~700 lines, at the project's bar): the byte layer and the framer are one piece (the
framer's resync and salvage read the byte layer's member positions); the HTML helpers at the end
(~150 lines: MIME sniffing, charset decoding, main-text extraction) are the part to move out
when it grows.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import BinaryIO

from lmdata.errors import RecordError

READ_CHUNK = 1 << 20  # raw bytes per read() on the source stream
FEED_CHUNK = 32 << 10  # compressed bytes per inflate call (bounds the unused_data copy)
INFLATE_CHUNK = 1 << 20  # max uncompressed bytes per inflate call (zip-bomb safe)
MAX_HEADER = 64 << 10  # a WARC header block longer than this is garbage

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_HDR_END = re.compile(rb"\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*([0-9]+)[ \t]*\r?$")
_RECORD_ID = re.compile(rb"(?im)^warc-record-id:[ \t]*(\S+)[ \t]*\r?$")
_SYNC = re.compile(rb"\nWARC/1\.[01]\r?\n")


@dataclass
class Frame:
    """One framed WARC record: raw header block (CRLF-normalised) and the record block."""

    offset: int  # compressed offset of the gzip member holding the record start (or raw offset)
    header: bytes
    block: bytes
    record_id: str | None
    salvaged: bool = False  # re-framed after a bad Content-Length


@dataclass
class Problem:
    """Something that could not be read. ``offset`` None = the whole file."""

    reason: str
    message: str
    offset: int | None
    record_id: str | None = None


# --- byte layer: raw stream -> uncompressed bytes with positions ------------------------------


class DecodedInput:
    """Uncompressed, position-tracked view of a plain or multi-member gzip stream.

    Absolute (uncompressed) positions index ``buf`` as ``buf[pos - base]``. When the stream is
    damaged (truncated or corrupt gzip, non-gzip bytes after a member, a failed network read) the
    input *stops* (``fill`` returns False) with ``stop`` set; the framer reports it and calls
    ``resume()``, after which data continues from the next gzip member, if any (a discontinuity).
    """

    def __init__(self, raw: BinaryIO, counters: Counter | None = None) -> None:
        self._raw = raw
        self._counters = counters if counters is not None else Counter()
        self._rbuf = b""
        self._ridx = 0
        self._rpos = 0  # compressed offset of _rbuf[0]
        self._raw_eof = False
        self.buf = bytearray()
        self.base = 0
        self.stop: Problem | None = None
        self._eof = False
        self._d = None  # current zlib decompressor (gzip member in progress)
        self._member_c = 0
        self._members_u: list[int] = []  # uncompressed start of recent members
        self._members_c: list[int] = []  # ... and their compressed start
        self._need_resync = False
        self.raw_total = 0
        head = self._peek_raw(4)
        self.gzip = head.startswith(_GZIP_MAGIC)
        self.zstd = head.startswith(_ZSTD_MAGIC)

    # raw side
    def _read_raw(self) -> bool:
        if self._raw_eof:
            return False
        try:
            chunk = self._raw.read(READ_CHUNK)
        except (RecordError, OSError) as e:
            # Report the start of the gzip member being read (the record that is lost), else
            # the position where the data stopped.
            self._raw_eof = True
            at = self._member_c if self._d is not None else self._rpos + len(self._rbuf)
            reason = e.reason if isinstance(e, RecordError) else "fetch_failed"
            self._set_stop(reason, f"read error at byte {self._rpos + len(self._rbuf)}: {e}", at)
            return False
        if not chunk:
            self._raw_eof = True
            return False
        self.raw_total += len(chunk)
        self._counters["bytes_read"] += len(chunk)
        rest = self._rbuf[self._ridx :]
        self._rpos += self._ridx
        self._rbuf = rest + chunk if rest else chunk
        self._ridx = 0
        return True

    def _peek_raw(self, n: int) -> bytes:
        while len(self._rbuf) - self._ridx < n and self._read_raw():
            pass
        return self._rbuf[self._ridx : self._ridx + n]

    def _set_stop(self, reason: str, message: str, offset: int | None) -> None:
        if self.stop is None:
            self.stop = Problem(reason, message, offset)

    @property
    def uend(self) -> int:
        return self.base + len(self.buf)

    # uncompressed side
    def _produce(self) -> bytes | None:
        if self.stop is not None or self._eof:
            return None
        if not self.gzip:
            if self._ridx < len(self._rbuf) or self._read_raw():
                out = self._rbuf[self._ridx :]
                self._rpos += len(self._rbuf)
                self._rbuf, self._ridx = b"", 0
                return out
            if self.stop is None:
                self._eof = True
            return None
        while True:
            if self._d is None:
                if self._need_resync and not self._resync_gzip():
                    self._eof = True
                    return None
                head = self._peek_raw(2)
                if not head:
                    if self.stop is None:
                        self._eof = True
                    return None
                if head != _GZIP_MAGIC:
                    off = self._rpos + self._ridx
                    self._need_resync = True
                    self._set_stop(
                        "trailing_garbage",
                        f"non-gzip bytes after the gzip member ending at {off}",
                        off,
                    )
                    return None
                self._d = zlib.decompressobj(31)
                self._member_c = self._rpos + self._ridx
                self._members_u.append(self.uend)
                self._members_c.append(self._member_c)
            have_input = self._ridx < len(self._rbuf) or self._read_raw()
            # Without input, an empty feed drains output zlib may still hold back (max_length).
            feed = (
                memoryview(self._rbuf)[self._ridx : self._ridx + FEED_CHUNK] if have_input else b""
            )
            try:
                out = self._d.decompress(feed, INFLATE_CHUNK)
            except zlib.error as e:
                self._set_stop(
                    "corrupt_gzip", f"gzip member at byte {self._member_c}: {e}", self._member_c
                )
                self._d = None
                self._need_resync = True
                self._ridx = max(self._ridx, self._member_c - self._rpos + 1)
                return None
            if self._d.eof:
                self._ridx += len(feed) - len(self._d.unused_data)
                self._d = None
            else:
                self._ridx += len(feed) - len(self._d.unconsumed_tail)
            if out:
                return out
            if not have_input and self._d is not None:
                # Input ended inside a gzip member: the end of the member (CRC32 + ISIZE) was
                # never reached. FastWARC would return the partial data as if it were complete.
                self._set_stop(
                    "truncated_gzip",
                    f"input ended inside the gzip member starting at byte {self._member_c}",
                    self._member_c,
                )
                self._d = None
                return None

    def _resync_gzip(self) -> bool:
        """Skip raw bytes up to the next gzip member header; False at end of input."""
        while True:
            i = self._rbuf.find(b"\x1f\x8b\x08", self._ridx)
            if i >= 0:
                self._ridx = i
                self._need_resync = False
                return True
            keep = max(len(self._rbuf) - 2, self._ridx)
            self._ridx = keep
            if not self._read_raw():
                return False

    def fill(self, upto: int) -> bool:
        """Make ``buf`` reach absolute position ``upto``; False if the input stops before."""
        while self.uend < upto:
            out = self._produce()
            if out is None:
                return False
            self.buf += out
        return True

    def more(self) -> bool:
        """Append at least one more chunk; False at (soft) end of input."""
        out = self._produce()
        if out is None:
            return False
        self.buf += out
        return True

    def resume(self) -> None:
        """Clear a stop; reading continues after the damaged region (next gzip member)."""
        self.stop = None

    def release(self, pos: int) -> None:
        """Forget uncompressed bytes before ``pos`` (amortised)."""
        drop = pos - self.base
        if drop > (4 << 20) or (drop > 0 and drop * 2 > len(self.buf)):
            del self.buf[:drop]
            self.base = pos
        if len(self._members_u) > 64:
            k = bisect.bisect_right(self._members_u, pos) - 1
            if k > 0:
                del self._members_u[:k]
                del self._members_c[:k]

    def coffset(self, upos: int) -> int:
        """Compressed offset of the gzip member holding uncompressed position ``upos``."""
        if not self.gzip:
            return upos
        k = bisect.bisect_right(self._members_u, upos) - 1
        return self._members_c[k] if k >= 0 else 0

    def find(self, pattern: re.Pattern, start: int, limit: int | None) -> re.Match | None:
        """Search ``pattern`` from ``start``, reading more input as needed, keeping all data."""
        while True:
            end = self.uend if limit is None else min(self.uend, limit)
            m = pattern.search(self.buf, start - self.base, end - self.base)
            if m is not None:
                return m
            if limit is not None and self.uend >= limit:
                return None
            if not self.more():
                return None

    def scan_sync(self, start: int, keep: bool, limit: int | None = None) -> int | None:
        """Absolute position of the next ``WARC/1.x`` line at or after ``start``.

        None at the end of the input, at a stop, or when ``limit`` is reached. With
        ``keep=False`` the data scanned over is released (a streaming skip).
        """
        self.fill(start + 8)
        if start >= self.base and self.buf.startswith(b"WARC/1.", start - self.base):
            return start
        pos = max(start, self.base)
        while True:
            end = self.uend if limit is None else min(self.uend, limit)
            m = _SYNC.search(self.buf, pos - self.base, end - self.base)
            if m is not None:
                return self.base + m.start() + 1
            if limit is not None and self.uend >= limit:
                return None
            pos = max(self.uend - 16, pos)
            if not keep:
                self.release(pos)
            if not self.more():
                return None


# --- framer --------------------------------------------------------------------------------


def _record_id(header: bytes) -> str | None:
    m = _RECORD_ID.search(header)
    return m.group(1).decode("latin-1") if m else None


def _normalise_header(header: bytes) -> bytes:
    if header.count(b"\n") != header.count(b"\r\n"):
        header = re.sub(rb"\r?\n", b"\r\n", header)
    return header


def _strip_trailer(block: bytes) -> bytes:
    for t in (b"\r\n\r\n", b"\n\n", b"\r\n", b"\n"):
        if block.endswith(t):
            return block[: -len(t)]
    return block


def iter_frames(stream: BinaryIO, *, max_record_bytes: int, counters: Counter | None = None):
    """Yield :class:`Frame` for every record and :class:`Problem` for everything unreadable.

    Never raises for bad input. A Frame with ``salvaged=True`` directly follows the
    ``bad_content_length`` Problem that describes it.
    """
    counters = counters if counters is not None else Counter()
    inp = DecodedInput(stream, counters)
    if inp.zstd:
        yield Problem("unsupported_format", "zstd-compressed input is not supported", None)
        return
    pos = 0
    seen_record = False  # a complete WARC header was read
    yielded = False

    def resync(frm: int) -> int:
        counters["resyncs"] += 1
        nxt = inp.scan_sync(frm, keep=False)
        return nxt if nxt is not None else max(inp.uend, frm)

    while True:
        # Skip blank lines between records.
        while True:
            if pos >= inp.uend and not inp.more():
                break
            if inp.buf[pos - inp.base] not in (0x0D, 0x0A):
                break
            pos += 1
        inp.release(pos)
        if pos >= inp.uend:
            if inp.stop is not None:  # damage between records (or at the very start)
                yield inp.stop
                yielded = True
                inp.resume()
                pos = resync(inp.uend)
                continue
            if not yielded:
                if inp.raw_total == 0:
                    yield Problem("empty_file", "the input is empty (0 bytes)", None)
                else:
                    yield Problem("empty_file", "the input holds no WARC records", None)
            return
        start = pos
        offset = inp.coffset(start)
        inp.fill(start + 16)
        if not inp.buf.startswith(b"WARC/", start - inp.base):
            if not seen_record:
                head = bytes(inp.buf[start - inp.base : start - inp.base + 32])
                if head.startswith(b"filedesc://"):
                    msg = "ARC file (filedesc:// header); only WARC is supported"
                    yield Problem("unsupported_format", msg, None)
                else:
                    yield Problem("not_warc", f"does not start with a WARC record: {head!r}", None)
                return
            yield Problem(
                "bad_record_header",
                f"expected a WARC/1.x version line at uncompressed byte {start}",
                offset,
            )
            yielded = True
            pos = resync(start + 1)
            continue
        m = inp.find(_HDR_END, start, start + MAX_HEADER)
        if m is None:  # no end of the header block: stop, end of input or garbage
            yielded = True
            if inp.stop is not None:
                stop = inp.stop
                yield Problem(stop.reason, f"record cut short: {stop.message}", offset)
                inp.resume()
                pos = resync(inp.uend)
                continue
            if not seen_record:
                yield Problem("not_warc", "no complete WARC header at the start of the input", None)
                return
            if inp.uend >= start + MAX_HEADER:
                yield Problem("bad_record_header", "WARC header block too long", offset)
                pos = resync(start + 1)
                continue
            yield Problem("truncated_record", "input ended inside a WARC header block", offset)
            return
        hdr_end = inp.base + m.end()
        header = bytes(inp.buf[start - inp.base : hdr_end - inp.base])
        rid = _record_id(header)
        counters["records_seen"] += 1
        cl_m = _CONTENT_LENGTH.search(header)
        if cl_m is None or not header.startswith(b"WARC/1."):
            if not seen_record:
                yield Problem("not_warc", f"no valid WARC/1.x header: {header[:24]!r}", None)
                return
            yield Problem(
                "bad_record_header", "WARC header without a valid Content-Length", offset, rid
            )
            yielded = True
            pos = resync(start + 1)
            continue
        seen_record = True
        yielded = True
        length = int(cl_m.group(1))
        body_start = hdr_end
        body_end = body_start + length
        if length > max_record_bytes:
            # Stream over the block without buffering it, remembering (and keeping the data
            # from) the first WARC/1.x line inside it: if the input ends before the declared
            # end, the length was wrong and reading resumes there instead of losing the rest.
            end, nxt = _skip_block(inp, body_start, body_end, max_record_bytes)
            if end >= body_end:
                msg = f"record block of {length} bytes exceeds max_record_bytes={max_record_bytes}"
                yield Problem("oversized_record", msg, offset, rid)
                pos = body_end
                continue
            if nxt is not None:
                yield Problem(
                    "bad_content_length",
                    f"Content-Length {length} runs past the end of the input; the next record "
                    f"starts {nxt - body_start} bytes into the block; record dropped",
                    offset,
                    rid,
                )
                pos = nxt
                continue
            if inp.stop is not None:
                stop = inp.stop
                yield Problem(stop.reason, f"record cut short: {stop.message}", offset, rid)
                inp.resume()
                pos = resync(inp.uend)
                continue
            msg = f"input ended inside a record block of {length} bytes (> max_record_bytes)"
            yield Problem("truncated_record", msg, offset, rid)
            return
        if not inp.fill(body_end):
            if inp.stop is not None:
                stop = inp.stop
                yield Problem(stop.reason, f"record cut short: {stop.message}", offset, rid)
                inp.resume()
                pos = resync(inp.uend)
                continue
            # The input ended inside the block: a too-long Content-Length if another record
            # starts inside it, else a truncated file.
            nxt = inp.scan_sync(body_start, keep=True, limit=inp.uend)
            if nxt is None:
                yield Problem(
                    "truncated_record",
                    f"input ended {body_end - inp.uend} bytes before the end of the record "
                    f"block (Content-Length {length})",
                    offset,
                    rid,
                )
                return
            yield from _salvage(inp, header, body_start, nxt, length, offset, rid, counters)
            pos = nxt
            continue
        ok = _trailer_ok(inp, body_end, lf_only=b"\r\n" not in header)
        if ok:
            pos = body_end
            block = bytes(inp.buf[body_start - inp.base : body_end - inp.base])
            yield Frame(offset, _normalise_header(header), block, rid)
            continue
        # Bad Content-Length: re-frame at the next WARC/1.x line (inside the block when the
        # length was too long, after it when too short), keeping at most max_record_bytes.
        limit = body_start + max_record_bytes + 16
        nxt = inp.scan_sync(body_start, keep=True, limit=limit)
        if nxt is None and inp.stop is None and inp.uend < limit:
            nxt = inp.uend  # the record runs to the end of the input
        if nxt is None:
            yield Problem(
                "bad_content_length",
                f"Content-Length {length} does not end the record and no next record follows "
                "within max_record_bytes; record dropped",
                offset,
                rid,
            )
            pos = resync(body_start)
            continue
        yield from _salvage(inp, header, body_start, nxt, length, offset, rid, counters)
        pos = nxt


def _trailer_ok(inp: DecodedInput, body_end: int, lf_only: bool) -> bool:
    """Does the record block end at ``body_end``?

    Yes if CRLFCRLF follows (the spec; whatever comes after it is the next record's problem),
    or LFLF in a record whose header uses bare LF line ends, followed by a ``WARC/`` line or the
    end of the input. A trailer cut short by the end of the input is accepted too. Anything
    else (even one byte off) means a wrong Content-Length; the caller re-frames the record.
    """
    inp.fill(body_end + 9)
    i = body_end - inp.base
    if inp.buf.startswith(b"\r\n\r\n", i):
        return True
    if inp.buf.startswith(b"\n\n", i) and lf_only:
        return inp.buf.startswith(b"WARC/", i + 2) or inp.uend <= body_end + 2
    # A shorter trailer at the very end of the input is harmless.
    tail = bytes(inp.buf[i:])
    return inp.uend < body_end + 4 and tail.strip(b"\r\n") == b""


def _salvage(inp, header, body_start, nxt, length, offset, rid, counters):
    """Re-frame a record whose Content-Length was wrong as [body_start, nxt) minus the trailer."""
    counters["resyncs"] += 1
    block = _strip_trailer(bytes(inp.buf[body_start - inp.base : nxt - inp.base]))
    yield Problem(
        "bad_content_length",
        f"declared Content-Length {length}, but the record block is {len(block)} bytes "
        "(re-framed at the next record; document salvaged)",
        offset,
        rid,
    )
    header = _CONTENT_LENGTH.sub(b"Content-Length: %d\r" % len(block), header, count=1)
    yield Frame(offset, _normalise_header(header), block, rid, salvaged=True)


def _skip_block(inp: DecodedInput, body_start: int, body_end: int, keep_max: int):
    """Stream over [body_start, body_end); return (position reached, first WARC line inside)."""
    scan_from = body_start
    sync_at: int | None = None
    gave_up = False
    while True:
        end = min(body_end, inp.uend)
        if sync_at is None and not gave_up:
            lo = max(scan_from - 1, inp.base)
            m = _SYNC.search(inp.buf, lo - inp.base, end - inp.base)
            if m is not None:
                sync_at = inp.base + m.start() + 1
            else:
                scan_from = max(end - 16, scan_from)
        if sync_at is not None and end - sync_at > keep_max:
            sync_at, gave_up = None, True  # too much to keep: a genuinely huge record
        keep_from = sync_at if sync_at is not None else (end if gave_up else scan_from - 1)
        inp.release(max(min(keep_from, end), inp.base))
        if end >= body_end or not inp.more():
            return end, sync_at


# --- HTML ----------------------------------------------------------------------------------

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml"})
GENERIC_TYPES = frozenset(
    {
        "",
        "application/octet-stream",
        "binary/octet-stream",
        "unknown/unknown",
        "application/unknown",
    }
)
_SNIFF_HTML = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|title|meta|script|"
    rb"div|table|p|h1|a|iframe|font|style|br|b)[\s/>]",
    re.IGNORECASE | re.DOTALL,
)
# <meta charset=...> / <meta http-equiv=content-type content="...; charset=..."> in the first
# 1024 bytes (the HTML5 prescan window). resiliparse.detect_encoding(from_html_meta=True) does
# the same prescan but silently falls back to byte detection, so it cannot tell us which one won.
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([a-zA-Z0-9_:.+-]+)", re.IGNORECASE)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_SINGLE_BYTE = re.compile(r"^(windows-125\d|iso-8859-\d+|koi8-[ru]|macintosh|cp\d+|ascii)$")


def mime_of(content_type: str | None) -> str:
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def looks_like_html(body: bytes) -> bool:
    from resiliparse.parse.encoding import detect_mime

    head = body[:4096]
    if detect_mime(head) in HTML_TYPES:
        return True
    return _SNIFF_HTML.match(head) is not None


def is_html(http_mime: str, identified_mime: str, body: bytes) -> bool:
    """HTML by HTTP Content-Type; sniffed when it is missing or generic."""
    if http_mime in HTML_TYPES:
        return True
    if http_mime not in GENERIC_TYPES:
        return False
    if identified_mime in HTML_TYPES:
        return True
    return looks_like_html(body)


def _codec(label: str | None) -> str | None:
    """WHATWG label -> Python codec name (None if unknown)."""
    if not label:
        return None
    from resiliparse.parse.encoding import map_encoding_to_html5

    name = map_encoding_to_html5(label.strip().strip("\"'"), fallback_utf8=False)
    if not name:
        return None
    name = name.lower()
    if name in ("gbk", "gb2312"):
        name = "gb18030"  # WHATWG: the gbk label decodes with gb18030 (a superset)
    return name


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


@dataclass
class Decoded:
    text: str
    charset: str
    how: str  # bom | http | meta | utf8 | detected | fallback
    replaced: int  # characters replaced by U+FFFD


def decode_html(body: bytes, http_charset: str | None) -> Decoded:
    """Decode an HTML payload: HTTP charset, then <meta charset>, then byte detection.

    A declared charset is used only if the bytes decode cleanly with it, except that a body that
    is valid non-ASCII UTF-8 is UTF-8 even when a single-byte charset is declared (random legacy
    text is practically never valid UTF-8). When nothing decodes cleanly the best guess is used
    with U+FFFD replacements, and the number of replaced characters is returned.
    """
    from resiliparse.parse.encoding import detect_encoding

    for bom, codec in _BOMS:  # a byte order mark overrides any declaration (WHATWG)
        if body.startswith(bom):
            text = body[len(bom) :].decode(codec, errors="replace")
            return Decoded(text, codec, "bom", text.count("\ufffd"))
    http = _codec(http_charset)
    m = _META_CHARSET.search(body, 0, 1024)
    meta = _codec(m.group(1).decode("ascii", "replace")) if m else None
    if body.isascii():
        return Decoded(
            body.decode("ascii"),
            http or meta or "utf-8",
            "http" if http else "meta" if meta else "utf8",
            0,
        )
    utf8 = _strict(body, "utf-8")
    candidates = [(http, "http"), (meta, "meta")]
    for codec, how in candidates:
        if not codec:
            continue
        if utf8 is not None and (codec == "utf-8" or _SINGLE_BYTE.match(codec)):
            return Decoded(utf8, "utf-8", how if codec == "utf-8" else "utf8", 0)
        text = _strict(body, codec)
        if text is not None:
            return Decoded(text, codec, how, 0)
    if utf8 is not None:
        return Decoded(utf8, "utf-8", "utf8", 0)
    detected = _codec(detect_encoding(body))
    if detected:
        text = _strict(body, detected)
        if text is not None:
            return Decoded(text, detected, "detected", 0)
    codec = http or meta or detected or "utf-8"
    try:
        text = body.decode(codec, errors="replace")
    except LookupError:
        codec = "utf-8"
        text = body.decode(codec, errors="replace")
    literal = body.count(b"\xef\xbf\xbd") if codec == "utf-8" else 0
    return Decoded(text, codec, "fallback", max(0, text.count("\ufffd") - literal))


@dataclass
class HtmlText:
    text: str
    html_lang: str | None
    decoded: Decoded


def extract_html(body: bytes, http_charset: str | None) -> HtmlText:
    """Main text of an HTML page (resiliparse, main_content=True) and its ``<html lang>``."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    dec = decode_html(body, http_charset)
    # Decoded above (not HTMLTree.parse_from_bytes(body, charset)) so that the charset choice
    # is validated and replacement characters can be counted.
    tree = HTMLTree.parse(dec.text)
    lang = None
    doc = tree.document
    root = doc.query_selector("html") if doc is not None else None
    if root is not None:
        lang = (root.getattr("lang") or root.getattr("xml:lang") or "").strip() or None
    # U+FEFF inside a page (BOMs of concatenated server-side includes) is invisible junk.
    text = extract_plain_text(tree, main_content=True).replace("\ufeff", "")
    return HtmlText(text, lang, dec)
