"""Code sources -> rows: local directories, git repositories and source archives (pure Python).

The code twin of :mod:`lmdata.ingest.records`. Two calls:

- :func:`plan_units` (driver, or one executor per source via :func:`plan_source`): lists each
  source's files once, detects its kind, repo id, HEAD commit and license, and splits it into
  :class:`Unit` s of at most ``max_files_per_unit`` files. A unit covers a half-open range of
  sorted repository-relative paths ``[lo, hi)``, so every path belongs to exactly one unit of
  its source, even if files appear after planning; the split is deterministic.
- :func:`iter_unit` (executor): yields ``("file", row)`` rows shaped like
  :data:`CODE_FILE_SCHEMA` and ``("reject", row)`` rows shaped like ``QUARANTINE_SCHEMA``
  (stage ``ingest-code``). It never raises for bad input: every problem becomes a reject row
  with a stable ``reason`` and reading goes on with the next file.

Reject rows: ``input_uri`` = the source as planned, ``record_id`` = the repository-relative path
(or directory) concerned, ``record_offset`` = the member's header offset in the (uncompressed)
archive, null for directories and git, ``slice`` = ``"<batch>/<n_batches>"``.
Source-level problems (the first group below) are reported by batch 0 only, so a broken
archive split into 5 units yields one reject row, not 5 (the other batches count
``source_error_other_batch``).

source level:
  not_found            the source path does not exist
  access_denied        the source or a directory in it cannot be listed (record_id = directory)
  unsupported_source   a plain file that is no archive, or a URI scheme other than file://
  corrupt_archive      not readable as zip/tar (bad magic, bad header, bad compressed data)
  truncated_archive    the archive ends inside a member or compressed stream
  archive_too_large    more than ``max_archive_bytes`` uncompressed (declared or actually read)
  zip_bomb             uncompressed/compressed ratio above ``max_compression_ratio`` (checked
                       once more than ``ratio_min_bytes`` is inflated; zip: from the directory)
  too_many_members     more than ``max_archive_members`` entries
  git_error            git could not list or read the HEAD tree (the git binary is present)
  read_error           another OS error on the source or one of its directories
  internal_error       an unexpected error; the rest of the unit is not read
file level:
  access_denied        the file cannot be opened (permissions)
  read_error           another OS error while reading
  oversized_file       larger than ``max_file_bytes`` (The Stack: 1 MB)
  undecodable          not UTF-8/UTF-16/32 (BOM), not the declared coding, no charset detected
  bad_path             a file name that is not valid UTF-8
  unsafe_path          archive member with an absolute path, a drive letter or ``..``
  symlink_loop         a symbolic link that resolves to itself
  symlink_outside_root a symbolic link to a path outside the source root (never followed)
  broken_symlink       a symbolic link to nothing
  corrupt_member       a zip member that fails to inflate or its CRC check
  encrypted_member     an encrypted zip member
  duplicate_path       the same path twice in one archive (the first one is kept)

Skipped and only counted (not quarantined): binary files (by extension or a NUL byte in the
first 8000 bytes, as git decides) ``skipped_binary``, empty files ``skipped_empty``, symlinks
inside the root (the target is read at its own path) ``skipped_symlink``, archive links
``skipped_link``, devices/FIFOs ``skipped_special``, git submodules ``skipped_submodule``,
pruned directories (``.git``, ``__pycache__``, ...) ``skipped_pruned_dir``.

Safety: directory sources are walked without following symlinks and files are opened with
``O_NOFOLLOW | O_NONBLOCK`` after an ``lstat`` (a FIFO cannot block the walk). Archives are
read in memory as streams: nothing is ever extracted to disk, member names are only labels.
Git sources are read from the HEAD tree (``git ls-tree`` + ``git cat-file --batch``), so the
content matches ``repo_commit`` exactly and untracked files are not ingested; without a git
binary or a HEAD commit the work tree is walked instead.
"""

from __future__ import annotations

import bz2
import codecs
import errno
import gzip
import hashlib
import lzma
import math
import os
import re
import shutil
import stat
import subprocess
import tarfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from lmdata.document import CODE_FILE_SCHEMA, QUARANTINE_SCHEMA, stable_doc_id
from lmdata.errors import ConfigError
from lmdata.filters.code_filters import code_text_stats
from lmdata.ingest.languages import is_binary_path, language_of
from lmdata.ingest.licenses import (
    MAX_LICENSE_FILE_BYTES,
    UNKNOWN,
    detect_repo_license,
    is_license_candidate,
)

