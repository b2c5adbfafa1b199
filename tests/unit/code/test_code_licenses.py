from __future__ import annotations

import json

import pytest
from code_helpers import GPL3_NOTICE, MIT_TEXT, SITE_PACKAGES

from lmdata.ingest.licenses import (
    COPYLEFT,
    PERMISSIVE,
    UNKNOWN,
    classify,
    detect_license_text,
    detect_repo_license,
    is_license_candidate,
    license_of_file,
    normalize_expression,
    normalize_license_name,
    python_license_path,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("MIT", "MIT"),
        ("mit", "MIT"),
        ("MIT License", "MIT"),
        ("Apache 2.0", "Apache-2.0"),
        ("Apache License, Version 2.0", "Apache-2.0"),
        ("Apache Software License", "Apache-2.0"),
        ("apache-2.0 or bsd-2-clause", "Apache-2.0 OR BSD-2-Clause"),
        ("New BSD", "BSD-3-Clause"),
        ("BSD 3-Clause", "BSD-3-Clause"),
        ("GPLv2", "GPL-2.0-only"),
        ("GPL-2.0+", "GPL-2.0-or-later"),
        ("GPLv3+", "GPL-3.0-or-later"),
        ("LGPL 2.1 or later", "LGPL-2.1-or-later"),
        ("LGPLv3", "LGPL-3.0-only"),
        ("MPL 2.0", "MPL-2.0"),
        ("PSF", "PSF-2.0"),
        ("ISC License (ISCL)", "ISC"),
        ("Unlicense", "Unlicense"),
        ("Public Domain", "LicenseRef-scancode-public-domain"),
        ("Apache 2.0 or MIT", "Apache-2.0 OR MIT"),
        ("MIT/Apache-2.0", "MIT OR Apache-2.0"),
        ("MPL-2.0 AND (Apache-2.0 OR MIT)", "MPL-2.0 AND (Apache-2.0 OR MIT)"),
        ("UNKNOWN", None),
        ("", None),
        ("Dual License", None),
        ("some homegrown license", None),
    ],
)
def test_normalize_license_name(value, expected):
    assert normalize_license_name(value) == expected


@pytest.mark.parametrize(
    ("expr", "cls"),
    [
        ("MIT", PERMISSIVE),
        ("Apache-2.0 OR BSD-2-Clause", PERMISSIVE),
        ("GPL-3.0-or-later", COPYLEFT),
        ("LGPL-2.1-only", COPYLEFT),
        ("MPL-2.0", COPYLEFT),
        ("MIT OR GPL-2.0-only", PERMISSIVE),  # OR: one may choose MIT
        ("MIT AND GPL-2.0-only", COPYLEFT),  # AND: both apply
        ("MPL-2.0 AND (Apache-2.0 OR MIT)", COPYLEFT),
        ("GPL-2.0-only WITH Classpath-exception-2.0", COPYLEFT),
        ("Artistic-2.0", UNKNOWN),
        ("MIT AND Artistic-2.0", UNKNOWN),
        ("GPL-2.0-only OR Artistic-2.0", COPYLEFT),
        ("LicenseRef-scancode-public-domain", PERMISSIVE),
        (None, UNKNOWN),
        ("not an expression ((", UNKNOWN),
    ],
)
def test_classify(expr, cls):
    assert classify(expr) == cls


def test_normalize_expression_rejects_unknown_keys():
    assert normalize_expression("mit OR apache-2.0") == "MIT OR Apache-2.0"
    assert normalize_expression("Apache 2.0") is None
    assert normalize_expression("") is None


