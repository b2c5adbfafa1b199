"""Code sources: resolving them, walking directories, and planning each into units.

``plan_source`` / ``plan_units`` (driver, or one executor per source) list a source's files once
through ``_open_reader`` - which picks the reader for the unit's kind: ``_iter_dir`` here (a
directory walked without following symlinks, files opened ``O_NOFOLLOW | O_NONBLOCK``),
:mod:`.git` (the HEAD tree) or :mod:`.archives` (tar / zip streams) - detect the license from the
candidate files (:mod:`lmdata.ingest.licenses`) and split the sorted paths into
:class:`.units.Unit` s of at most ``max_files_per_unit`` files.

Who calls whom: :mod:`.rows` (``iter_unit``) calls ``_open_reader`` and, for unplanned units,
``plan_source``; this module calls :mod:`.git`, :mod:`.archives` and :mod:`.units`.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields, replace

from lmdata.errors import ConfigError
from lmdata.ingest.code import git  # called as git.<name>: see lmdata.ingest.code.git
from lmdata.ingest.code.archives import (
    _archive_name_stem,
    _iter_tar,
    _iter_zip,
    _root_prefix,
    _sniff_archive,
    _strip,
)
from lmdata.ingest.code.units import (
    ARCHIVE_SUFFIXES,
    KIND_ARCHIVE,
    KIND_DIR,
    KIND_GIT,
    CodeIngestCounters,
    CodeIngestOptions,
    SourceSpec,
    Unit,
    _File,
    _MemberError,
    _Problem,
    _Skip,
    _SourceStop,
)
from lmdata.ingest.licenses import (
    MAX_LICENSE_FILE_BYTES,
    detect_repo_license,
    is_license_candidate,
)


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
        return KIND_GIT if git._is_git(path) else KIND_DIR
    if uri.lower().endswith(ARCHIVE_SUFFIXES) or (path is not None and os.path.isfile(path)):
        return KIND_ARCHIVE
    return KIND_DIR


def _default_repo_id(path: str | None, uri: str, kind: str) -> str:
    if kind == KIND_GIT and path is not None:
        rid = git._git_repo_id(path)
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
            if git._git_bin() and unit.repo_commit:
                return git._iter_git_head(path, opts)
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
    commit = git.git_head(path) if (kind == KIND_GIT and path is not None) else None
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