STAGE = "ingest-code"
SOURCE = "code"
KIND_DIR, KIND_GIT, KIND_ARCHIVE = "dir", "git", "archive"
KINDS = (KIND_DIR, KIND_GIT, KIND_ARCHIVE)
ARCHIVE_SUFFIXES = (
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tar",
    ".zip",
    ".whl",
)
GIT_MODES = ("head", "worktree")
BINARY_SNIFF_BYTES = 8000  # git's buffer_is_binary() looks at the first 8000 bytes

# bronze/code_files: one row per source file (to move to lmdata.document).
FILE_FIELDS = tuple(f.name for f in CODE_FILE_SCHEMA)
REJECT_FIELDS = tuple(f.name for f in QUARANTINE_SCHEMA)

DEFAULT_PRUNE_DIRS: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".bzr",
    "_darcs",
    "CVS",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
)


@dataclass(frozen=True)
class CodeIngestOptions:
    run_id: str = ""
    max_file_bytes: int = 1_000_000  # The Stack excluded files larger than 1 MB
    max_archive_bytes: int = 2 * 1024**3  # uncompressed bytes per archive
    max_compression_ratio: float = 100.0  # uncompressed / compressed, whole archive
    ratio_min_bytes: int = 16 * 1024**2  # ratio checked once this much is inflated
    max_archive_members: int = 500_000
    prune_dirs: tuple[str, ...] = DEFAULT_PRUNE_DIRS  # directory names never entered
    git_mode: str = "head"  # "head": the HEAD tree via git; "worktree": walk the checkout
    detect_charset: bool = True  # charset_normalizer for non-UTF-8 bytes, if installed
    fallback_encoding: str | None = None  # e.g. "latin-1": decode anything (flagged) instead
    # of rejecting it as "undecodable"
    git_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_archive_bytes", "max_archive_members"):
            if getattr(self, name) < 1:
                raise ConfigError(f"code ingest: {name} must be >= 1, got {getattr(self, name)}")
        if not self.max_compression_ratio > 1:
            raise ConfigError(
                f"code ingest: max_compression_ratio must be > 1, got {self.max_compression_ratio}"
            )
        if self.ratio_min_bytes < 0:
            raise ConfigError(
                f"code ingest: ratio_min_bytes must be >= 0, got {self.ratio_min_bytes}"
            )
        if self.git_mode not in GIT_MODES:
            raise ConfigError(
                f"code ingest: git_mode must be one of {GIT_MODES}, got {self.git_mode!r}"
            )
        if isinstance(self.prune_dirs, str):
            raise ConfigError("code ingest: prune_dirs must be a list of directory names")
        object.__setattr__(self, "prune_dirs", tuple(self.prune_dirs))
        if self.fallback_encoding is not None:
            try:
                codecs.lookup(self.fallback_encoding)
            except LookupError:
                raise ConfigError(
                    f"code ingest: unknown fallback_encoding {self.fallback_encoding!r}"
                ) from None


@dataclass(frozen=True)
class SourceSpec:
    """One source to plan. ``uri``: a local path (or ``file://`` URI) to a directory, a git
    checkout or an archive. ``repo_id`` defaults to the git origin (``github.com/o/r``) or the
    directory / archive name. ``license_override``: an SPDX expression that replaces detection.
    ``kind``: force "dir" (e.g. walk a git checkout's work tree), "git" or "archive"."""

    uri: str
    repo_id: str | None = None
    license_override: str | None = None
    kind: str | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise ConfigError(f"code source {self.uri!r}: kind must be one of {KINDS}")


