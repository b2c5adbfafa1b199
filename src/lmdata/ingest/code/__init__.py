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

Layout (each module's docstring says who calls whom; arrows = imports, none point back up)::

    rows.py      iter_unit, ingest_sources, decode_source, reject_row: the unit loop
      -> sources.py   plan_source, plan_units, _open_reader, the directory walk
           -> git.py       git_head, the HEAD-tree reader
           -> archives.py  tar / zip stream readers, member-path safety
      -> units.py     constants, CodeIngestOptions (limits), SourceSpec, Unit, counters,
                      the reader protocol (_File / _Problem / _Skip, _SourceStop, _MemberError)

Every name importable from ``lmdata.ingest.code`` that callers use is re-exported here.
Functions are looked up where they are defined: patch ``sources._read_fs``, ``rows._file_row``,
``git._git_bin`` (not this package's attributes).
"""

from __future__ import annotations

from lmdata.ingest.code.git import git_head
from lmdata.ingest.code.rows import decode_source, ingest_sources, iter_unit, reject_row
from lmdata.ingest.code.sources import plan_source, plan_units
from lmdata.ingest.code.units import (
    ARCHIVE_SUFFIXES,
    BINARY_SNIFF_BYTES,
    CODE_FILE_SCHEMA,
    DEFAULT_PRUNE_DIRS,
    FILE_FIELDS,
    GIT_MODES,
    KIND_ARCHIVE,
    KIND_DIR,
    KIND_GIT,
    KINDS,
    QUARANTINE_SCHEMA,
    REJECT_FIELDS,
    SOURCE,
    STAGE,
    CodeIngestCounters,
    CodeIngestOptions,
    SourceSpec,
    Unit,
    _MemberError,
    _SourceStop,
)

__all__ = [
    "ARCHIVE_SUFFIXES",
    "BINARY_SNIFF_BYTES",
    "CODE_FILE_SCHEMA",
    "DEFAULT_PRUNE_DIRS",
    "FILE_FIELDS",
    "GIT_MODES",
    "KINDS",
    "KIND_ARCHIVE",
    "KIND_DIR",
    "KIND_GIT",
    "QUARANTINE_SCHEMA",
    "REJECT_FIELDS",
    "SOURCE",
    "STAGE",
    "CodeIngestCounters",
    "CodeIngestOptions",
    "SourceSpec",
    "Unit",
    "_MemberError",
    "_SourceStop",
    "decode_source",
    "git_head",
    "ingest_sources",
    "iter_unit",
    "plan_source",
    "plan_units",
    "reject_row",
]
