"""Repository license detection: license files + package metadata -> SPDX expression + class.

Pure module (stdlib + ``license-expression``, imported lazily). Used by the code ingest
(:mod:`lmdata.ingest.code`) once per repository / archive.

Where a license comes from, strongest first (the first tier that yields a result wins):

1. ``override``: an explicit SPDX expression given for the source (e.g. the CPython standard
   library, whose directories carry no license file).
2. Declared SPDX metadata: ``License-Expression:`` in ``PKG-INFO`` / ``*.dist-info/METADATA``
   (PEP 639), ``pyproject.toml`` ``[project] license = "<expr>"`` and ``[tool.poetry] license``,
   ``package.json`` ``license``, ``Cargo.toml`` ``[package] license``, ``setup.cfg``
   ``license_expression``.
3. License files at the repository root (``LICENSE*``, ``LICENCE*``, ``COPYING*``,
   ``UNLICENSE``, ``COPYRIGHT``; also ``*.dist-info/licenses/*``), matched by distinctive
   phrases of the license texts (:func:`detect_license_text`).
4. Free-text metadata: ``License:`` of PKG-INFO/METADATA, ``setup.cfg`` ``license``,
   ``pyproject.toml`` ``license = {text = ...}``: normalized by :func:`normalize_license_name`
   (SPDX parse, then a table of common spellings such as "Apache 2.0", "New BSD", "GPLv2+").
5. Trove classifiers ``License :: OSI Approved :: ...`` (several -> ``OR``, as PyPI projects
   list the licenses one may choose from).

Expressions are normalized with ``license-expression`` (``get_spdx_licensing()``: SPDX ids,
case-insensitive, deprecated ``GPL-2.0+`` -> ``GPL-2.0-or-later``).

Class (:func:`classify`): ``permissive`` (MIT, BSD, Apache, ISC, PSF, Unlicense, CC0, ...),
``copyleft`` (GPL, LGPL, AGPL, MPL, EPL, EUPL, CDDL, ...; weak copyleft counts as copyleft, as
in The Stack, which kept permissive licenses only), else ``unknown``. ``A OR B`` takes the most
permissive choice, ``A AND B`` the most restrictive (copyleft > unknown > permissive).

Limits, by design: a full GPL/LGPL text does not say "only" or "or later" (its appendix shows
both); we report ``-only`` as ScanCode does, and ``-or-later`` when only the short notice
("... either version 3 of the License, or (at your option) any later version") is present.

Size (~800 lines, over the ~700 the project aims for): about half of it is the tables the
detection reads (the permissive / copyleft SPDX sets, ~100 name aliases, the license-text
phrases of ``_TEXT_RULES``). Each table stays beside the one function that reads it, so a rule
and its use are read together; the logic itself is ~400 lines.
"""

from __future__ import annotations

import configparser
import json
import os
import posixpath
import re
import sys
import sysconfig
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.parser import HeaderParser
from functools import lru_cache

PERMISSIVE = "permissive"
COPYLEFT = "copyleft"
UNKNOWN = "unknown"
LICENSE_CLASSES = (PERMISSIVE, COPYLEFT, UNKNOWN)

PUBLIC_DOMAIN = "LicenseRef-scancode-public-domain"  # license-expression's key for it

PERMISSIVE_IDS: frozenset[str] = frozenset(
    {
        "MIT",
        "MIT-0",
        "X11",
        "Apache-2.0",
        "Apache-1.1",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "BSD-3-Clause-Clear",
        "BSD-4-Clause",
        "BSD-2-Clause-Patent",
        "0BSD",
        "ISC",
        "Zlib",
        "Unlicense",
        "CC0-1.0",
        "PSF-2.0",
        "Python-2.0",
        "Python-2.0.1",
        "CNRI-Python",
        "BSL-1.0",
        "WTFPL",
        "NCSA",
        "PostgreSQL",
        "UPL-1.0",
        "HPND",
        "CC-BY-3.0",
        "CC-BY-4.0",
        "AFL-3.0",
        "MS-PL",
        "MulanPSL-2.0",
        "Unicode-DFS-2016",
        "Unicode-3.0",
        "BlueOak-1.0.0",
        "ECL-2.0",
        "ZPL-2.1",
        "Libpng",
        "libpng-2.0",
        "curl",
        "Beerware",
        PUBLIC_DOMAIN,
    }
)
COPYLEFT_PREFIXES: tuple[str, ...] = (
    "GPL-",
    "LGPL-",
    "AGPL-",
    "MPL-",
    "EPL-",
    "EUPL-",
    "CDDL-",
    "CPL-",
    "OSL-",
    "CC-BY-SA-",
    "SSPL-",
    "MS-RL",
    "APSL-",
    "CECILL-",
    "Sleepycat",
    "QPL-",
    "RPL-",
    "CPAL-",
    "IPL-",
)

