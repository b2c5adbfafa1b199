from __future__ import annotations

import pytest

from lmdata.ingest.languages import (
    UNKNOWN,
    extension_of,
    interpreter_of,
    is_binary_path,
    language_of,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b/mod.py", "Python"),
        ("stubs/mod.pyi", "Python"),
        ("src/main.c", "C"),
        ("src/main.cc", "C++"),
        ("src/main.hpp", "C++"),
        ("src/App.java", "Java"),
        ("web/app.js", "JavaScript"),
        ("web/app.mjs", "JavaScript"),
        ("web/app.ts", "TypeScript"),
        ("types/index.d.ts", "TypeScript"),
        ("web/App.tsx", "TSX"),
        ("cmd/main.go", "Go"),
        ("src/lib.rs", "Rust"),
        ("lib/x.rb", "Ruby"),
        ("x.sh", "Shell"),
        ("README.md", "Markdown"),
        ("docs/index.rst", "reStructuredText"),
        ("conf.yaml", "YAML"),
        ("conf.yml", "YAML"),
        ("pyproject.toml", "TOML"),
        ("package.json", "JSON"),
        ("Makefile", "Makefile"),
        ("build/GNUmakefile", "Makefile"),
        ("Dockerfile", "Dockerfile"),
        ("docker/Dockerfile.dev", "Dockerfile"),
        ("CMakeLists.txt", "CMake"),
        ("LICENSE", "Text"),
        ("notes.txt", "Text"),
        ("nb.ipynb", "Jupyter Notebook"),
        ("UPPER.PY", "Python"),
        ("test/decimaltestdata/abs.decTest", UNKNOWN),
        ("no_extension_file", UNKNOWN),
        (".hidden", UNKNOWN),
    ],
)
def test_language_by_name_and_extension(path, expected):
    assert language_of(path) == expected


def test_shebang_decides_only_for_unknown_names():
    assert language_of("bin/tool", "#!/usr/bin/env python3\nprint(1)\n") == "Python"
    assert language_of("bin/tool", "#!/usr/bin/python3.11 -u\n") == "Python"
    assert language_of("bin/tool", "#!/bin/bash\necho\n") == "Shell"
    assert language_of("bin/tool", "#!/usr/bin/env -S node --harmony\n") == "JavaScript"
    assert language_of("bin/tool", "#!/usr/bin/env unheardof\n") == UNKNOWN
    # a known extension wins over the shebang
    assert language_of("x.rb", "#!/usr/bin/env python\n") == "Ruby"
    assert interpreter_of("#! /usr/bin/env  perl -w") == "perl"
    assert interpreter_of("no shebang") is None


def test_header_disambiguation():
    assert language_of("x.h") == "C"
    assert language_of("x.h", "#include <stdio.h>\nint f(void);\n") == "C"
    assert language_of("x.h", "#include <vector>\nnamespace a {}\n") == "C++"
    assert language_of("x.h", "template <typename T> struct S {};\n") == "C++"
    assert (
        language_of("x.h", "#import <Foundation/Foundation.h>\n@interface A\n@end\n")
        == "Objective-C"
    )
    assert language_of("x.m", "function y = f(x)\n  y = x;\nend\n") == "MATLAB"
    assert language_of("x.m", "@implementation A\n@end\n") == "Objective-C"


def test_binary_extensions_and_double_extensions():
    for p in ("a.png", "b/c.PYC", "d.tar.gz", "e.whl", "f.so", ".DS_Store", "w.woff2"):
        assert is_binary_path(p), p
    for p in ("a.py", "b.txt", "Makefile", "c.csv"):
        assert not is_binary_path(p), p
    assert extension_of("types/index.d.ts") == ".d.ts"
    assert extension_of("a.b.py") == ".py"
