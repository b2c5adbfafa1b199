from lmdata.config import ExactDedupConfig
from lmdata.dedup.exact import normalize_text, text_key, url_key


def test_text_key_normalizes_case_space_and_unicode():
    cfg = ExactDedupConfig()
    a = text_key("Hello   World\n\nＦｕｌｌ", cfg)
    b = text_key("hello world full", cfg)
    assert a == b and len(a) == 32
    assert text_key("hello world fall", cfg) != a
    assert text_key("   ", cfg) is None and text_key(None, cfg) is None


def test_config_switches():
    strict = ExactDedupConfig(unicode_form="none", lowercase=False, collapse_whitespace=False)
    assert text_key("A  b", strict) != text_key("a b", strict)
    punct = ExactDedupConfig(strip_punctuation=True)
    assert normalize_text("Hello, world!", punct) == "hello world"


def test_url_key():
    assert url_key("https://www.Example.com/a/?q=1#frag") == url_key("http://example.com/a?q=1")
    assert url_key("http://example.com:8080/a") != url_key("http://example.com/a")
    assert url_key(None) is None