# Free-text license names seen in package metadata -> SPDX (keys: lower-case, punctuation and
# runs of whitespace folded to one space; see _fold).
_ALIASES: dict[str, str] = {
    "mit": "MIT",
    "mit license": "MIT",
    "the mit license": "MIT",
    "mit licence": "MIT",
    "expat": "MIT",
    "expat license": "MIT",
    "mit x11": "MIT",
    "x11": "X11",
    "bsd": "BSD-3-Clause",
    "bsd license": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "modified bsd": "BSD-3-Clause",
    "modified bsd license": "BSD-3-Clause",
    "revised bsd": "BSD-3-Clause",
    "bsd 3 clause": "BSD-3-Clause",
    "3 clause bsd": "BSD-3-Clause",
    "bsd 3": "BSD-3-Clause",
    "bsd3": "BSD-3-Clause",
    "3 clause bsd license": "BSD-3-Clause",
    "bsd 3 clause license": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause",
    "freebsd": "BSD-2-Clause",
    "bsd 2 clause": "BSD-2-Clause",
    "2 clause bsd": "BSD-2-Clause",
    "bsd 2": "BSD-2-Clause",
    "apache": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache 2 0": "Apache-2.0",
    "apache2": "Apache-2.0",
    "apache license": "Apache-2.0",
    "apache license 2 0": "Apache-2.0",
    "apache license version 2 0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "apache software license 2 0": "Apache-2.0",
    "apache software license version 2 0": "Apache-2.0",
    "asl 2 0": "Apache-2.0",
    "al 2 0": "Apache-2.0",
    "isc": "ISC",
    "isc license": "ISC",
    "iscl": "ISC",
    "isc license iscl": "ISC",
    "psf": "PSF-2.0",
    "psfl": "PSF-2.0",
    "psf license": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "python software foundation": "PSF-2.0",
    "python": "Python-2.0",
    "unlicense": "Unlicense",
    "the unlicense": "Unlicense",
    "the unlicense unlicense": "Unlicense",
    "cc0": "CC0-1.0",
    "cc0 1 0": "CC0-1.0",
    "public domain": PUBLIC_DOMAIN,
    "zlib": "Zlib",
    "zlib libpng": "Zlib",
    "zlib libpng license": "Zlib",
    "boost": "BSL-1.0",
    "boost software license": "BSL-1.0",
    "wtfpl": "WTFPL",
    "mpl": "MPL-2.0",
    "mpl 2": "MPL-2.0",
    "mpl 2 0": "MPL-2.0",
    "mpl2": "MPL-2.0",
    "mozilla public license 2 0": "MPL-2.0",
    "mozilla public license 2 0 mpl 2 0": "MPL-2.0",
    "mpl 1 1": "MPL-1.1",
    "gpl": "GPL-2.0-or-later",  # an unversioned GPL lets one pick any version (GPL-2.0 Sec. 9)
    "gnu gpl": "GPL-2.0-or-later",
    "gplv2": "GPL-2.0-only",
    "gpl v2": "GPL-2.0-only",
    "gpl 2": "GPL-2.0-only",
    "gpl2": "GPL-2.0-only",
    "gplv2 or later": "GPL-2.0-or-later",
    "gplv3": "GPL-3.0-only",
    "gpl v3": "GPL-3.0-only",
    "gpl 3": "GPL-3.0-only",
    "gpl3": "GPL-3.0-only",
    "gnu gplv3": "GPL-3.0-only",
    "gplv3 or later": "GPL-3.0-or-later",
    "gnu general public license v2 gplv2": "GPL-2.0-only",
    "gnu general public license v3 gplv3": "GPL-3.0-only",
    "gnu general public license v2 or later gplv2": "GPL-2.0-or-later",
    "gnu general public license v3 or later gplv3": "GPL-3.0-or-later",
    "gnu general public license gpl": "GPL-2.0-or-later",
    "lgpl": "LGPL-2.1-or-later",
    "lgplv2": "LGPL-2.0-only",
    "lgplv2 1": "LGPL-2.1-only",
    "lgpl 2 1": "LGPL-2.1-only",
    "lgplv3": "LGPL-3.0-only",
    "lgpl 3": "LGPL-3.0-only",
    "gnu lesser general public license v2 lgplv2": "LGPL-2.0-only",
    "gnu lesser general public license v2 or later lgplv2": "LGPL-2.0-or-later",
    "gnu lesser general public license v3 lgplv3": "LGPL-3.0-only",
    "gnu lesser general public license v3 or later lgplv3": "LGPL-3.0-or-later",
    "gnu library or lesser general public license lgpl": "LGPL-2.0-or-later",
    "agpl": "AGPL-3.0-only",
    "agplv3": "AGPL-3.0-only",
    "agpl 3": "AGPL-3.0-only",
    "gnu affero general public license v3": "AGPL-3.0-only",
    "gnu affero general public license v3 or later agplv3": "AGPL-3.0-or-later",
    "epl": "EPL-2.0",
    "eclipse public license 1 0 epl 1 0": "EPL-1.0",
    "eclipse public license 2 0 epl 2 0": "EPL-2.0",
    "eplv1": "EPL-1.0",
    "eplv2": "EPL-2.0",
    "eupl 1 2": "EUPL-1.2",
    "european union public licence 1 2 eupl 1 2": "EUPL-1.2",
    "cddl": "CDDL-1.0",
    "artistic license": "Artistic-2.0",
    "universal permissive license upl": "UPL-1.0",
    "university of illinois ncsa open source license": "NCSA",
    "academic free license afl": "AFL-3.0",
}
# "Unknown" spellings: the metadata says nothing.
_NO_LICENSE = frozenset(
    {
        "",
        "unknown",
        "none",
        "n a",
        "na",
        "other",
        "proprietary",
        "other proprietary license",
        "see license",
        "see license file",
        "see license txt",
        "license txt",
        "license",
        "dual license",
        "freely distributable",
        "freeware",
        "commercial",
    }
)

