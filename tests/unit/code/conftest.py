"""Fixtures for the code-ingest tests (helpers live in code_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from code_helpers import MIT_TEXT, write_tree


@pytest.fixture
def small_repo(tmp_path: Path) -> Path:
    return write_tree(
        tmp_path / "repo",
        {
            "LICENSE": MIT_TEXT,
            "README.md": "# Demo\n\nA small demo repository.\n",
            "pkg/__init__.py": "from .core import add\n",
            "pkg/core.py": "def add(a, b):\n    return a + b\n",
            "pkg/util.js": "export function twice(x) {\n  return 2 * x;\n}\n",
            "scripts/run": "#!/usr/bin/env bash\necho hi\n",
            "include/api.h": "#include <vector>\nnamespace api { class X {}; }\n",
            "data/table.csv": "a,b\n1,2\n",
            "assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "pkg/__pycache__/core.cpython-311.pyc": b"\x00\x01\x02",
            "empty.py": "",
        },
    )