@dataclass(frozen=True)
class Unit:
    """One unit of ingest work: the files of source ``uri`` whose path is in ``[lo, hi)``
    (None = unbounded). Repository facts found at planning travel with the unit.
    Plain data: ``to_dict()`` / ``Unit.from_dict()`` for Spark rows or JSON."""

    uri: str
    kind: str  # dir | git | archive
    repo_id: str
    batch: int = 0
    n_batches: int = 1
    lo: str | None = None
    hi: str | None = None
    n_files: int | None = None  # files in this unit at planning time
    repo_commit: str | None = None
    repo_license: str | None = None
    license_class: str = UNKNOWN
    license_source: str | None = None
    license_override: str | None = None
    root_prefix: str = ""  # archives: the single top-level directory, stripped from paths
    planned: bool = False

    @property
    def slice(self) -> str:
        return f"{self.batch}/{self.n_batches}"

    @property
    def unit_id(self) -> str:
        return f"{self.repo_id}#{self.slice}"

    def contains(self, path: str) -> bool:
        return (self.lo is None or path >= self.lo) and (self.hi is None or path < self.hi)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Unit:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class CodeIngestCounters(Counter):
    """Counters of one or more units (a ``collections.Counter``). Keys: sources, units,
    files_seen, files, bytes_read, skipped_* (see the module docstring), rejected:<reason>,
    charset_declared, charset_detected, encoding_fallback, bom, source_error_other_batch,
    git_worktree_fallback, languages:<name> (files emitted per language)."""

    @property
    def rejected(self) -> dict[str, int]:
        return {k.split(":", 1)[1]: v for k, v in self.items() if k.startswith("rejected:")}

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


# --- internal protocol between readers and the unit loop ---------------------------------------


class _SourceStop(Exception):
    """The source cannot be read any further (archive broken, limits hit)."""

    def __init__(self, reason: str, message: str, path: str | None = None, offset=None):
        super().__init__(message)
        self.reason, self.path, self.offset = reason, path, offset