_FOLD_RE = re.compile(r"[^a-z0-9]+")


def _fold(s: str) -> str:
    return _FOLD_RE.sub(" ", s.lower()).strip()


@lru_cache(maxsize=1)
def _licensing():
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@dataclass(frozen=True)
class LicenseInfo:
    expression: str | None  # normalized SPDX expression, or None when nothing was found
    license_class: str  # permissive | copyleft | unknown
    source: str | None = None  # "override" | "file:LICENSE" | "metadata:PKG-INFO:License" ...


NO_LICENSE = LicenseInfo(None, UNKNOWN, None)


# --- normalizing and classifying -----------------------------------------------------------------


def normalize_expression(expression: str) -> str | None:
    """A valid SPDX expression, normalized (``"mit or apache-2.0"`` -> ``"MIT OR Apache-2.0"``);
    None when any license key is unknown or the expression does not parse."""
    from license_expression import ExpressionError

    if not expression or not expression.strip():
        return None
    lic = _licensing()
    try:
        info = lic.validate(expression.strip())
    except (ExpressionError, TypeError, ValueError, AttributeError):
        # license-expression 30.4 raises AttributeError from validate() on some syntax errors
        return None
    if info.errors or not info.normalized_expression:
        return None
    return info.normalized_expression


def normalize_license_name(value: str) -> str | None:
    """Free-text license metadata (``"Apache 2.0"``, ``"New BSD"``, ``"MIT or GPLv2"``, or a
    whole license text) -> SPDX expression, or None."""
    if value is None:
        return None
    value = value.strip()
    folded = _fold(value)
    if folded in _NO_LICENSE:
        return None
    if len(value) > 200 or value.count("\n") >= 3:
        return detect_license_text(value)
    expr = normalize_expression(value)
    if expr:
        return expr
    alias = _alias(folded)
    if value.endswith("+") or _OR_LATER_RE.search(value):
        # "GPLv3+", "LGPL 2.1 or later": the versioned id, "-only" -> "-or-later"
        alias = _alias(_fold(_OR_LATER_RE.sub("", value.rstrip("+")))) or alias
        if alias is not None and alias.endswith("-only"):
            alias = alias[: -len("-only")] + "-or-later"
    if alias is not None:
        return alias
    # "Apache 2.0 or MIT", "MIT/Apache-2.0", "BSD and GPLv2"
    for sep_re, op in ((r"\s+or\s+|\s*/\s*|\s*\|\s*", " OR "), (r"\s+and\s+|\s*&\s*", " AND ")):
        parts = [p for p in re.split(sep_re, value, flags=re.I) if p.strip()]
        if len(parts) > 1:
            normed = [normalize_license_name(p) for p in parts]
            if all(normed):
                return normalize_expression(op.join(f"({p})" for p in normed))
    return None


