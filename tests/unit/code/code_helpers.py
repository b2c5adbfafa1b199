"""Shared helpers for the code-ingest tests (a uniquely named module: several conftest.py exist).

Everything malicious or broken (symlink loops, path-traversal archives, zip bombs, truncated
archives, non-UTF-8 files) is built here or in the tests, at test time, in tmp_path; the real
corpora are the running interpreter's standard library and the venv's site-packages.
"""

from __future__ import annotations

import os
import sysconfig
from collections import Counter
from pathlib import Path

from lmdata.ingest.code import CodeIngestCounters, CodeIngestOptions, iter_unit, plan_units

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])

MIT_TEXT = """MIT License

Copyright (c) 2024 Example Author

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
"""

GPL3_NOTICE = """This program is free software: you can redistribute it and/or modify
it under the terms of the GNU General Public License as published by
the Free Software Foundation, either version 3 of the License, or
(at your option) any later version.
"""

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``root`` with ``files`` (relative path -> text or bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return root


def ingest(sources, opts: CodeIngestOptions | None = None, max_files_per_unit: int = 10_000):
    """(files by path, reject rows, counters, units) of planning + iterating every unit."""
    opts = opts or CodeIngestOptions(run_id="test-run")
    counters = CodeIngestCounters()
    units = plan_units(sources, max_files_per_unit, opts)
    files: dict[str, dict] = {}
    rejects: list[dict] = []
    for unit in units:
        for kind, row in iter_unit(unit, opts, counters):
            if kind == "file":
                key = f"{row['repo_id']}:{row['path']}"
                assert key not in files, f"{key} emitted twice"
                files[key] = row
            else:
                assert kind == "reject"
                rejects.append(row)
    return files, rejects, counters, units


def paths_of(files: dict[str, dict]) -> set[str]:
    return {row["path"] for row in files.values()}


def reasons(rejects: list[dict]) -> Counter:
    return Counter(r["reason"] for r in rejects)
