"""File path (+ first line) -> programming language, in the spirit of GitHub Linguist.

Pure module (stdlib only). Linguist (github-linguist/linguist, ``lib/linguist/languages.yml``)
decides a file's language from, in order: its exact file name, its shebang interpreter, its
extension, and content heuristics for ambiguous extensions. We do the same with a small,
hand-checked subset of ``languages.yml`` covering the languages of The Stack / StarCoder plus the
usual configuration and documentation formats; names are Linguist's display names
("Python", "C++", "Shell", "Jupyter Notebook", ...). Anything else is ``"unknown"`` (kept: the
ingest does not drop files for their language; the mixture decides).

Ambiguous extensions get Linguist's default with one cheap heuristic each (``.h``: C unless the
head looks like C++ / Objective-C; ``.m``: Objective-C unless it looks like MATLAB).

Also here: extensions of files that are binary by nature (skipped by the ingest without being
read) and the languages that are *data* rather than code (the ``data_file`` rule of
:mod:`lmdata.filters.code_filters`).
"""

from __future__ import annotations

import posixpath
import re

UNKNOWN = "unknown"

# Exact file names (Linguist ``filenames:``), matched case-sensitively first, then lower-cased.
FILENAME_LANGUAGES: dict[str, str] = {
    "Makefile": "Makefile",
    "makefile": "Makefile",
    "GNUmakefile": "Makefile",
    "Kbuild": "Makefile",
    "Dockerfile": "Dockerfile",
    "Containerfile": "Dockerfile",
    "CMakeLists.txt": "CMake",
    "Rakefile": "Ruby",
    "Gemfile": "Ruby",
    "Podfile": "Ruby",
    "Vagrantfile": "Ruby",
    "Jenkinsfile": "Groovy",
    "BUILD": "Starlark",
    "BUILD.bazel": "Starlark",
    "WORKSPACE": "Starlark",
    "SConstruct": "Python",
    "SConscript": "Python",
    "meson.build": "Meson",
    "go.mod": "Go Module",
    "go.sum": "Go Checksums",
    "Cargo.lock": "TOML",
    "Pipfile": "TOML",
    "Pipfile.lock": "JSON",
    "package.json": "JSON",
    "tsconfig.json": "JSON with Comments",
    ".bashrc": "Shell",
    ".bash_profile": "Shell",
    ".profile": "Shell",
    ".zshrc": "Shell",
    ".gitignore": "Ignore List",
    ".dockerignore": "Ignore List",
    ".gitattributes": "Git Attributes",
    ".editorconfig": "EditorConfig",
    "LICENSE": "Text",
    "LICENCE": "Text",
    "COPYING": "Text",
    "README": "Text",
    "NEWS": "Text",
    "CHANGES": "Text",
    "AUTHORS": "Text",
    "PKG-INFO": "Text",
    "MANIFEST.in": "Text",
    "requirements.txt": "Pip Requirements",
    "setup.cfg": "INI",
    "tox.ini": "INI",
    ".flake8": "INI",
    "nginx.conf": "Nginx",
}