_OR_LATER_RE = re.compile(r"\s*(?:,\s*)?or[ -]+(?:any[ -]+)?later(?:[ -]+version)?\s*$", re.I)


def _alias(folded: str) -> str | None:
    if folded in _ALIASES:
        return _ALIASES[folded]
    if folded.endswith(" license") and folded[: -len(" license")] in _ALIASES:
        return _ALIASES[folded[: -len(" license")]]
    return None


def classify_key(key: str) -> str:
    if key in PERMISSIVE_IDS:
        return PERMISSIVE
    if key.startswith(COPYLEFT_PREFIXES):
        return COPYLEFT
    return UNKNOWN


_AND_RANK = {PERMISSIVE: 0, UNKNOWN: 1, COPYLEFT: 2}  # AND: the most restrictive wins
_OR_RANK = {PERMISSIVE: 0, COPYLEFT: 1, UNKNOWN: 2}  # OR: the most permissive choice wins


def _classify_node(node, lic) -> str:
    if isinstance(node, lic.AND):
        return max((_classify_node(a, lic) for a in node.args), key=_AND_RANK.__getitem__)
    if isinstance(node, lic.OR):
        return min((_classify_node(a, lic) for a in node.args), key=_OR_RANK.__getitem__)
    sym = getattr(node, "license_symbol", node)  # "X WITH exception" -> X
    return classify_key(getattr(sym, "key", str(sym)))


def classify(expression: str | None) -> str:
    """``permissive`` | ``copyleft`` | ``unknown`` for an SPDX expression (None -> unknown)."""
    if not expression:
        return UNKNOWN
    from license_expression import ExpressionError

    lic = _licensing()
    try:
        node = lic.parse(expression)
    except (ExpressionError, TypeError, ValueError, AttributeError):
        return UNKNOWN
    if node is None:
        return UNKNOWN
    return _classify_node(node, lic)


def license_info(expression: str | None, source: str | None) -> LicenseInfo:
    return LicenseInfo(expression, classify(expression), source if expression else None)


# --- license texts -----------------------------------------------------------------------------