def test_license_texts_synthetic():
    assert detect_license_text(MIT_TEXT) == "MIT"
    assert detect_license_text(GPL3_NOTICE) == "GPL-3.0-or-later"
    lgpl = "GNU LESSER GENERAL PUBLIC LICENSE\n   Version 2.1, February 1999\n\n Copyright ..."
    assert detect_license_text(lgpl) == "LGPL-2.1-only"
    agpl = "GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3, 19 November 2007\n"
    assert detect_license_text(agpl) == "AGPL-3.0-only"
    isc = (
        "Permission to use, copy, modify, and/or distribute this software for any purpose with "
        "or without fee is hereby granted, provided that the above copyright notice and this "
        "permission notice appear in all copies."
    )
    assert detect_license_text(isc) == "ISC"
    assert detect_license_text(isc.split(", provided")[0] + ".") == "0BSD"
    bsd = (
        "Redistribution and use in source and binary forms, with or without modification, are "
        "permitted provided that the following conditions are met:\n1. ...\n2. ...\n"
    )
    assert detect_license_text(bsd) == "BSD-2-Clause"
    assert (
        detect_license_text(bsd + "3. Neither the name of the copyright holder nor ...")
        == "BSD-3-Clause"
    )
    assert (
        detect_license_text(
            bsd + "All advertising materials mentioning features or use of this software"
        )
        == "BSD-4-Clause"
    )
    assert (
        detect_license_text('Licensed under the Apache License, Version 2.0 (the "License")')
        == "Apache-2.0"
    )
    assert (
        detect_license_text(
            "This is free and unencumbered software released into the public domain."
        )
        == "Unlicense"
    )
    assert detect_license_text("Mozilla Public License Version 2.0\n====") == "MPL-2.0"
    assert detect_license_text("All rights reserved. Do not copy.") is None
    # two licenses in one file: both, joined with AND
    assert (
        detect_license_text(MIT_TEXT + "\n\nMozilla Public License Version 2.0\n")
        == "MPL-2.0 AND MIT"
    )


def test_interpreter_license_is_python():
    path = python_license_path()
    if path is None:
        pytest.skip("this interpreter has no LICENSE.txt")
    info = license_of_file(path)
    assert info.expression == "Python-2.0"  # the PSF license stack (PSF, BeOpen, CNRI, CWI)
    assert info.license_class == PERMISSIVE


# real license files shipped in installed distributions: (dist-info glob, file, expected SPDX)
REAL_LICENSE_FILES = [
    ("six-*.dist-info", "LICENSE", "MIT"),
    ("boolean_py-*.dist-info", "licenses/LICENSE.txt", "BSD-2-Clause"),
    ("click_plugins-*.dist-info", "licenses/LICENSE.txt", "BSD-3-Clause"),
    ("requests-*.dist-info", "licenses/LICENSE", "Apache-2.0"),
    ("dnspython-*.dist-info", "licenses/LICENSE", "ISC"),
    ("email_validator-*.dist-info", "licenses/LICENSE", "Unlicense"),
    ("certifi-*.dist-info", "licenses/LICENSE", "MPL-2.0"),
    ("grandalf-*.dist-info", "LICENSE", "GPL-2.0-only"),
    ("python_daemon-*.dist-info", "LICENSE.GPL-3", "GPL-3.0-only"),
    ("asyncssh-*.dist-info", "licenses/LICENSE", "EPL-2.0"),
    ("typing_extensions-*.dist-info", "licenses/LICENSE", "Python-2.0"),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), REAL_LICENSE_FILES)
def test_real_license_files(pattern, name, expected):
    found = sorted(SITE_PACKAGES.glob(pattern))
    if not found or not (found[-1] / name).is_file():
        pytest.skip(f"{pattern}/{name} not installed")
    assert detect_license_text((found[-1] / name).read_text(errors="replace")) == expected


def test_candidates():
    yes = [
        "LICENSE",
        "LICENSE.txt",
        "LICENCE.md",
        "COPYING",
        "COPYING.LESSER",
        "LICENSE-MIT",
        "UNLICENSE",
        "PKG-INFO",
        "pyproject.toml",
        "package.json",
        "Cargo.toml",
        "setup.cfg",
        "x-1.0.dist-info/METADATA",
        "x-1.0.dist-info/LICENSE",
        "x-1.0.dist-info/licenses/NOTICE",
        "x.egg-info/PKG-INFO",
        "src/x.egg-info/PKG-INFO",
    ]
    no = [
        "src/LICENSE",
        "docs/pyproject.toml",
        "a/b/package.json",
        "licenses.py",
        "x-1.0.dist-info/RECORD",
    ]
    assert all(is_license_candidate(p) for p in yes), [
        p for p in yes if not is_license_candidate(p)
    ]
    assert not any(is_license_candidate(p) for p in no), [p for p in no if is_license_candidate(p)]