class _MemberError(Exception):
    """One member/file cannot be read; the next one can."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class _File:
    path: str  # repository-relative (archive: after stripping root_prefix)
    size: int | None
    read: Callable[[int], bytes]  # read(limit) -> at most limit bytes
    offset: int | None = None


@dataclass
class _Problem:
    reason: str
    message: str
    path: str | None  # None: source level
    offset: int | None = None
    source_level: bool = False


@dataclass
class _Skip:
    key: str
    path: str | None  # None: counted by batch 0 only
    extra: dict = field(default_factory=dict)


# --- helpers -------------------------------------------------------------------------------------


def _safe(s: str | None) -> str | None:
    """A string Arrow can store (lone surrogates from undecodable file names escaped)."""
    if s is None:
        return None
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def _local_path(uri: str) -> str | None:
    if uri.startswith("file://"):
        return uri[len("file://") :] or "/"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", uri):
        return None
    return uri


def _is_within(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:
        return False


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


def _git_bin() -> str | None:
    return shutil.which("git")


def _git(root: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_git_bin() or "git", "-c", "safe.directory=*", "-C", root, *args],
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def _is_git(path: str) -> bool:
    return os.path.exists(os.path.join(path, ".git"))


def _git_dir(root: str) -> str | None:
    dotgit = os.path.join(root, ".git")
    if os.path.isdir(dotgit):
        return dotgit
    try:  # worktrees / submodules: ".git" is a file "gitdir: <path>"
        with open(dotgit, encoding="utf-8") as f:
            line = f.readline().strip()
    except OSError:
        return None
    if line.startswith("gitdir:"):
        d = line[len("gitdir:") :].strip()
        return d if os.path.isabs(d) else os.path.normpath(os.path.join(root, d))
    return None


_SHA_RE = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


def _read_head_file(root: str) -> str | None:
    """HEAD commit by reading .git (no git binary): HEAD -> ref file or packed-refs."""
    gd = _git_dir(root)
    if gd is None:
        return None
    try:
        with open(os.path.join(gd, "HEAD"), encoding="utf-8") as f:
            head = f.read().strip()
    except OSError:
        return None
    if _SHA_RE.match(head):
        return head
    if not head.startswith("ref:"):
        return None
    ref = head[4:].strip()
    common = gd
    try:  # linked worktrees keep refs in the common dir
        with open(os.path.join(gd, "commondir"), encoding="utf-8") as f:
            common = os.path.normpath(os.path.join(gd, f.read().strip()))
    except OSError:
        pass
    for base in (gd, common):
        try:
            with open(os.path.join(base, ref), encoding="utf-8") as f:
                sha = f.read().strip()
            if _SHA_RE.match(sha):
                return sha
        except OSError:
            pass
        try:
            with open(os.path.join(base, "packed-refs"), encoding="utf-8") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and parts[1] == ref and _SHA_RE.match(parts[0]):
                        return parts[0]
        except OSError:
            pass
    return None


def git_head(root: str) -> str | None:
    """The HEAD commit of a git checkout (``git rev-parse HEAD``, else read from .git)."""
    if _git_bin():
        try:
            p = _git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}")
            sha = p.stdout.decode("ascii", "replace").strip()
            if p.returncode == 0 and _SHA_RE.match(sha):
                return sha
        except (OSError, subprocess.SubprocessError):
            pass
    return _read_head_file(root)


def _normalize_remote(url: str) -> str | None:
    url = url.strip()
    if not url:
        return None
    m = re.match(r"^[\w.-]+@([\w.-]+):(.+)$", url)  # git@github.com:owner/name.git
    if m:
        host, path = m.group(1), m.group(2)
    else:
        m = re.match(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?([^/:]+)(?::\d+)?/(.+)$", url, re.I)
        if not m:
            return None
        host, path = m.group(1), m.group(2)
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"{host.lower()}/{path}" if path else None


def _git_repo_id(root: str) -> str | None:
    if not _git_bin():
        return None
    try:
        p = _git(root, "config", "--get", "remote.origin.url")
    except (OSError, subprocess.SubprocessError):
        return None
    if p.returncode != 0:
        return None
    return _normalize_remote(p.stdout.decode("utf-8", "replace"))


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


# --- decoding ------------------------------------------------------------------------------------

_CODING_RE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")  # PEP 263
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
)


def _declared_coding(data: bytes) -> str | None:
    for line in data.split(b"\n", 2)[:2]:
        m = _CODING_RE.match(line)
        if m:
            name = m.group(1).decode("ascii", "replace")
            try:
                return codecs.lookup(name).name
            except LookupError:
                return None
    return None


def decode_source(
    data: bytes, opts: CodeIngestOptions, counters: Counter | None = None
) -> tuple[str, str] | None:
    """``(text, encoding)``; None for binary content (NUL in the first 8000 bytes).

    Order: BOM (UTF-8/16/32) -> strict UTF-8 -> the PEP 263 coding cookie -> charset_normalizer
    (when installed and ``opts.detect_charset``) -> ``opts.fallback_encoding``. Raises
    :class:`_MemberError` ``undecodable`` when nothing decodes.
    """
    counters = counters if counters is not None else Counter()
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError:
                break
            counters["bom"] += 1
            return text, label
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        utf8_error = e
    declared = _declared_coding(data)
    if declared and declared != "utf-8":
        try:
            text = data.decode(declared)
            counters["charset_declared"] += 1
            return text, declared
        except (UnicodeDecodeError, LookupError):
            pass
    if opts.detect_charset:
        try:
            import charset_normalizer
        except ImportError:  # pragma: no cover - it is in the lock (requests depends on it)
            charset_normalizer = None
        if charset_normalizer is not None:
            best = charset_normalizer.from_bytes(data).best()
            if best is not None and best.encoding:
                counters["charset_detected"] += 1
                return str(best), codecs.lookup(best.encoding).name
    if opts.fallback_encoding:
        counters["encoding_fallback"] += 1
        return data.decode(opts.fallback_encoding, "replace"), codecs.lookup(
            opts.fallback_encoding
        ).name
    raise _MemberError("undecodable", f"not UTF-8 ({utf8_error}) and no charset detected")


# --- readers: each yields _File / _Problem / _Skip, and raises _SourceStop ---------------------


def _read_fs(path: str, limit: int) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _MemberError("read_error", "not a regular file any more")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit)
    finally:
        os.close(fd)


def _symlink_problem(entry_path: str, rel: str, root_real: str) -> _Problem | _Skip:
    try:
        target = os.path.realpath(entry_path, strict=True)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return _Problem("symlink_loop", f"symbolic link loop: {e}", rel)
        if e.errno in (errno.EACCES, errno.EPERM):
            return _Problem("access_denied", f"cannot resolve symbolic link: {e}", rel)
        try:
            dest = os.readlink(entry_path)
        except OSError:
            dest = "?"
        return _Problem("broken_symlink", f"symbolic link to nothing: -> {dest}", rel)
    if not _is_within(target, root_real):
        return _Problem(
            "symlink_outside_root",
            f"symbolic link points outside the source root (not followed): -> {target}",
            rel,
        )
    return _Skip("skipped_symlink", rel)


def _iter_dir(
    root: str, opts: CodeIngestOptions, want: Callable[[str], bool] | None = None
) -> Iterator[_File | _Problem | _Skip]:
    """Walk ``root`` without following symlinks; ``want(path)`` False -> no stat, no item."""
    root_real = os.path.realpath(root)
    prune = frozenset(opts.prune_dirs)
    stack: list[str] = [""]
    while stack:
        rel_dir = stack.pop()
        abs_dir = os.path.join(root_real, rel_dir) if rel_dir else root_real
        try:
            with os.scandir(abs_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except PermissionError as e:
            yield _Problem(
                "access_denied", f"cannot list directory: {e}", f"{rel_dir or '.'}/", None, True
            )
            continue
        except OSError as e:
            yield _Problem(
                "read_error", f"cannot list directory: {e}", f"{rel_dir or '.'}/", None, True
            )
            continue
        subdirs = []
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            try:
                if e.is_symlink():
                    yield _symlink_problem(e.path, rel, root_real)
                elif e.is_dir(follow_symlinks=False):
                    if e.name in prune:
                        yield _Skip("skipped_pruned_dir", None)
                    else:
                        subdirs.append(rel)
                elif e.is_file(follow_symlinks=False):
                    if want is not None and not want(rel):
                        continue
                    size = e.stat(follow_symlinks=False).st_size
                    yield _File(rel, size, lambda limit, p=e.path: _read_fs(p, limit))
                else:
                    yield _Skip("skipped_special", rel)
            except OSError as err:  # vanished between listing and stat
                yield _Problem("read_error", f"{type(err).__name__}: {err}", rel)
        stack.extend(reversed(subdirs))


def _iter_git_head(root: str, opts: CodeIngestOptions) -> Iterator[_File | _Problem | _Skip]:
    try:
        p = _git(
            root, "ls-tree", "-r", "-z", "--long", "--full-tree", "HEAD", timeout=opts.git_timeout_s
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise _SourceStop("git_error", f"git ls-tree failed: {e}") from e
    if p.returncode != 0:
        msg = p.stderr.decode("utf-8", "replace").strip()
        raise _SourceStop("git_error", f"git ls-tree failed: {msg}")
    proc = subprocess.Popen(
        [_git_bin() or "git", "-c", "safe.directory=*", "-C", root, "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )

    def read_blob(sha: bytes, limit: int) -> bytes:
        try:
            proc.stdin.write(sha + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline()
            parts = header.split()
            if len(parts) != 3 or parts[1] != b"blob":
                raise _SourceStop("git_error", f"git cat-file: unexpected reply {header[:200]!r}")
            size = int(parts[2])
            data = proc.stdout.read(size)
            proc.stdout.read(1)  # the LF after the content
        except (OSError, ValueError) as e:
            raise _SourceStop("git_error", f"git cat-file failed: {e}") from e
        if len(data) != size:
            raise _SourceStop("git_error", "git cat-file: short read")
        return data[:limit]

    try:
        for rec in p.stdout.split(b"\0"):
            if not rec:
                continue
            meta, _, raw_path = rec.partition(b"\t")
            parts = meta.split()
            if len(parts) != 4:
                continue
            mode, typ, sha, size = parts
            rel = os.fsdecode(raw_path)
            if typ == b"commit":
                yield _Skip("skipped_submodule", rel)
            elif mode == b"120000":
                yield _Skip("skipped_symlink", rel)
            elif typ == b"blob":
                yield _File(
                    rel,
                    int(size) if size.isdigit() else None,
                    lambda limit, s=sha: read_blob(s, limit),
                )
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass
        proc.kill()
        proc.wait()


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


# --- source resolution ---------------------------------------------------------------------------


def _as_spec(source: str | SourceSpec | dict) -> SourceSpec:
    if isinstance(source, SourceSpec):
        return source
    if isinstance(source, str):
        return SourceSpec(source)
    if isinstance(source, dict):
        unknown = set(source) - {f.name for f in fields(SourceSpec)}
        if unknown:
            raise ConfigError(f"code source: unknown keys {sorted(unknown)}")
        return SourceSpec(**source)
    raise ConfigError(f"code source: expected a path or a mapping, got {source!r}")


def _detect_kind(path: str | None, uri: str) -> str:
    if path is not None and os.path.isdir(path):
        return KIND_GIT if _is_git(path) else KIND_DIR
    if uri.lower().endswith(ARCHIVE_SUFFIXES) or (path is not None and os.path.isfile(path)):
        return KIND_ARCHIVE
    return KIND_DIR


def _default_repo_id(path: str | None, uri: str, kind: str) -> str:
    if kind == KIND_GIT and path is not None:
        rid = _git_repo_id(path)
        if rid:
            return rid
    base = os.path.basename(os.path.normpath(path if path is not None else uri)) or uri
    return _archive_name_stem(base) if kind == KIND_ARCHIVE else base


def _open_reader(
    unit: Unit,
    opts: CodeIngestOptions,
    counters: Counter,
    prefix: str,
    want: Callable[[str], bool] | None = None,
):
    """The item generator for a unit's source; raises _SourceStop when it cannot start."""
    path = _local_path(unit.uri)
    if path is None:
        raise _SourceStop("unsupported_source", f"only local paths are supported: {unit.uri!r}")
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        raise _SourceStop("not_found", f"{e}") from e
    except PermissionError as e:
        raise _SourceStop("access_denied", f"{e}") from e
    except OSError as e:
        raise _SourceStop("read_error", f"{type(e).__name__}: {e}") from e
    if unit.kind in (KIND_DIR, KIND_GIT):
        if not stat.S_ISDIR(st.st_mode):
            raise _SourceStop("unsupported_source", f"not a directory: {unit.uri!r}")
        if not os.access(path, os.R_OK | os.X_OK):
            raise _SourceStop("access_denied", f"cannot list {unit.uri!r}")
        if unit.kind == KIND_GIT and opts.git_mode == "head":
            if _git_bin() and unit.repo_commit:
                return _iter_git_head(path, opts)
            counters["git_worktree_fallback"] += 1
        return _iter_dir(path, opts, want)
    if not stat.S_ISREG(st.st_mode):
        raise _SourceStop("unsupported_source", f"not a file: {unit.uri!r}")
    try:
        with open(path, "rb"):
            pass
    except PermissionError as e:
        raise _SourceStop("access_denied", f"{e}") from e
    fmt = _sniff_archive(path)
    if fmt is None:
        if not unit.uri.lower().endswith(ARCHIVE_SUFFIXES):
            raise _SourceStop(
                "unsupported_source", "not a zip or tar archive (unknown magic bytes)"
            )
        raise _SourceStop("corrupt_archive", "not a zip or tar archive (unknown magic bytes)")
    if fmt == "zip":
        return _iter_zip(path, prefix, opts)
    return _iter_tar(path, fmt, prefix, opts)


