"""Source archives (tar, tar.gz/bz2/xz, zip, wheels) read as streams, never extracted.

Member names are only labels (``_member_path`` rejects absolute paths, drive letters and
``..``); the archive limits of :class:`.units.CodeIngestOptions` are enforced while reading
(``_Budget``: uncompressed bytes and compression ratio on every read of a tar stream; zip: from
the directory, then on the bytes inflated).

Who calls whom: :mod:`.sources` sniffs the format and opens ``_iter_tar`` / ``_iter_zip``, and
uses ``_strip`` / ``_root_prefix`` when planning; this module uses only :mod:`.units`.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Sequence

from lmdata.ingest.code.units import (
    ARCHIVE_SUFFIXES,
    CodeIngestOptions,
    _File,
    _MemberError,
    _Problem,
    _safe,
    _Skip,
    _SourceStop,
)


def _archive_name_stem(path: str) -> str:
    name = os.path.basename(path.rstrip("/"))
    low = name.lower()
    for suf in ARCHIVE_SUFFIXES:
        if low.endswith(suf):
            return name[: -len(suf)] or name
    return name


def _sniff_archive(path: str) -> str | None:
    """'zip' | 'gz' | 'bz2' | 'xz' | 'tar' from the magic bytes, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gz"
    if head[:3] == b"BZh":
        return "bz2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


_UNSAFE_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def _member_path(name: str) -> tuple[str | None, str | None]:
    """(normalized relative path, None) or (None, why it is unsafe) for an archive name."""
    raw = name.replace("\\", "/")
    if raw.startswith("/") or _UNSAFE_DRIVE_RE.match(raw):
        return None, f"absolute member path {name!r}"
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None, f"member path escapes the archive root: {name!r}"
    if not parts:
        return None, f"empty member path {name!r}"
    return "/".join(parts), None


def _strip(path: str, prefix: str) -> str:
    return path[len(prefix) :] if prefix and path.startswith(prefix) else path


def _root_prefix(paths: Sequence[str]) -> str:
    """The single top-level directory shared by every path ("pkg-1.0/"), else ""."""
    first = None
    for p in paths:
        head, sep, _ = p.partition("/")
        if not sep:
            return ""
        if first is None:
            first = head
        elif head != first:
            return ""
    return f"{first}/" if first else ""


class _Counting:
    """A raw file wrapper counting the (compressed) bytes read."""

    def __init__(self, f) -> None:
        self.f = f
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.pos += len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.f.close()


class _Budget:
    """The decompressed stream, with the archive limits enforced on every read."""

    def __init__(self, inner, raw: _Counting, opts: CodeIngestOptions) -> None:
        self.inner, self.raw, self.opts = inner, raw, opts
        self.n = 0

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.n += len(data)
        o = self.opts
        if self.n > o.max_archive_bytes:
            raise _SourceStop(
                "archive_too_large",
                f"more than max_archive_bytes={o.max_archive_bytes} uncompressed",
            )
        if self.n >= o.ratio_min_bytes and self.n > o.max_compression_ratio * max(self.raw.pos, 1):
            raise _SourceStop(
                "zip_bomb",
                f"compression ratio {self.n / max(self.raw.pos, 1):.0f} > "
                f"{o.max_compression_ratio:g} after {self.n} bytes",
            )
        return data

    def readable(self) -> bool:
        return True


_TRUNCATED_MARKERS = ("unexpected end of data", "ended before", "truncated")


def _stream_error(e: BaseException, path: str | None, offset: int | None) -> _SourceStop:
    msg = f"{type(e).__name__}: {e}"
    reason = (
        "truncated_archive"
        if isinstance(e, EOFError) or any(m in str(e) for m in _TRUNCATED_MARKERS)
        else "corrupt_archive"
    )
    return _SourceStop(reason, msg, path, offset)


_STREAM_ERRORS = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError)