def test_tiers_and_sources():
    pkg_info = (
        "Metadata-Version: 2.4\nName: x\nVersion: 1\nLicense: BSD\n"
        "Classifier: License :: OSI Approved :: MIT License\n"
    )
    # free-text License: loses to a license file
    info = detect_repo_license({"PKG-INFO": pkg_info, "LICENSE": MIT_TEXT})
    assert (info.expression, info.source) == ("MIT", "file:LICENSE")
    # ... but wins over classifiers
    info = detect_repo_license({"PKG-INFO": pkg_info})
    assert (info.expression, info.source) == ("BSD-3-Clause", "metadata:PKG-INFO:License")
    # classifiers only (several -> OR)
    cls_only = (
        "Metadata-Version: 2.1\nName: x\n"
        "Classifier: License :: OSI Approved :: Apache Software License\n"
        "Classifier: License :: OSI Approved :: MIT License\n"
        "Classifier: Programming Language :: Python\n"
    )
    info = detect_repo_license({"PKG-INFO": cls_only})
    assert info.expression == "Apache-2.0 OR MIT" and info.source == "classifier:PKG-INFO"
    # a declared SPDX expression beats the license file
    expr = "Metadata-Version: 2.4\nName: x\nLicense-Expression: GPL-3.0-or-later\n"
    info = detect_repo_license({"PKG-INFO": expr, "LICENSE": MIT_TEXT})
    assert info.expression == "GPL-3.0-or-later" and info.license_class == COPYLEFT
    # override beats everything
    info = detect_repo_license({"PKG-INFO": expr}, override="psf-2.0")
    assert (info.expression, info.license_class, info.source) == ("PSF-2.0", PERMISSIVE, "override")
    # nothing
    info = detect_repo_license({"README": "hello"})
    assert (info.expression, info.license_class, info.source) == (None, UNKNOWN, None)


def test_project_metadata_files():
    assert (
        detect_repo_license(
            {"pyproject.toml": '[project]\nname="x"\nlicense = "MIT OR Apache-2.0"\n'}
        ).expression
        == "MIT OR Apache-2.0"
    )
    assert (
        detect_repo_license(
            {"pyproject.toml": '[project]\nlicense = {text = "BSD License"}\n'}
        ).expression
        == "BSD-3-Clause"
    )
    assert (
        detect_repo_license(
            {"pyproject.toml": '[tool.poetry]\nlicense = "LGPL-3.0-or-later"\n'}
        ).expression
        == "LGPL-3.0-or-later"
    )
    assert detect_repo_license({"package.json": json.dumps({"license": "ISC"})}).expression == "ISC"
    assert (
        detect_repo_license({"package.json": json.dumps({"license": {"type": "MIT"}})}).expression
        == "MIT"
    )
    assert (
        detect_repo_license(
            {"package.json": json.dumps({"licenses": [{"type": "MIT"}, {"type": "GPL-2.0"}]})}
        ).expression
        == "MIT OR GPL-2.0-only"
    )
    assert (
        detect_repo_license({"Cargo.toml": '[package]\nlicense = "MIT/Apache-2.0"\n'}).expression
        == "MIT OR Apache-2.0"
    )
    cfg = "[metadata]\nname = x\nlicense = Apache 2.0\nclassifiers =\n    License :: OSI Approved :: MIT License\n"
    assert detect_repo_license({"setup.cfg": cfg}).expression == "Apache-2.0"
    # broken metadata is ignored, not an error
    broken = {
        "pyproject.toml": "[project\nlicense=",
        "package.json": "{not json",
        "LICENSE": MIT_TEXT,
    }
    assert detect_repo_license(broken).expression == "MIT"
    # COPYING + COPYING.LESSER: the LGPL (its text cites the GPL)
    gpl = "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n"
    lgpl = "GNU LESSER GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n"
    info = detect_repo_license({"COPYING": gpl, "COPYING.LESSER": lgpl})
    assert info.expression == "LGPL-3.0-only" and info.license_class == COPYLEFT