# --- planning ------------------------------------------------------------------------------------


def plan_source(
    source: str | SourceSpec | dict,
    *,
    max_files_per_unit: int = 10_000,
    opts: CodeIngestOptions | None = None,
    counters: Counter | None = None,
) -> list[Unit]:
    """The units of one source (at least one). Never raises for bad input: a source that cannot
    be read gets one unit whose :func:`iter_unit` reports the problem."""
    if max_files_per_unit < 1:
        raise ConfigError(f"max_files_per_unit must be >= 1, got {max_files_per_unit}")
    opts = opts or CodeIngestOptions()
    counters = counters if counters is not None else CodeIngestCounters()
    spec = _as_spec(source)
    counters["sources"] += 1
    path = _local_path(spec.uri)
    kind = spec.kind or _detect_kind(path, spec.uri)
    repo_id = spec.repo_id or _default_repo_id(path, spec.uri, kind)
    commit = git_head(path) if (kind == KIND_GIT and path is not None) else None
    base = Unit(
        uri=spec.uri,
        kind=kind,
        repo_id=repo_id,
        repo_commit=commit,
        license_override=spec.license_override,
        planned=True,
    )
    paths: list[str] = []
    candidates: dict[str, bytes] = {}
    try:
        reader = _open_reader(base, opts, Counter(), prefix="")
        for item in reader:
            if not isinstance(item, _File):
                continue
            paths.append(item.path)
            # archives: the root prefix is unknown until the end, so also look one level down
            look = item.path if kind != KIND_ARCHIVE else item.path.partition("/")[2] or item.path
            if (
                len(candidates) < 64
                and (is_license_candidate(item.path) or is_license_candidate(look))
                and (item.size is None or item.size <= MAX_LICENSE_FILE_BYTES)
            ):
                try:
                    candidates[item.path] = item.read(MAX_LICENSE_FILE_BYTES)
                except (_MemberError, OSError):
                    pass
    except _SourceStop:
        pass  # iter_unit (batch 0) reports it
    except Exception:  # noqa: BLE001 - planning must not fail a job; iter_unit reports it
        counters["plan_errors"] += 1
    prefix = _root_prefix(paths) if kind == KIND_ARCHIVE else ""
    if prefix:
        paths = [_strip(p, prefix) for p in paths]
        candidates = {_strip(p, prefix): v for p, v in candidates.items() if p.startswith(prefix)}
    texts = {
        p: v.decode("utf-8", "replace") for p, v in candidates.items() if is_license_candidate(p)
    }
    try:
        lic = detect_repo_license(texts, spec.license_override)
    except Exception:  # noqa: BLE001 - a license bug must not lose the source
        counters["license_errors"] += 1
        lic = detect_repo_license({}, None)
    base = replace(
        base,
        root_prefix=prefix,
        repo_license=lic.expression,
        license_class=lic.license_class,
        license_source=lic.source,
    )
    paths = sorted(set(paths))
    n = len(paths)
    n_batches = max(1, math.ceil(n / max_files_per_unit))
    units = []
    for b in range(n_batches):
        lo = paths[b * max_files_per_unit] if b > 0 else None
        hi = paths[(b + 1) * max_files_per_unit] if b < n_batches - 1 else None
        size = min(max_files_per_unit, n - b * max_files_per_unit)
        units.append(replace(base, batch=b, n_batches=n_batches, lo=lo, hi=hi, n_files=size))
    counters["units"] += len(units)
    counters["plan_files"] += n
    return units