# (spdx id, regex over the folded text, exclusive). Phrases are the distinctive sentences of each
# license text (SPDX license list, choosealicense.com); folded = lower-case, any run of
# non-alphanumerics -> one space. Checked in this order; "exclusive" stops the search (the
# CPython license embeds a 0BSD text for its docs; the LGPL texts cite the GPL).
_TEXT_RULES: list[tuple[str, re.Pattern[str], bool]] = [
    (
        "Python-2.0",
        re.compile(
            r"python software foundation license version 2.*beopen com license agreement"
            r".*cnri license agreement",
            re.S,
        ),
        True,
    ),
    (
        "PSF-2.0",
        re.compile(r"python software foundation license version 2|psf license agreement"),
        True,
    ),
    (
        "AGPL-3.0-only",
        re.compile(r"gnu affero general public license version 3 19 november 2007"),
        True,
    ),
    (
        "LGPL-3.0-only",
        re.compile(r"gnu lesser general public license version 3 29 june 2007"),
        True,
    ),
    (
        "LGPL-2.1-only",
        re.compile(r"gnu lesser general public license version 2 1 february 1999"),
        True,
    ),
    ("LGPL-2.0-only", re.compile(r"gnu library general public license version 2 june 1991"), True),
    ("GPL-3.0-only", re.compile(r"gnu general public license version 3 29 june 2007"), True),
    ("GPL-2.0-only", re.compile(r"gnu general public license version 2 june 1991"), True),
    (
        "LGPL-3.0-or-later",
        re.compile(
            r"gnu lesser general public license as published by the free software "
            r"foundation either version 3 of the license or at your option any later"
        ),
        True,
    ),
    (
        "LGPL-2.1-or-later",
        re.compile(
            r"gnu lesser general public license as published by the free software "
            r"foundation either version 2 1 of the license or at your option any later"
        ),
        True,
    ),
    (
        "GPL-3.0-or-later",
        re.compile(
            r"gnu general public license as published by the free software foundation "
            r"either version 3 of the license or at your option any later"
        ),
        True,
    ),
    (
        "GPL-2.0-or-later",
        re.compile(
            r"gnu general public license as published by the free software foundation "
            r"either version 2 of the license or at your option any later"
        ),
        True,
    ),
    (
        "MPL-2.0",
        re.compile(r"mozilla public license version 2 0|mozilla public license v 2 0"),
        False,
    ),
    ("MPL-1.1", re.compile(r"mozilla public license version 1 1"), False),
    ("EPL-2.0", re.compile(r"eclipse public license v 2 0"), False),
    ("EPL-1.0", re.compile(r"eclipse public license v 1 0"), False),
    ("EUPL-1.2", re.compile(r"european union public licence v 1 2"), False),
    (
        "CDDL-1.0",
        re.compile(r"common development and distribution license cddl version 1 0"),
        False,
    ),
    (
        "Apache-2.0",
        re.compile(
            r"apache license version 2 0 january 2004|"
            r"licensed under the apache license version 2 0"
        ),
        False,
    ),
    ("Apache-1.1", re.compile(r"the apache software license version 1 1"), False),
    ("BSL-1.0", re.compile(r"boost software license version 1 0"), False),
    (
        "Unlicense",
        re.compile(r"this is free and unencumbered software released into the public domain"),
        False,
    ),
    ("CC0-1.0", re.compile(r"\bcc0 1 0 universal\b"), False),
    ("WTFPL", re.compile(r"do what the fuck you want to public license"), False),
    (
        "Zlib",
        re.compile(
            r"permission is granted to anyone to use this software for any purpose "
            r"including commercial applications and to alter it and redistribute it freely"
        ),
        False,
    ),
    (
        "MIT",
        re.compile(
            r"permission is hereby granted free of charge to any person obtaining a copy "
            r".{0,1500}?the above copyright notice and this permission notice shall be "
            r"included in all copies",
            re.S,
        ),
        False,
    ),
    (
        "MIT-0",
        re.compile(r"permission is hereby granted free of charge to any person obtaining a copy"),
        False,
    ),
    (
        "ISC",
        re.compile(
            r"permission to use copy modify and or distribute this software for any "
            r"purpose with or without fee is hereby granted provided that the above "
            r"copyright notice and this permission notice appear in all copies"
        ),
        False,
    ),
    (
        "0BSD",
        re.compile(
            r"permission to use copy modify and or distribute this software for any "
            r"purpose with or without fee is hereby granted"
        ),
        False,
    ),
    (
        "BSD",
        re.compile(
            r"redistribution and use in source and binary forms with or without "
            r"modification are permitted provided that"
        ),
        False,
    ),
]
_BSD4_RE = re.compile(r"all advertising materials mentioning features or use of this software")
_BSD3_RE = re.compile(
    r"neither the name of|the names? of (?:the |its )?(?:author|authors|contributors|copyright "
    r"holders?|[a-z ]{0,60}?) may not be used to endorse"
)
_FAMILY = {"MIT-0": "MIT", "0BSD": "ISC"}  # a match of the first suppresses the second


def detect_license_text(text: str) -> str | None:
    """SPDX expression of a license text (a LICENSE file, or a whole text in a metadata field);
    several licenses in one text are joined with AND; None when no known license matches."""
    if not text:
        return None
    folded = _fold(text[:200_000])
    found: list[str] = []
    for spdx, rx, exclusive in _TEXT_RULES:
        if not rx.search(folded):
            continue
        if spdx == "BSD":
            if _BSD4_RE.search(folded):
                spdx = "BSD-4-Clause"
            elif _BSD3_RE.search(folded):
                spdx = "BSD-3-Clause"
            else:
                spdx = "BSD-2-Clause"
        if spdx in _FAMILY and _FAMILY[spdx] in found:
            continue
        if spdx not in found:
            found.append(spdx)
        if exclusive:
            break
    return _join_and(found)


def _join_and(ids: Iterable[str]) -> str | None:
    ids = [i for i in dict.fromkeys(ids) if i]
    if not ids:
        return None
    if len(ids) == 1:
        return normalize_expression(ids[0]) or ids[0]
    expr = " AND ".join(f"({i})" if " " in i else i for i in ids)
    return normalize_expression(expr) or expr


# --- which files to read -------------------------------------------------------------------------