# Extensions (lower-case, with the dot; longest match wins, so ".d.ts" beats ".ts").
EXTENSION_LANGUAGES: dict[str, str] = {
    # Python family
    ".py": "Python",
    ".pyw": "Python",
    ".pyi": "Python",
    ".pyx": "Cython",
    ".pxd": "Cython",
    ".pxi": "Cython",
    ".ipynb": "Jupyter Notebook",
    # C family
    ".c": "C",
    ".h": "C",  # Linguist default; see _disambiguate_h
    ".cc": "C++",
    ".cpp": "C++",
    ".cxx": "C++",
    ".c++": "C++",
    ".hh": "C++",
    ".hpp": "C++",
    ".hxx": "C++",
    ".h++": "C++",
    ".inl": "C++",
    ".ipp": "C++",
    ".tpp": "C++",
    ".cu": "Cuda",
    ".cuh": "Cuda",
    ".m": "Objective-C",  # see _disambiguate_m
    ".mm": "Objective-C++",
    ".cs": "C#",
    ".csx": "C#",
    # JVM
    ".java": "Java",
    ".kt": "Kotlin",
    ".kts": "Kotlin",
    ".scala": "Scala",
    ".sc": "Scala",
    ".groovy": "Groovy",
    ".gradle": "Gradle",
    ".clj": "Clojure",
    ".cljs": "Clojure",
    ".cljc": "Clojure",
    ".edn": "edn",
    # web
    ".js": "JavaScript",
    ".mjs": "JavaScript",
    ".cjs": "JavaScript",
    ".jsx": "JavaScript",
    ".ts": "TypeScript",
    ".mts": "TypeScript",
    ".cts": "TypeScript",
    ".d.ts": "TypeScript",
    ".tsx": "TSX",
    ".vue": "Vue",
    ".svelte": "Svelte",
    ".html": "HTML",
    ".htm": "HTML",
    ".xhtml": "HTML",
    ".css": "CSS",
    ".scss": "SCSS",
    ".sass": "Sass",
    ".less": "Less",
    ".php": "PHP",
    ".phtml": "PHP",
    # systems / others
    ".go": "Go",
    ".rs": "Rust",
    ".swift": "Swift",
    ".zig": "Zig",
    ".nim": "Nim",
    ".d": "D",
    ".dart": "Dart",
    ".rb": "Ruby",
    ".rake": "Ruby",
    ".gemspec": "Ruby",
    ".erb": "HTML+ERB",
    ".pl": "Perl",
    ".pm": "Perl",
    ".t": "Perl",
    ".pod": "Pod",
    ".lua": "Lua",
    ".r": "R",
    ".rmd": "RMarkdown",
    ".jl": "Julia",
    ".hs": "Haskell",
    ".lhs": "Literate Haskell",
    ".ml": "OCaml",
    ".mli": "OCaml",
    ".fs": "F#",
    ".fsi": "F#",
    ".fsx": "F#",
    ".ex": "Elixir",
    ".exs": "Elixir",
    ".erl": "Erlang",
    ".hrl": "Erlang",
    ".elm": "Elm",
    ".purs": "PureScript",
    ".lisp": "Common Lisp",
    ".lsp": "Common Lisp",
    ".cl": "Common Lisp",
    ".el": "Emacs Lisp",
    ".scm": "Scheme",
    ".ss": "Scheme",
    ".rkt": "Racket",
    ".f": "Fortran",
    ".for": "Fortran",
    ".f77": "Fortran",
    ".f90": "Fortran Free Form",
    ".f95": "Fortran Free Form",
    ".f03": "Fortran Free Form",
    ".f08": "Fortran Free Form",
    ".ada": "Ada",
    ".adb": "Ada",
    ".ads": "Ada",
    ".pas": "Pascal",
    ".pp": "Pascal",
    ".vb": "Visual Basic .NET",
    ".bas": "VBA",
    ".vbs": "VBScript",
    ".asm": "Assembly",
    ".s": "Unix Assembly",
    ".nasm": "Assembly",
    ".wat": "WebAssembly",
    ".v": "Verilog",
    ".sv": "SystemVerilog",
    ".svh": "SystemVerilog",
    ".vhd": "VHDL",
    ".vhdl": "VHDL",
    ".sol": "Solidity",
    ".tcl": "Tcl",
    ".awk": "Awk",
    ".sed": "sed",
    ".vim": "Vim Script",
    ".coffee": "CoffeeScript",
    ".cr": "Crystal",
    ".hx": "Haxe",
    ".pro": "Prolog",
    ".prolog": "Prolog",
    ".sql": "SQL",
    ".pls": "PLSQL",
    ".plsql": "PLSQL",
    ".proto": "Protocol Buffer",
    ".thrift": "Thrift",
    ".graphql": "GraphQL",
    ".gql": "GraphQL",
    ".tf": "HCL",
    ".hcl": "HCL",
    ".nix": "Nix",
    ".cmake": "CMake",
    ".mk": "Makefile",
    ".mak": "Makefile",
    ".dockerfile": "Dockerfile",
    ".bzl": "Starlark",
    ".star": "Starlark",
    ".y": "Yacc",
    ".yy": "Yacc",
    ".l": "Lex",
    ".ll": "LLVM",
    ".g4": "ANTLR",
    ".smali": "Smali",
    ".st": "Smalltalk",
    ".mojo": "Mojo",
    ".cob": "COBOL",
    ".cbl": "COBOL",
    ".matlab": "MATLAB",
    # shells
    ".sh": "Shell",
    ".bash": "Shell",
    ".zsh": "Shell",
    ".ksh": "Shell",
    ".fish": "fish",
    ".ps1": "PowerShell",
    ".psm1": "PowerShell",
    ".psd1": "PowerShell",
    ".bat": "Batchfile",
    ".cmd": "Batchfile",
    # markup / docs
    ".md": "Markdown",
    ".markdown": "Markdown",
    ".mdx": "MDX",
    ".rst": "reStructuredText",
    ".adoc": "AsciiDoc",
    ".asciidoc": "AsciiDoc",
    ".org": "Org",
    ".tex": "TeX",
    ".sty": "TeX",
    ".cls": "TeX",
    ".bib": "BibTeX",
    ".txt": "Text",
    ".text": "Text",
    ".1": "Roff",
    ".3": "Roff",
    ".man": "Roff",
    ".texi": "Texinfo",
    # config / data
    ".json": "JSON",
    ".jsonl": "JSON",
    ".ndjson": "JSON",
    ".geojson": "JSON",
    ".json5": "JSON5",
    ".jsonc": "JSON with Comments",
    ".yaml": "YAML",
    ".yml": "YAML",
    ".toml": "TOML",
    ".ini": "INI",
    ".cfg": "INI",
    ".conf": "INI",
    ".properties": "Java Properties",
    ".xml": "XML",
    ".xsd": "XML",
    ".xsl": "XSLT",
    ".xslt": "XSLT",
    ".svg": "SVG",
    ".plist": "XML Property List",
    ".csv": "CSV",
    ".tsv": "TSV",
    ".diff": "Diff",
    ".patch": "Diff",
    ".pem": "Text",
    ".in": "Text",
}

