"""The mixture manifest (`manifest.json`) and the shards gate.

Shape (paths relative to the manifest's directory; read by lmdata.train and the DAGs):

    {"mixture": NAME, "version": INT, "created_at": ISO, "seed": INT, "spec": {...resolved...},
     "sources": [{"name", "table", "delta_version", "filter", "weight", "documents", "tokens",
                  "selection" (only a source that selects by attributes: see stages/mix.py)}],
     "tokenizer": {"path", "sha256", "vocab_size", "eod_id", "dtype"},
     "shards": [{"prefix", "bin", "idx", "bin_sha256", "idx_sha256", "documents", "tokens"}],
     "totals": {"documents", "tokens", "tokens_by_source", "tokens_by_language",
                "documents_by_source"}}

`verify_manifest(path)` is the shards gate: every file's sha256 matches, every index's document
and token counts match the manifest, every document ends with the end-of-document id, totals
add up, tokens >= documents. It returns the problems (empty = pass).
`fingerprint(manifest)` identifies a mixture's content (spec, table versions, tokenizer and
shard hashes) without its version number and creation time: equal fingerprints = same data.

Pure module (json, hashlib, numpy).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
TOKENIZER_FILE = "tokenizer.json"
SHARDS_DIR = "shards"
CARD = "DATASHEET.md"


def shard_prefix(index: int) -> str:
    return f"{SHARDS_DIR}/part-{index:05d}"


def fingerprint(manifest: dict[str, Any]) -> str:
    body = {
        "mixture": manifest["mixture"],
        "seed": manifest["seed"],
        "spec": manifest["spec"],
        "tokenizer_sha256": manifest["tokenizer"]["sha256"],
        "shards": [
            [s["prefix"], s["bin_sha256"], s["idx_sha256"], s["documents"], s["tokens"]]
            for s in manifest["shards"]
        ],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=False) + "\n"


def write_manifest(directory: str | Path, manifest: dict[str, Any]) -> Path:
    p = Path(directory) / MANIFEST
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(dumps(manifest))
    os.replace(tmp, p)
    return p


def load_manifest(path: str | Path) -> tuple[dict[str, Any], Path]:
    """(manifest, its directory). `path` is the manifest file or its directory."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST
    if not p.exists():
        raise FileNotFoundError(f"no manifest at {p}")
    return json.loads(p.read_text()), p.parent


_REQUIRED = {
    "mixture": str,
    "version": int,
    "created_at": str,
    "seed": int,
    "spec": dict,
    "sources": list,
    "tokenizer": dict,
    "shards": list,
    "totals": dict,
}


def verify_manifest(path: str | Path, *, check_eod: bool = True) -> list[str]:
    """The shards gate: a list of problems (empty when the mixture is sound)."""
    from lmdata.tokens.megatron import IndexedDataset
    from lmdata.tokens.train import sha256_file

    try:
        m, root = load_manifest(path)
    except (OSError, ValueError) as e:
        return [f"manifest unreadable: {e}"]
    problems: list[str] = []
    for k, t in _REQUIRED.items():
        if not isinstance(m.get(k), t):
            problems.append(f"manifest: {k} missing or not {t.__name__}")
    if problems:
        return problems
    tok = m["tokenizer"]
    tpath = root / tok.get("path", TOKENIZER_FILE)
    if not tpath.exists():
        problems.append(f"tokenizer: {tpath} missing")
    elif sha256_file(tpath) != tok.get("sha256"):
        problems.append(f"tokenizer: sha256 of {tpath.name} does not match the manifest")
    eod = tok.get("eod_id")
    docs_total = tokens_total = 0
    for s in m["shards"]:
        name = s.get("prefix", "?")
        bad = False
        for kind in ("bin", "idx"):
            f = root / s[kind]
            if not f.exists():
                problems.append(f"shard {name}: {s[kind]} missing")
                bad = True
            elif sha256_file(f) != s[f"{kind}_sha256"]:
                problems.append(f"shard {name}: sha256 of {s[kind]} does not match the manifest")
                bad = True
        if bad:
            continue
        try:
            ds = IndexedDataset(root / s["prefix"])
        except (ValueError, KeyError, OSError) as e:
            problems.append(f"shard {name}: unreadable index: {e}")
            continue
        if len(ds) != s["documents"]:
            problems.append(
                f"shard {name}: index has {len(ds)} documents, manifest {s['documents']}"
            )
        if ds.num_tokens != s["tokens"]:
            problems.append(
                f"shard {name}: index has {ds.num_tokens} tokens, manifest {s['tokens']}"
            )
        if str(ds.dtype.__name__) != tok.get("dtype"):
            problems.append(f"shard {name}: dtype {ds.dtype.__name__}, manifest {tok.get('dtype')}")
        if s["tokens"] < s["documents"]:
            problems.append(f"shard {name}: fewer tokens ({s['tokens']}) than documents")
        end = ds.sequence_pointers.astype("int64") + ds.sequence_lengths.astype("int64") * (
            ds.tokens().itemsize
        )
        if len(ds) and int(end.max()) > os.path.getsize(root / s["bin"]):
            problems.append(f"shard {name}: index points past the end of {s['bin']}")
        elif check_eod and eod is not None and len(ds):
            flat = ds.tokens()
            last = (ds.sequence_pointers // flat.itemsize + ds.sequence_lengths - 1).astype("int64")
            if (ds.sequence_lengths <= 0).any() or (flat[last] != eod).any():
                problems.append(f"shard {name}: a document does not end with eod id {eod}")
        docs_total += s["documents"]
        tokens_total += s["tokens"]
    t = m["totals"]
    if t.get("documents") != sum(s["documents"] for s in m["shards"]):
        problems.append("totals: documents do not add up to the shards' documents")
    if t.get("tokens") != sum(s["tokens"] for s in m["shards"]):
        problems.append("totals: tokens do not add up to the shards' tokens")
    if sum((t.get("tokens_by_source") or {}).values()) != t.get("tokens"):
        problems.append("totals: tokens_by_source does not add up to tokens")
    if sum(src["tokens"] for src in m["sources"]) != t.get("tokens"):
        problems.append("sources: tokens do not add up to totals.tokens")
    if t.get("tokens", 0) < t.get("documents", 0):
        problems.append("totals: fewer tokens than documents")
    return problems


def iter_documents(path: str | Path) -> Iterator[Any]:
    """Token arrays of every document of a mixture, shard by shard (eod removed)."""
    from lmdata.tokens.shards import ShardReader

    m, root = load_manifest(path)
    for s in m["shards"]:
        yield from ShardReader(root / s["prefix"], m["tokenizer"]["eod_id"]).documents()


def iter_texts(path: str | Path) -> Iterator[str]:
    """Decoded text of every document of a mixture (byte-level BPE: exactly the source text)."""
    from lmdata.tokens.train import load_tokenizer

    m, root = load_manifest(path)
    tok = load_tokenizer(root / m["tokenizer"]["path"])
    for doc in iter_documents(path):
        yield tok.decode(doc.tolist(), skip_special_tokens=False)
