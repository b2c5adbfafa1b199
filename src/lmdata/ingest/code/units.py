"""What one unit of code-ingest work is, and the limits it is read under (no I/O here).

The vocabulary of :mod:`lmdata.ingest.code`: the stage constants, :class:`CodeIngestOptions`
(the file / archive limits, git mode, decoding), :class:`SourceSpec` (one source to plan),
:class:`Unit` (one source's paths in ``[lo, hi)``, plain data for Spark rows / JSON),
:class:`CodeIngestCounters`, and the internal protocol between the readers and the unit loop
(readers yield ``_File`` / ``_Problem`` / ``_Skip`` and raise ``_SourceStop``; a file that
cannot be read raises ``_MemberError``).

Who calls whom: every other module of the package imports this one; it imports none of them.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from lmdata.document import CODE_FILE_SCHEMA, QUARANTINE_SCHEMA
from lmdata.errors import ConfigError
from lmdata.ingest.licenses import (
    UNKNOWN,
)
from lmdata.stats import RejectCounters

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


class CodeIngestCounters(RejectCounters):
    """Counters of one or more units (a ``collections.Counter``). Keys: sources, units,
    files_seen, files, bytes_read, skipped_* (see the module docstring), rejected:<reason>,
    charset_declared, charset_detected, encoding_fallback, bom, source_error_other_batch,
    git_worktree_fallback, languages:<name> (files emitted per language)."""


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
