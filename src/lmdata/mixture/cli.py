"""`lmdata mix` and `lmdata mixture` commands.

    lmdata mix --mixture sample [--lake DIR] [--out REPO] [--remote URL|s3://...]
        build (or find unchanged) the mixture; prints `LMDATA_STATS {...}` and
        `LMDATA_MIXTURE {"mixture","version","tag","rev","manifest","repo","remote","status",...}`
    lmdata mixture list [NAME] [--repo REPO]           versions: tag, rev, documents, tokens
    lmdata mixture checkout NAME@VERSION [--repo REPO] restore exactly that version's files
    lmdata mixture verify PATH                         the shards gate on a manifest (or its dir)

The mixtures data repository is `--out`/`--repo`, else `$LMDATA_MIXTURES_REPO`, else
`var/mixtures`; the mixture lives in `<repo>/<name>/` (manifest.json beside shards/).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lmdata.stats import MIXTURE_RESULT_PREFIX as RESULT_PREFIX
from lmdata.stats import parse_prefixed_json


def parse_result_line(text: str) -> dict[str, Any] | None:
    """The last `LMDATA_MIXTURE {...}` JSON line of a log / stdout, or None."""
    return parse_prefixed_json(text, RESULT_PREFIX)


def mix_cli(argv: list[str]) -> int:
    """`lmdata mix`: the mix stage (Spark), in-process."""
    import os

    from lmdata.spark.job import main
    from lmdata.spark.stages.mix import MixStage

    if sys.stderr.isatty():
        os.environ.setdefault("LMDATA_SPARK_CONF", "spark.ui.showConsoleProgress=true")
    return main(MixStage(), argv)


def mixture_cli(argv: list[str]) -> int:
    from lmdata.errors import LmdataError
    from lmdata.mixture.dvc import DataRepo, parse_ref, resolve_repo
    from lmdata.mixture.manifest import verify_manifest

    p = argparse.ArgumentParser(prog="lmdata mixture", description="Mixture versions (git + DVC).")
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="list mixture versions")
    ls.add_argument("name", nargs="?")
    ls.add_argument("--repo", default=None)
    ls.add_argument("--json", action="store_true")
    co = sub.add_parser("checkout", help="restore NAME@VERSION's shards, manifest and tokenizer")
    co.add_argument("ref", help="NAME@VERSION, e.g. sample@1")
    co.add_argument("--repo", default=None)
    co.add_argument("--remote", default=None, help="DVC remote to pull from (default: the repo's)")
    ve = sub.add_parser("verify", help="the shards gate: checksums and counts")
    ve.add_argument("path", help="manifest.json or its directory")
    a = p.parse_args(argv)
    try:
        if a.cmd == "verify":
            problems = verify_manifest(a.path)
            for pr in problems:
                print(f"FAIL {pr}")
            print("ok" if not problems else f"{len(problems)} problem(s)")
            return 0 if not problems else 1
        repo = DataRepo(resolve_repo(a.repo), getattr(a, "remote", None))
        if a.cmd == "list":
            rows = repo.versions(a.name)
            if a.json:
                print(json.dumps(rows, indent=2, sort_keys=True))
                return 0
            if not rows:
                print(f"no mixture versions in {repo.root}")
            for r in rows:
                print(
                    f"{r['tag']:24s} rev={r['rev'][:12]} documents={r.get('documents', '?')} "
                    f"tokens={r.get('tokens', '?')} created={r.get('created_at', '?')}"
                )
            return 0
        name, version = parse_ref(a.ref)
        with repo.lock():
            repo.ensure()
            res = repo.checkout(name, version)
        problems = verify_manifest(repo.root / name)
        res.update(mixture=name, version=version, manifest=str(repo.root / name / "manifest.json"))
        res["status"] = "checked_out" if not problems else "gate_failed"
        print(RESULT_PREFIX + json.dumps(res, sort_keys=True))
        for pr in problems:
            print(f"FAIL {pr}", file=sys.stderr)
        return 0 if not problems else 1
    except LmdataError as e:
        print(f"lmdata mixture: {e}", file=sys.stderr)
        return e.exit_code