def plan_units(
    sources: Sequence[str | SourceSpec | dict],
    max_files_per_unit: int = 10_000,
    opts: CodeIngestOptions | None = None,
    counters: Counter | None = None,
) -> list[Unit]:
    """Units for every source, in source order then batch order (deterministic)."""
    if isinstance(sources, str | SourceSpec):
        sources = [sources]
    out: list[Unit] = []
    for s in sources:
        out.extend(
            plan_source(s, max_files_per_unit=max_files_per_unit, opts=opts, counters=counters)
        )
    return out


# --- the unit loop -------------------------------------------------------------------------------


def reject_row(
    unit: Unit,
    opts: CodeIngestOptions,
    reason: str,
    error: str,
    path: str | None = None,
    offset: int | None = None,
) -> dict:
    return {
        "input_uri": _safe(unit.uri),
        "record_offset": offset,
        "record_id": _safe(path),
        "stage": STAGE,
        "reason": reason,
        "error": _safe(error),
        "run_id": opts.run_id,
        "crawl": None,
        "slice": unit.slice,
    }


def _file_row(unit: Unit, opts: CodeIngestOptions, rel: str, data: bytes, text: str, enc: str):
    sha1 = hashlib.sha1(data).hexdigest()
    st = code_text_stats(text)
    return {
        "doc_id": stable_doc_id(SOURCE, f"{unit.repo_id}:{rel}", sha1),
        "source": SOURCE,
        "repo_id": unit.repo_id,
        "repo_commit": unit.repo_commit,
        "repo_license": unit.repo_license,
        "license_class": unit.license_class,
        "path": rel,
        "language": language_of(rel, text[:4096]),
        "size_bytes": len(data),
        "line_count": st["line_count"],
        "max_line_length": st["max_line_length"],
        "mean_line_length": float(st["mean_line_length"]),
        "alnum_fraction": float(st["alnum_fraction"]),
        "content_sha1": sha1,
        "encoding": enc,
        "text": text,
        "ingest_run_id": opts.run_id,
    }