# Shebang interpreters (Linguist ``interpreters:``).
INTERPRETER_LANGUAGES: dict[str, str] = {
    "python": "Python",
    "python2": "Python",
    "python3": "Python",
    "pypy": "Python",
    "pypy3": "Python",
    "sh": "Shell",
    "bash": "Shell",
    "dash": "Shell",
    "zsh": "Shell",
    "ksh": "Shell",
    "fish": "fish",
    "node": "JavaScript",
    "nodejs": "JavaScript",
    "deno": "TypeScript",
    "ts-node": "TypeScript",
    "ruby": "Ruby",
    "perl": "Perl",
    "perl5": "Perl",
    "php": "PHP",
    "lua": "Lua",
    "Rscript": "R",
    "julia": "Julia",
    "tclsh": "Tcl",
    "wish": "Tcl",
    "awk": "Awk",
    "gawk": "Awk",
    "make": "Makefile",
    "pwsh": "PowerShell",
    "runhaskell": "Haskell",
    "escript": "Erlang",
    "elixir": "Elixir",
    "scala": "Scala",
    "groovy": "Groovy",
    "swift": "Swift",
    "osascript": "AppleScript",
}

# Binary by nature: the ingest skips these without reading them (counted as skipped_binary).
BINARY_EXTENSIONS: frozenset[str] = frozenset(
    """
    .png .jpg .jpeg .gif .bmp .ico .icns .webp .tif .tiff .psd .xcf .heic .avif .sgi .xbm .ppm
    .pgm .pbm .pdf .ps .eps .djvu .zip .gz .tgz .bz2 .tbz2 .xz .txz .lz .lzma .zst .7z .rar .tar
    .jar .war .ear .whl .egg .apk .deb .rpm .dmg .iso .img .msi .so .dylib .dll .exe .o .a .obj
    .lib .ko .pyc .pyo .pyd .class .dex .wasm .woff .woff2 .ttf .otf .eot .mp3 .mp4 .m4a .wav
    .ogg .oga .flac .aac .aif .aiff .aifc .au .avi .mov .mkv .webm .wmv .flv .mid .midi .db .sqlite
    .sqlite3 .mdb .npy .npz .pkl .pickle .joblib .h5 .hdf5 .parquet .orc .avro .arrow .feather
    .onnx .pt .pth .ckpt .safetensors .pb .tflite .bin .pck .doc .docx .xls .xlsx .ppt .pptx
    .odt .ods .odp .ftz .mo .gmo .DS_Store
    """.lower().split()
)

# Languages whose files are data rather than code (StarCoder's JSON/YAML size rule, extended
# to delimited tables).
DATA_LANGUAGES: frozenset[str] = frozenset({"JSON", "JSON5", "YAML", "CSV", "TSV"})

