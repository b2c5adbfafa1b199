"""Git sources: HEAD commit, origin URL -> repo id, and the HEAD tree as a reader.

``git_head`` (``git rev-parse``, else read from ``.git`` without a git binary), ``_git_repo_id``
(``remote.origin.url`` -> ``github.com/o/r``), and ``_iter_git_head``: the files of the HEAD
tree (``git ls-tree`` + one ``git cat-file --batch``), so content matches ``repo_commit``.

Who calls whom: :mod:`.sources` calls these (through the module, ``git._git_bin()``, so that a
test patching ``git._git_bin`` reaches every caller); this module uses only :mod:`.units`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator

from lmdata.ingest.code.units import (
    CodeIngestOptions,
    _File,
    _Problem,
    _Skip,
    _SourceStop,
)


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