def _process_file(unit, opts, item: _File, counters) -> tuple[str, dict] | None:
    rel = item.path
    counters["files_seen"] += 1
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return "reject", reject_row(
            unit, opts, "bad_path", "file name is not valid UTF-8", rel, item.offset
        )
    if is_binary_path(rel):
        counters["skipped_binary"] += 1
        return None
    cap = opts.max_file_bytes
    if item.size is not None and item.size > cap:
        msg = f"{item.size} bytes > max_file_bytes={cap}"
        return "reject", reject_row(unit, opts, "oversized_file", msg, rel, item.offset)
    if item.size == 0:
        counters["skipped_empty"] += 1
        return None
    try:
        data = item.read(cap + 1)
    except _MemberError as e:
        return "reject", reject_row(unit, opts, e.reason, str(e), rel, item.offset)
    except PermissionError as e:
        return "reject", reject_row(unit, opts, "access_denied", str(e), rel, item.offset)
    except OSError as e:
        reason = "symlink_loop" if e.errno == errno.ELOOP else "read_error"
        return "reject", reject_row(
            unit, opts, reason, f"{type(e).__name__}: {e}", rel, item.offset
        )
    counters["bytes_read"] += len(data)
    if len(data) > cap:
        msg = f"more than max_file_bytes={cap} bytes"
        return "reject", reject_row(unit, opts, "oversized_file", msg, rel, item.offset)
    if not data:
        counters["skipped_empty"] += 1
        return None
    try:
        decoded = decode_source(data, opts, counters)
    except _MemberError as e:
        return "reject", reject_row(unit, opts, e.reason, str(e), rel, item.offset)
    if decoded is None:
        counters["skipped_binary"] += 1
        return None
    text, enc = decoded
    row = _file_row(unit, opts, rel, data, text, enc)
    counters[f"languages:{row['language']}"] += 1
    return "file", row