_LICENSE_NAME_RE = re.compile(
    r"^(?:licen[cs]e|copying|unlicense|copyright|mit-license)(?:[-._][\w.-]*)?$", re.I
)
METADATA_NAMES = frozenset(
    {"PKG-INFO", "METADATA", "pyproject.toml", "package.json", "Cargo.toml", "setup.cfg"}
)
MAX_LICENSE_FILE_BYTES = 256 * 1024


def is_license_file(path: str) -> bool:
    return bool(_LICENSE_NAME_RE.match(posixpath.basename(path)))


def is_license_candidate(path: str) -> bool:
    """Whether the repository-relative POSIX ``path`` is read for license detection: license
    files and metadata files at the root, in ``*.dist-info/`` (+ ``licenses/``),
    ``*.egg-info/`` and ``src/*.egg-info/``."""
    parts = path.split("/")
    name = parts[-1]
    dirs = parts[:-1]
    if not dirs:
        return name in METADATA_NAMES or is_license_file(name)
    if dirs[0] == "src" and len(dirs) == 2 and dirs[1].endswith(".egg-info"):
        return name == "PKG-INFO"
    if dirs[0].endswith(".dist-info"):
        if len(dirs) == 1:
            return name == "METADATA" or is_license_file(name)
        return len(dirs) == 2 and dirs[1] == "licenses"  # PEP 639: any file name
    if dirs[0].endswith(".egg-info") and len(dirs) == 1:
        return name == "PKG-INFO"
    return False


def _depth_key(path: str) -> tuple[int, str]:
    return (path.count("/"), path)


# --- metadata parsers (each returns [(tier, source, value)]) -----------------------------------

_DECLARED, _FREE_TEXT, _CLASSIFIER = 2, 4, 5


def _core_metadata(path: str, text: str) -> list[tuple[int, str, str]]:
    msg = HeaderParser().parsestr(text, headersonly=True)
    out = []
    for v in msg.get_all("License-Expression") or []:
        out.append((_DECLARED, f"metadata:{path}:License-Expression", str(v)))
    for v in msg.get_all("License") or []:
        out.append((_FREE_TEXT, f"metadata:{path}:License", str(v)))
    classifiers = [str(c) for c in msg.get_all("Classifier") or []]
    out.extend(_classifier_entries(path, classifiers))
    return out


def _classifier_entries(path: str, classifiers: list[str]) -> list[tuple[int, str, str]]:
    names = []
    for c in classifiers:
        parts = [p.strip() for p in c.split("::")]
        if parts and parts[0] == "License" and len(parts) >= 2:
            names.append(parts[-1])
    if not names:
        return []
    return [(_CLASSIFIER, f"classifier:{path}", "\x00".join(names))]


def _pyproject(path: str, text: str) -> list[tuple[int, str, str]]:
    data = tomllib.loads(text)
    out = []
    project = data.get("project") or {}
    lic = project.get("license")
    if isinstance(lic, str):
        out.append((_DECLARED, f"metadata:{path}:project.license", lic))
    elif isinstance(lic, dict) and isinstance(lic.get("text"), str):
        out.append((_FREE_TEXT, f"metadata:{path}:project.license.text", lic["text"]))
    poetry = (data.get("tool") or {}).get("poetry") or {}
    if isinstance(poetry.get("license"), str):
        out.append((_DECLARED, f"metadata:{path}:tool.poetry.license", poetry["license"]))
    classifiers = project.get("classifiers") or poetry.get("classifiers") or []
    if isinstance(classifiers, list):
        out.extend(_classifier_entries(path, [str(c) for c in classifiers]))
    return out


def _package_json(path: str, text: str) -> list[tuple[int, str, str]]:
    data = json.loads(text)
    if not isinstance(data, dict):
        return []
    lic = data.get("license")
    if isinstance(lic, dict):  # legacy {"type": "MIT", "url": ...}
        lic = lic.get("type")
    if isinstance(lic, str):
        return [(_DECLARED, f"metadata:{path}:license", lic)]
    lics = data.get("licenses")
    if isinstance(lics, list):
        types = [x.get("type") if isinstance(x, dict) else x for x in lics]
        types = [t for t in types if isinstance(t, str)]
        if types:
            return [(_DECLARED, f"metadata:{path}:licenses", " OR ".join(types))]
    return []


def _cargo(path: str, text: str) -> list[tuple[int, str, str]]:
    pkg = tomllib.loads(text).get("package") or {}
    lic = pkg.get("license")
    return [(_DECLARED, f"metadata:{path}:package.license", lic)] if isinstance(lic, str) else []


