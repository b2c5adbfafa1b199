"""The pinned JVM jars (delta-spark, hadoop-aws + AWS SDK v2): lock file, fetch, verify, classpath.

`infra/jars.lock` is the one source of truth (coordinates + sha256). `make setup` runs
`python -m lmdata.lake.jars fetch` once (cached: a jar whose sha256 matches is not downloaded
again); `lmdata.spark.session` and the Airflow stage operator put `spark_jars()` on `spark.jars`,
so no job reaches a network at run time. The Docker images run this same file as a script
(`python jars.py fetch --lock jars.lock --dest $SPARK_HOME/jars`).

Standard library only (it runs before the venv has anything else, and inside image builds).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"


def _home() -> Path:
    # src/lmdata/lake/jars.py -> parents[3] = repo root; an image sets LMDATA_HOME
    return Path(os.environ.get("LMDATA_HOME") or Path(__file__).resolve().parents[3])


def lock_path() -> Path:
    return Path(os.environ.get("LMDATA_JARS_LOCK") or _home() / "infra" / "jars.lock")


def jars_dir() -> Path:
    """Where `make setup` puts the jars: $LMDATA_JARS_DIR, else <repo>/.venv/jars (git-ignored,
    kept by `make clean`, rebuilt with the venv)."""
    return Path(os.environ.get("LMDATA_JARS_DIR") or _home() / ".venv" / "jars")


@dataclass(frozen=True)
class Jar:
    group: str
    artifact: str
    version: str
    sha256: str

    @property
    def coordinate(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def filename(self) -> str:
        return f"{self.artifact}-{self.version}.jar"

    def url(self, repo: str = MAVEN_CENTRAL) -> str:
        return (
            f"{repo.rstrip('/')}/{self.group.replace('.', '/')}/{self.artifact}/"
            f"{self.version}/{self.filename}"
        )


def load_lock(path: Path | str | None = None) -> list[Jar]:
    out = []
    for n, line in enumerate(Path(path or lock_path()).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        coord = parts[0].split(":")
        if len(parts) != 2 or len(coord) != 3 or len(parts[1]) != 64:
            raise ValueError(f"{path or lock_path()}:{n}: want 'group:artifact:version sha256'")
        out.append(Jar(*coord, parts[1].lower()))
    return out


def version_of(artifact: str, jars: list[Jar] | None = None) -> str:
    for j in jars or load_lock():
        if j.artifact == artifact:
            return j.version
    raise KeyError(artifact)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(
    dest: Path | None = None, repo: str = MAVEN_CENTRAL, lock: Path | None = None
) -> list[Path]:
    """Download every locked jar missing (or wrong) in `dest`, verify its sha256; idempotent."""
    dest = Path(dest or jars_dir())
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for j in load_lock(lock):
        target = dest / j.filename
        if target.exists() and sha256_of(target) == j.sha256:
            paths.append(target)
            continue
        print(f"fetching {j.coordinate} from {repo}", file=sys.stderr, flush=True)
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{j.filename}.")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(j.url(repo), timeout=120) as r:
                shutil.copyfileobj(r, out, 1 << 20)
            got = sha256_of(Path(tmp))
            if got != j.sha256:
                raise RuntimeError(f"{j.coordinate}: sha256 {got}, the lock says {j.sha256}")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        paths.append(target)
    return paths


def spark_jars(check: bool = False) -> list[str]:
    """Absolute paths of the locked jars in `jars_dir()` (what goes on `spark.jars`).

    check=True raises with the command to run when one is missing (no download at run time)."""
    d = jars_dir()
    paths = [d / j.filename for j in load_lock()]
    if check:
        missing = [p.name for p in paths if not p.exists()]
        if missing:
            raise FileNotFoundError(
                f"Delta/S3 jars missing in {d}: {missing}; run `make setup` "
                "(python -m lmdata.lake.jars fetch)"
            )
    return [str(p) for p in paths]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lmdata.lake.jars", description=__doc__.split("\n")[0]
    )
    p.add_argument("command", choices=["fetch", "verify", "classpath"])
    p.add_argument(
        "--dest", default=None, help="jar folder (default $LMDATA_JARS_DIR or .venv/jars)"
    )
    p.add_argument("--lock", default=None, help="lock file (default infra/jars.lock)")
    p.add_argument("--repo", default=os.environ.get("LMDATA_MAVEN_REPO", MAVEN_CENTRAL))
    a = p.parse_args(argv)
    if a.dest:
        os.environ["LMDATA_JARS_DIR"] = a.dest
    if a.lock:
        os.environ["LMDATA_JARS_LOCK"] = a.lock
    if a.command == "fetch":
        for path in fetch(repo=a.repo):
            print(path)
        return 0
    if a.command == "verify":
        bad = [
            j.coordinate
            for j in load_lock()
            if not (jars_dir() / j.filename).exists()
            or sha256_of(jars_dir() / j.filename) != j.sha256
        ]
        for c in bad:
            print(f"missing or wrong: {c}", file=sys.stderr)
        return 1 if bad else 0
    print(",".join(spark_jars(check=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
