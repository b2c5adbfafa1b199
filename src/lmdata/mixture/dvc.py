"""The mixtures' data repository: git + DVC, one commit and tag per mixture version.

Layout of the repository (default `var/mixtures`, `$LMDATA_MIXTURES_REPO`, or `--out`):

    <repo>/.git  .dvc/            git + DVC (initialised on first use)
    <repo>/<name>/manifest.json   tracked by DVC (manifest.json.dvc in git)
    <repo>/<name>/tokenizer.json  tracked by DVC
    <repo>/<name>/shards/         tracked by DVC (shards.dvc in git)
    <repo>/<name>/DATASHEET.md    in git (the dataset card)

Each version is a git commit + annotated tag `<name>@v<N>` whose message is JSON (fingerprint,
documents, tokens, created_at), and a `dvc push` to the remote: a local directory by default
(`var/dvc-remote`), S3 (or any S3-compatible store) when the remote URL is `s3://...`; the
endpoint comes from `$LMDATA_S3_ENDPOINT` / `$AWS_ENDPOINT_URL`, credentials from the
environment. `checkout(name, version)` restores that version's files byte for byte
(`git checkout <tag> -- <name>` + `dvc checkout`, `dvc pull` when the local cache lacks them).

DVC runs non-interactively (analytics and update checks off) through its Python API
(`dvc.repo.Repo`, in-process: one import instead of one interpreter per command), and every
operation on the repository holds an exclusive file lock (Airflow adds a one-slot pool on top).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lmdata.errors import FatalError, RetryableError
from lmdata.mixture.manifest import CARD, MANIFEST, SHARDS_DIR, TOKENIZER_FILE

log = logging.getLogger(__name__)

DEFAULT_REPO = "var/mixtures"
DEFAULT_REMOTE = "var/dvc-remote"
REMOTE_NAME = "storage"
LOCK_FILE = ".lmdata-dvc.lock"
DVC_TARGETS = (SHARDS_DIR, MANIFEST, TOKENIZER_FILE)
_GIT_ID = ["-c", "user.name=lmdata", "-c", "user.email=lmdata@localhost",
           "-c", "commit.gpgsign=false", "-c", "tag.gpgSign=false"]  # fmt: skip


def tag_name(name: str, version: int) -> str:
    return f"{name}@v{version}"


def parse_ref(ref: str) -> tuple[str, int]:
    """`sample@3`, `sample@v3` -> ("sample", 3)."""
    m = re.match(r"^([a-z0-9][a-z0-9_.-]*)@v?(\d+)$", ref)
    if not m:
        raise FatalError(f"mixture reference {ref!r}: expected NAME@VERSION, e.g. sample@1")
    return m.group(1), int(m.group(2))


def resolve_repo(path: str | None = None) -> Path:
    return Path(path or os.environ.get("LMDATA_MIXTURES_REPO") or DEFAULT_REPO).resolve()


def resolve_remote(url: str | None = None) -> str:
    u = url or os.environ.get("LMDATA_DVC_REMOTE") or DEFAULT_REMOTE
    return u if "://" in u else str(Path(u).resolve())


def _quiet_dvc() -> None:
    """DVC's API logs through its own handlers: warnings only, to the current stderr (never
    to stdout, where stage result lines go, nor to a stream closed since)."""
    import sys

    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    os.environ.setdefault("DVC_NO_UPDATE_CHECK", "1")
    lg = logging.getLogger("dvc")
    lg.setLevel(logging.WARNING)
    for h in lg.handlers:
        if isinstance(h, logging.StreamHandler):
            h.stream = sys.stderr  # (setStream would flush the old, maybe closed, stream)


class DataRepo:
    def __init__(self, root: str | Path, remote: str | None = None):
        self.root = Path(root).resolve()
        self.remote = remote  # None: keep what the repository has (else the default)

    # ------------------------------------------------------------------ running tools
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DVC_NO_ANALYTICS="1", DVC_NO_UPDATE_CHECK="1", GIT_TERMINAL_PROMPT="0")
        env.setdefault("GIT_AUTHOR_NAME", "lmdata")
        env.setdefault("GIT_AUTHOR_EMAIL", "lmdata@localhost")
        env.setdefault("GIT_COMMITTER_NAME", "lmdata")
        env.setdefault("GIT_COMMITTER_EMAIL", "lmdata@localhost")
        return env

    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            args, cwd=self.root, env=self._env(), capture_output=True, text=True, timeout=3600
        )
        if check and proc.returncode != 0:
            msg = f"{' '.join(args[:4])} ... failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
            transient = any(
                s in proc.stderr.lower() for s in ("connection", "timed out", "timeout", "503")
            )
            raise (RetryableError if transient else FatalError)(msg)
        return proc

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self._run(["git", *_GIT_ID, *args], check=check)

    def dvc(self, fn: Callable[[Any], Any]) -> Any:
        """Run fn(repo) on a fresh `dvc.repo.Repo` of this repository (closed afterwards)."""
        _quiet_dvc()
        from dvc.exceptions import DvcException
        from dvc.repo import Repo

        _quiet_dvc()

        try:
            repo = Repo(str(self.root))
            try:
                return fn(repo)
            finally:
                repo.close()
        except DvcException as e:
            text = f"{type(e).__name__}: {e} {e.__cause__ or ''}"
            transient = any(s in text.lower() for s in ("connect", "timed out", "timeout", "503"))
            raise (RetryableError if transient else FatalError)(f"dvc: {text}") from e

    def _paths(self, name: str, suffix: str = "") -> list[str]:
        return [str(self.root / name / f"{t}{suffix}") for t in DVC_TARGETS]

    # ------------------------------------------------------------------ setup
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock over the repository (blocks until the holder is done)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def ensure(self) -> None:
        """git init + dvc init when missing; non-interactive DVC settings; the remote."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.root / ".git").exists():
            self.git("init", "-q", "-b", "main")
        if not (self.root / ".dvc").exists():
            _quiet_dvc()
            from dvc.repo import Repo

            _quiet_dvc()
            Repo.init(str(self.root)).close()
        gi = self.root / ".gitignore"
        lines = gi.read_text().splitlines() if gi.exists() else []
        for pat in (f"/{LOCK_FILE}", ".staging-*/"):
            if pat not in lines:
                lines.append(pat)
        gi.write_text("\n".join(lines) + "\n")
        current = self.remote_url()
        want = resolve_remote(self.remote) if (self.remote or current is None) else current
        endpoint = os.environ.get("LMDATA_S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")

        def configure(repo) -> None:
            with repo.config.edit() as conf:
                conf["core"]["analytics"] = False
                conf["core"]["check_update"] = False
                conf["core"]["autostage"] = True
                if want != current:
                    conf["remote"][REMOTE_NAME] = {"url": want}
                conf["core"]["remote"] = REMOTE_NAME
            if want.startswith("s3://") and endpoint:  # deployment-specific: not committed
                with repo.config.edit("local") as conf:
                    conf["remote"].setdefault(REMOTE_NAME, {})["endpointurl"] = endpoint

        self.dvc(configure)
        if self.git("rev-parse", "--verify", "-q", "HEAD", check=False).returncode != 0:
            self.git("add", ".gitignore", ".dvc/config", ".dvc/.gitignore", ".dvcignore")
            self.git("commit", "-q", "-m", "lmdata mixtures repository")
        elif self.git("status", "--porcelain", ".gitignore", ".dvc/config").stdout.strip():
            self.git("add", ".gitignore", ".dvc/config")
            self.git("commit", "-q", "-m", "lmdata: repository settings")

    def remote_url(self) -> str | None:
        if not (self.root / ".dvc" / "config").exists():
            return None
        import configparser

        cp = configparser.ConfigParser()
        cp.read(self.root / ".dvc" / "config")
        sec = f"'remote \"{REMOTE_NAME}\"'"
        return cp.get(sec, "url", fallback=None)

    # ------------------------------------------------------------------ versions
    def versions(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every tagged mixture version (oldest first): name, version, tag, rev, and the tag's
        JSON facts (fingerprint, documents, tokens, created_at)."""
        if not (self.root / ".git").exists():
            return []
        pat = f"refs/tags/{name}@v*" if name else "refs/tags/*@v*"
        out = self.git(
            "for-each-ref", "--format=%(refname:short)%00%(*objectname)%00%(contents)%01", pat
        ).stdout
        rows = []
        for rec in out.split("\x01"):
            rec = rec.strip("\n")
            if not rec:
                continue
            tag, rev, body = (rec.split("\x00") + ["", ""])[:3]
            try:
                n, v = parse_ref(tag)
            except FatalError:
                continue
            try:
                facts = json.loads(body.strip() or "{}")
            except json.JSONDecodeError:
                facts = {}
            rows.append({"name": n, "version": v, "tag": tag, "rev": rev, **facts})
        return sorted(rows, key=lambda r: (r["name"], r["version"]))

    def next_version(self, name: str) -> int:
        return 1 + max((r["version"] for r in self.versions(name)), default=0)

    def find_fingerprint(self, name: str, fp: str) -> dict[str, Any] | None:
        for r in reversed(self.versions(name)):
            if r.get("fingerprint") == fp:
                return r
        return None

    def commit_version(self, name: str, version: int, facts: dict[str, Any]) -> dict[str, Any]:
        """DVC-track the mixture's data, commit, tag `<name>@v<version>`, push. Call under lock()."""
        self.dvc(lambda repo: repo.add(self._paths(name)))
        targets = [f"{name}/{t}" for t in DVC_TARGETS]
        self.git("add", *[f"{t}.dvc" for t in targets], f"{name}/.gitignore", f"{name}/{CARD}")
        tag = tag_name(name, version)
        self._commit_and_tag(f"mixture {tag}", tag, facts)
        self.push(name)
        return {"tag": tag, "rev": self.rev(tag)}

    def track_dir(self, rel: str, tag: str, facts: dict[str, Any], what: str) -> dict[str, Any]:
        """DVC-track the directory `rel` (relative to the root) as one unit, commit its pointer,
        tag it `tag` (message: `facts` as JSON), push its data. Call under lock(). For artefacts
        other than mixtures (trained quality models: `lmdata quality-model train --track`);
        `restore_dir` brings a tagged one back."""
        if self._has_tag(tag):
            raise FatalError(f"{tag} is already tagged in {self.root}: not overwritten")
        path = str(self.root / rel)
        self.dvc(lambda repo: repo.add([path]))
        self.git("add", f"{rel}.dvc", str(Path(rel).parent / ".gitignore"))
        self._commit_and_tag(f"{what} {tag}", tag, facts)
        self.dvc(lambda repo: repo.push(targets=[f"{path}.dvc"], remote=REMOTE_NAME))
        return {"tag": tag, "rev": self.rev(tag), "repo": str(self.root)}

    def restore_dir(self, rel: str, tag: str) -> dict[str, Any]:
        """The files of `rel` as tagged `tag`, from the local DVC cache or else the remote."""
        if not self._has_tag(tag):
            raise FatalError(f"no version {tag} in {self.root}")
        self.git("checkout", "-q", tag, "--", f"{rel}.dvc")
        pulled = self._checkout_data([str(self.root / f"{rel}.dvc")])
        return {"tag": tag, "rev": self.rev(tag), "pulled": pulled, "path": str(self.root / rel)}

    def _has_tag(self, tag: str) -> bool:
        return (
            self.git("rev-parse", "--verify", "-q", f"refs/tags/{tag}", check=False).returncode == 0
        )

    def _commit_and_tag(self, message: str, tag: str, facts: dict[str, Any]) -> None:
        """Commit what is staged (a version with nothing new still gets its commit) and tag it
        annotated, its message the version's facts as JSON (read back by versions())."""
        self.git("commit", "-q", "--allow-empty", "-m", message)
        self.git("tag", "-a", tag, "-m", json.dumps(facts, sort_keys=True))

    def _checkout_data(self, targets: list[str]) -> bool:
        """The data of these .dvc pointers in the working tree, from the local cache or else the
        remote; True when it had to be pulled."""
        try:
            self.dvc(lambda repo: repo.checkout(targets=targets, force=True))
            return False
        except FatalError as e:  # not in the local cache: fetch from the remote
            log.info("dvc checkout incomplete (%s); pulling from the remote", e)
            self.dvc(lambda repo: repo.pull(targets=targets, remote=REMOTE_NAME, force=True))
            return True

    def push(self, name: str) -> None:
        self.dvc(lambda repo: repo.push(targets=self._paths(name, ".dvc"), remote=REMOTE_NAME))

    def rev(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", f"{ref}^{{commit}}").stdout.strip()

    def checkout(self, name: str, version: int) -> dict[str, Any]:
        """Restore the files of `<name>@v<version>` in the working tree (call under lock())."""
        tag = tag_name(name, version)
        if not self._has_tag(tag):
            known = ", ".join(r["tag"] for r in self.versions(name)) or "none"
            raise FatalError(f"no mixture version {tag} in {self.root} (versions: {known})")
        self.git("checkout", "-q", tag, "--", name)
        pulled = self._checkout_data(self._paths(name, ".dvc"))
        return {"tag": tag, "rev": self.rev(tag), "pulled": pulled, "path": str(self.root / name)}