def _iter_tar(path: str, fmt: str, prefix: str, opts: CodeIngestOptions):
    f = open(path, "rb")  # noqa: SIM115 - closed in finally
    raw = _Counting(f)
    try:
        if fmt == "gz":
            inner = gzip.GzipFile(fileobj=raw, mode="rb")
        elif fmt == "bz2":
            inner = bz2.BZ2File(raw, mode="rb")
        elif fmt == "xz":
            inner = lzma.LZMAFile(raw, mode="rb")
        else:
            inner = raw
        stream = _Budget(inner, raw, opts)
        try:
            tf = tarfile.open(fileobj=stream, mode="r|")
        except _SourceStop:
            raise
        except _STREAM_ERRORS as e:
            raise _stream_error(e, None, None) from e
        count = 0
        last: tuple[str | None, int | None] = (None, None)
        while True:
            try:
                m = tf.next()
            except _SourceStop:
                raise
            except _STREAM_ERRORS as e:
                raise _stream_error(e, *last) from e
            if m is None:
                return
            count += 1
            if count > opts.max_archive_members:
                raise _SourceStop(
                    "too_many_members",
                    f"more than max_archive_members={opts.max_archive_members} entries",
                )
            rel, why = _member_path(m.name)
            if rel is None:
                yield _Problem("unsafe_path", why, _safe(m.name), m.offset)
                continue
            rel = _strip(rel, prefix)
            last = (rel, m.offset)
            if m.isdir():
                continue
            if m.issym() or m.islnk():
                yield _Skip("skipped_link", rel)
                continue
            if not m.isreg():
                yield _Skip("skipped_special", rel)
                continue

            def read(limit: int, m=m, rel=rel) -> bytes:
                try:
                    fobj = tf.extractfile(m)
                    return fobj.read(limit) if fobj is not None else b""
                except _SourceStop:
                    raise
                except _STREAM_ERRORS as e:
                    raise _stream_error(e, rel, m.offset) from e

            yield _File(rel, m.size, read, m.offset)
    finally:
        f.close()


_ZIP_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, lzma.LZMAError, OSError, ValueError)


def _iter_zip(path: str, prefix: str, opts: CodeIngestOptions):
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        msg = f"{type(e).__name__}: {e}"
        reason = "truncated_archive" if "truncated" in str(e).lower() else "corrupt_archive"
        raise _SourceStop(reason, msg) from e
    with zf:
        infos = zf.infolist()
        if len(infos) > opts.max_archive_members:
            raise _SourceStop(
                "too_many_members",
                f"{len(infos)} entries > max_archive_members={opts.max_archive_members}",
            )
        declared = sum(i.file_size for i in infos)
        if declared > opts.max_archive_bytes:
            raise _SourceStop(
                "archive_too_large",
                f"{declared} bytes uncompressed (declared) > max_archive_bytes={opts.max_archive_bytes}",
            )
        packed = max(os.path.getsize(path), 1)
        if declared >= opts.ratio_min_bytes and declared > opts.max_compression_ratio * packed:
            raise _SourceStop(
                "zip_bomb",
                f"compression ratio {declared / packed:.0f} > {opts.max_compression_ratio:g} "
                f"({declared} bytes from {packed})",
            )
        total = [0]
        for info in infos:
            rel, why = _member_path(info.filename)
            if rel is None:
                yield _Problem("unsafe_path", why, _safe(info.filename), info.header_offset)
                continue
            rel = _strip(rel, prefix)
            if info.is_dir():
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                yield _Skip("skipped_link", rel)
                continue
            if info.flag_bits & 0x1:
                yield _Problem("encrypted_member", "encrypted zip member", rel, info.header_offset)
                continue

            def read(limit: int, info=info) -> bytes:
                try:
                    with zf.open(info) as fobj:
                        data = fobj.read(limit)
                except NotImplementedError as e:
                    raise _MemberError("corrupt_member", f"unsupported compression: {e}") from e
                except _ZIP_MEMBER_ERRORS as e:
                    raise _MemberError("corrupt_member", f"{type(e).__name__}: {e}") from e
                total[0] += len(data)
                if total[0] > opts.max_archive_bytes:
                    raise _SourceStop(
                        "archive_too_large",
                        f"more than max_archive_bytes={opts.max_archive_bytes} inflated",
                    )
                return data

            yield _File(rel, info.file_size, read, info.header_offset)
