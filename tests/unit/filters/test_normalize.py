"""Text normalization: each step counted, code-safe options, idempotence (hypothesis)."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmdata.errors import ConfigError
from lmdata.filters.normalize import NormalizeOptions, normalize, normalize_counted, sha256_text

CODE = {"ftfy": False, "strip_zero_width": False, "collapse_whitespace": False}
CJK = {"fullwidth_punct": {"zh": True, "ja": True}}


def test_each_kind_is_fixed_and_counted():
    text = "The caf\u00c3\u00a9 doesn\u00e2\u20ac\u2122t\x07 open\u200b  early.\r\n\r\n\r\n\r\nNext\u00ad"
    out, changes = normalize_counted(text)
    assert out == "The caf\u00e9 doesn\u2019t open early.\n\nNext"
    assert changes == {
        "mojibake": 1,
        "control": 1,
        "newline": 4,
        "zero_width": 2,
        "whitespace": 2,
    }
    decomposed = "cafe\u0301"
    assert normalize_counted(decomposed) == ("caf\u00e9", {"unicode_form": 1})
    assert normalize("\uff21\uff22\uff23", {"unicode_form": "NFKC"}) == "ABC"
    assert normalize_counted("clean text") == ("clean text", {})


def test_zwj_and_zwnj_are_kept():
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ is meaningful
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert normalize(persian) == persian and normalize(family) == family


def test_fullwidth_punctuation_per_language():
    assert normalize_counted("我们很好, 你呢? 价格１２３元.", CJK) == (
        "我们很好，你呢？价格123元。",
        {"fullwidth": 6},
    )
    assert normalize("日本語です, ありがとう.", CJK) == "日本語です、ありがとう。"
    assert normalize("我们很好, 你呢?", {"fullwidth_punct": {"ja": True}}) == "我们很好, 你呢?"
    assert normalize("访问 example.com 或 中文.com", CJK) == "访问 example.com 或 中文.com"
    assert normalize("Hello, world.", CJK) == "Hello, world."


def test_code_options_keep_indentation_and_literals():
    src = "def f(x):\r\n    if x:\r\n\treturn '\u200b  '\n\n\n\n# end\n"
    out, changes = normalize_counted(src, CODE)
    assert out == src.replace("\r\n", "\n")
    assert changes == {"newline": 2}


def test_bad_options_name_the_key():
    with pytest.raises(ConfigError, match="unicode_form"):
        NormalizeOptions.from_mapping({"unicode_form": "NFD"})
    with pytest.raises(ConfigError, match="unknown keys"):
        NormalizeOptions.from_mapping({"lowercase": True})
    with pytest.raises(ConfigError, match="fullwidth_punct"):
        NormalizeOptions.from_mapping({"fullwidth_punct": {"ko": True}})


def test_original_hash_is_sha256_of_utf8():
    import hashlib

    assert sha256_text("caf\u00e9") == hashlib.sha256("caf\u00e9".encode()).hexdigest()
    assert sha256_text("a") != sha256_text("a ")


_ALPHABET = st.sampled_from(
    list("ab ,.?!:;\t\n\r")
    + ["\u00c3", "\u00a9", "\u00e2", "\u20ac", "\u2122", "\u200b", "\u00ad", "\u200d", "\x00"]
    + ["\x85", "\u0301", "e", "\u00a0", "\u3000", "中", "文", "か", "\uff11", "\uff21", "\ufeff"]
)
_TEXT = st.lists(_ALPHABET, max_size=40).map("".join) | st.text(max_size=60)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_normalize_is_idempotent(text):
    for opts in (None, CODE, CJK, {"unicode_form": "NFKC", **CJK}):
        once = normalize(text, opts)
        assert normalize(once, opts) == once
        assert unicodedata.is_normalized("NFC", once)


def test_params_validate_the_text_steps():
    from lmdata.config import parse_params

    p = parse_params({})
    assert p.curate.web.normalize.collapse_whitespace and p.curate.web.repeated_lines.min_docs == 3
    assert not p.curate.code.normalize.collapse_whitespace and p.curate.code.repeated_lines is None
    assert [b.name for b in p.curate.code.decontam.benchmarks] == ["humaneval"]
    for bad, msg in (
        ({"code": {"normalize": {"collapse_whitespace": True}}}, "indentation"),
        ({"code": {"repeated_lines": {}}}, "web text only"),
        ({"web": {"decontam": {"action": "remove"}}}, "curate.web.decontam.action"),
        ({"web": {"normalize": {"unicode_form": "NFD"}}}, "curate.web.normalize.unicode_form"),
        ({"web": {"decontam": {"benchmarks": [{"name": "a"}, {"name": "a"}]}}}, "duplicate"),
    ):
        with pytest.raises(ConfigError, match=msg):
            parse_params({"curate": bad})