# Languages where a minified file is common (code_filters' ``minified`` score).
WEB_LANGUAGES: frozenset[str] = frozenset(
    {"JavaScript", "TypeScript", "CSS", "SCSS", "Less", "HTML", "Vue", "Svelte"}
)

_SHEBANG_RE = re.compile(r"^#!\s*(\S+)(?:\s+(\S+))?")
_CPP_H_RE = re.compile(
    r"^\s*(?:#include\s*<(?:iostream|string|vector|map|memory|algorithm|cstdint|cstddef)>"
    r"|namespace\s+\w+|class\s+\w+\s*(?::|\{)|template\s*<|using\s+namespace\b)",
    re.M,
)
_OBJC_RE = re.compile(r"^\s*(?:@interface|@implementation|@protocol|@end|#import\b)", re.M)
_MATLAB_RE = re.compile(r"^\s*(?:function\s+[\[\w]|%\s|end\s*$)", re.M)


def extension_of(path: str) -> str:
    """The lower-cased extension Linguist would match (``.d.ts``-style double ones first)."""
    name = posixpath.basename(path).lower()
    dot = name.find(".", 1)  # a leading dot is a hidden file, not an extension
    while dot != -1:
        ext = name[dot:]
        if ext in EXTENSION_LANGUAGES or ext in BINARY_EXTENSIONS:
            return ext
        dot = name.find(".", dot + 1)
    _, ext = posixpath.splitext(name)
    return ext


def is_binary_path(path: str) -> bool:
    """True when the extension says the file is binary by nature (images, archives, objects)."""
    name = posixpath.basename(path)
    if name == ".DS_Store":
        return True
    _, ext = posixpath.splitext(name.lower())
    return ext in BINARY_EXTENSIONS


def interpreter_of(head: str) -> str | None:
    """The interpreter of a ``#!`` line (``/usr/bin/env python3 -u`` -> ``python3``)."""
    m = _SHEBANG_RE.match(head)
    if m is None:
        return None
    prog = posixpath.basename(m.group(1))
    if prog == "env" and m.group(2):
        arg = m.group(2)
        if arg.startswith("-"):  # env -S python3 ...
            rest = head[m.end(2) :].split()
            arg = rest[0] if rest else ""
        prog = posixpath.basename(arg)
    return prog or None


def _from_interpreter(prog: str | None) -> str | None:
    if not prog:
        return None
    if prog in INTERPRETER_LANGUAGES:
        return INTERPRETER_LANGUAGES[prog]
    # python3.11, ruby2.7, perl5.36 ...
    base = re.sub(r"[\d.]+$", "", prog)
    return INTERPRETER_LANGUAGES.get(base)


def _disambiguate_h(head: str) -> str:
    if _OBJC_RE.search(head):
        return "Objective-C"
    if _CPP_H_RE.search(head):
        return "C++"
    return "C"


def _disambiguate_m(head: str) -> str:
    if _OBJC_RE.search(head):
        return "Objective-C"
    if _MATLAB_RE.search(head):
        return "MATLAB"
    return "Objective-C"


def language_of(path: str, head: str | None = None) -> str:
    """Linguist-style language name of ``path`` (a relative POSIX path), or ``"unknown"``.

    ``head`` (optional): the first few KiB of the decoded text, for shebangs and the ``.h`` /
    ``.m`` heuristics. Order: file name, extension, shebang (a shebang only decides for files
    whose name did not).
    """
    name = posixpath.basename(path)
    lang = FILENAME_LANGUAGES.get(name) or FILENAME_LANGUAGES.get(name.lower())
    if lang:
        return lang
    if name.startswith("Dockerfile.") or name.endswith(".Dockerfile"):
        return "Dockerfile"
    ext = extension_of(path)
    lang = EXTENSION_LANGUAGES.get(ext)
    if lang is not None and head is not None:
        if ext == ".h":
            return _disambiguate_h(head[:8192])
        if ext == ".m":
            return _disambiguate_m(head[:8192])
    if lang is not None:
        return lang
    if head and head.startswith("#!"):
        lang = _from_interpreter(interpreter_of(head[:256].splitlines()[0]))
        if lang:
            return lang
    return UNKNOWN