def _setup_cfg(path: str, text: str) -> list[tuple[int, str, str]]:
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.read_string(text)
    if not cp.has_section("metadata"):
        return []
    md = cp["metadata"]
    out = []
    if md.get("license_expression"):
        out.append((_DECLARED, f"metadata:{path}:license_expression", md["license_expression"]))
    if md.get("license"):
        out.append((_FREE_TEXT, f"metadata:{path}:license", md["license"]))
    if md.get("classifiers"):
        out.extend(_classifier_entries(path, md["classifiers"].strip().splitlines()))
    return out


_PARSERS = {
    "PKG-INFO": _core_metadata,
    "METADATA": _core_metadata,
    "pyproject.toml": _pyproject,
    "package.json": _package_json,
    "Cargo.toml": _cargo,
    "setup.cfg": _setup_cfg,
}


def _classifier_expression(names: list[str]) -> str | None:
    ids = [normalize_license_name(n) for n in names]
    ids = [i for i in dict.fromkeys(ids) if i]
    if not ids:
        return None
    if len(ids) == 1:
        return ids[0]
    return normalize_expression(" OR ".join(f"({i})" for i in ids))


def detect_repo_license(files: Mapping[str, str], override: str | None = None) -> LicenseInfo:
    """The repository's license from the texts of its candidate files (repository-relative
    path -> decoded text; see :func:`is_license_candidate`). Never raises for bad content: a
    metadata file that does not parse is ignored."""
    if override:
        expr = normalize_expression(override) or normalize_license_name(override)
        return license_info(expr or override, "override")
    entries: list[tuple[int, str, str]] = []
    license_files: list[str] = []
    for path in sorted(files, key=_depth_key):
        name = posixpath.basename(path)
        parser = _PARSERS.get(name)
        if parser is not None:
            try:
                entries.extend(parser(path, files[path]))
            except Exception:  # noqa: BLE001 - broken metadata is not an error of the repo
                continue
        elif is_license_file(name) or "/licenses/" in path:
            license_files.append(path)
    # tier 2: declared SPDX expressions
    for tier, source, value in entries:
        if tier == _DECLARED:
            expr = normalize_expression(value) or normalize_license_name(value)
            if expr:
                return license_info(expr, source)
    # tier 3: license files (all found at the shallowest depth that has any)
    found: list[tuple[str, str]] = []
    for path in license_files:
        spdx = detect_license_text(files[path])
        if spdx:
            found.append((path, spdx))
    if found:  # the shallowest level that has any (root files beat dist-info/licenses/*)
        top = min(p.count("/") for p, _ in found)
        found = [(p, s) for p, s in found if p.count("/") == top]
        ids: list[str] = []
        for _, spdx in found:
            ids.extend(s.strip("()") for s in spdx.split(" AND "))
        if any(i.startswith("LGPL-") for i in ids):  # COPYING + COPYING.LESSER: the LGPL
            ids = [i for i in ids if not i.startswith("GPL-")]
        expr = _join_and(ids)
        return license_info(expr, "file:" + ",".join(p for p, _ in found))
    # tier 4: free text; tier 5: classifiers
    for want in (_FREE_TEXT, _CLASSIFIER):
        for tier, source, value in entries:
            if tier != want:
                continue
            expr = (
                normalize_license_name(value)
                if tier == _FREE_TEXT
                else _classifier_expression(value.split("\x00"))
            )
            if expr:
                return license_info(expr, source)
    return NO_LICENSE


def license_of_file(path: str | os.PathLike) -> LicenseInfo:
    """The license of one license file on disk (e.g. the interpreter's LICENSE.txt)."""
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_LICENSE_FILE_BYTES).decode("utf-8", "replace")
    except OSError:
        return NO_LICENSE
    return license_info(detect_license_text(text), f"file:{os.fspath(path)}")


def python_license_path() -> str | None:
    """The running interpreter's LICENSE.txt (``<stdlib>/LICENSE.txt``), if installed."""
    candidates = [
        os.path.join(sysconfig.get_paths()["stdlib"], "LICENSE.txt"),
        os.path.join(
            sys.base_prefix,
            "lib",
            f"python{sys.version_info[0]}.{sys.version_info[1]}",
            "LICENSE.txt",
        ),
    ]
    for c in candidates:
        if os.path.isfile(c):
            return c
    return None