def iter_unit(
    unit: Unit,
    opts: CodeIngestOptions | None = None,
    counters: Counter | None = None,
) -> Iterator[tuple[str, dict]]:
    """Rows of one unit: ``("file", CODE_FILE_SCHEMA row)`` / ``("reject", QUARANTINE row)``.
    Never raises for bad input (see the module docstring for the reasons)."""
    opts = opts or CodeIngestOptions()
    counters = counters if counters is not None else CodeIngestCounters()
    counters["units"] += 1
    if not unit.planned:  # repository facts (license, commit, archive prefix) not known yet
        facts = plan_source(
            SourceSpec(unit.uri, unit.repo_id, unit.license_override, unit.kind),
            max_files_per_unit=2**62,
            opts=opts,
            counters=Counter(),
        )[0]
        unit = replace(facts, batch=unit.batch, n_batches=unit.n_batches, lo=unit.lo, hi=unit.hi)
    first = unit.batch == 0
    seen: set[str] = set()

    def source_problem(reason, message, path=None, offset=None):
        if first:
            counters[f"rejected:{reason}"] += 1
            return "reject", reject_row(unit, opts, reason, message, path, offset)
        counters["source_error_other_batch"] += 1
        return None

    try:
        reader = _open_reader(unit, opts, counters, unit.root_prefix, unit.contains)
        for item in reader:
            if isinstance(item, _Skip):
                if (item.path is None and first) or (
                    item.path is not None and unit.contains(item.path)
                ):
                    counters[item.key] += 1
                continue
            if isinstance(item, _Problem):
                if item.source_level or item.path is None:
                    out = source_problem(item.reason, item.message, item.path, item.offset)
                    if out:
                        yield out
                elif unit.contains(item.path):
                    counters[f"rejected:{item.reason}"] += 1
                    yield (
                        "reject",
                        reject_row(unit, opts, item.reason, item.message, item.path, item.offset),
                    )
                continue
            if not unit.contains(item.path):
                continue
            if item.path in seen:
                counters["rejected:duplicate_path"] += 1
                msg = "the same path appears twice; the first one is kept"
                yield (
                    "reject",
                    reject_row(unit, opts, "duplicate_path", msg, item.path, item.offset),
                )
                continue
            seen.add(item.path)
            out = _process_file(unit, opts, item, counters)
            if out is None:
                continue
            if out[0] == "file":
                counters["files"] += 1
            else:
                counters[f"rejected:{out[1]['reason']}"] += 1
            yield out
    except _SourceStop as e:
        out = source_problem(e.reason, str(e), e.path, e.offset)
        if out:
            yield out
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - a reader bug must cost one unit, not the job
        counters["rejected:internal_error"] += 1
        yield "reject", reject_row(unit, opts, "internal_error", f"{type(e).__name__}: {e}")


def ingest_sources(
    sources: Sequence[str | SourceSpec | dict],
    opts: CodeIngestOptions | None = None,
    *,
    max_files_per_unit: int = 10_000,
    counters: Counter | None = None,
) -> Iterator[tuple[str, dict]]:
    """``plan_units`` + ``iter_unit`` over every unit, in one process (tests, small runs)."""
    opts = opts or CodeIngestOptions()
    counters = counters if counters is not None else CodeIngestCounters()
    for unit in plan_units(sources, max_files_per_unit, opts, counters=Counter()):
        yield from iter_unit(unit, opts, counters)
