"""WARC response records -> HTML main text (real Common Crawl data and WARC-library edge cases)."""

from __future__ import annotations

import re

import pytest

from lmdata.ingest.warc import decode_html, is_html

# Measured on whirlwind (CC-MAIN-2024-22, an.wikipedia.org/wiki/Escopete), resiliparse 2.0,
# main_content=True vs CC's own WET text (which keeps menus and footers):
#   word-set containment of the WARC text in the WET text: 0.923
#   word-set Jaccard: 0.355;  difflib ratio: 0.587
# (main_content=False would give Jaccard 0.929 / difflib 0.897: the gap is boilerplate removal.)
MIN_CONTAINMENT = 0.9
MIN_JACCARD = 0.3


def _words(s: str) -> set[str]:
    return set(re.findall(r"\w+", s.lower()))


def test_whirlwind_warc_main_text_is_close_to_the_wet_text(h):
    wet = h.ingest_path(h.CC / "whirlwind.warc.wet.gz").docs[0]
    res = h.ingest_path(h.CC / "whirlwind.warc.gz")
    [doc] = res.docs
    assert doc["url"] == wet["url"]
    a, b = _words(wet["text"]), _words(doc["text"])
    assert len(a & b) / len(b) >= MIN_CONTAINMENT
    assert len(a & b) / len(a | b) >= MIN_JACCARD
    assert doc["text"].startswith("Escopete")
    assert "Municipio de Castiella-La Mancha" in doc["text"]
    assert "Menú principal" in wet["text"] and "Menú principal" not in doc["text"]  # boilerplate
    assert doc["source"] == "cc-warc"
    assert doc["html_lang"] == "an"
    assert doc["charset"] == "utf-8"
    assert doc["content_type"] == "text/html"
    # CLD2's language from the metadata record that follows the response, as in the WET header
    assert wet["cc_lang"] == "spa" and doc["cc_lang"] == "spa"
    assert doc["doc_id"] != wet["doc_id"]  # different source and digest
    assert res.counters["skipped_other_type"] == 3  # warcinfo, request, metadata
    assert res.rejects == []


# (url fragment, charset used, a word that only decodes right with that charset)
WARCFILE_EXPECTED = [
    ("003338.cn", "utf-8", "广东省人民政府"),
    ("01spb.ru", "cp1251", "безопасности"),  # HTTP windows-1251
    ("035.psb556.com", "utf-8", "车型搜索"),
    ("037426.cn", "gb18030", "KUNSHAN"),  # HTTP gb2312 (decoded with its superset gb18030)
    ("041696.com", "gb18030", "企业公告"),  # <meta charset=gbk>
    ("044545.com", "utf-8", "好消息"),
    ("0513mt.com", "utf-8", "我女友的女友"),
    ("05925.net", "utf-8", "您的位置"),  # UTF-8 BOM
    ("06.live-radsport.ch/fahrer", "cp1252", "Kategorien"),  # undeclared: detected ISO-8859-1
    ("06.live-radsport.ch/tipp", "cp1252", "Persönliche"),
    ("0615235.com", "utf-8", "产品搜索"),
    ("0755krk.com", "gb18030", "博文资讯"),
    ("0760.jxtdw.com", "gb18030", "中山英才网"),
    ("077678u.info", "gb18030", "二肖输尽光"),
    ("0900-hovenier.nl", "utf-8", "Hovenier"),
    ("096355.com", "gb18030", "您的位置"),
]


def test_warcfile_yields_16_html_docs_with_the_right_charsets(h):
    res = h.ingest_path(h.CC / "warcfile.warc.gz", crawl="CC-MAIN-2020-34")
    assert res.rejects == []
    assert len(res.docs) == 16
    for doc, (frag, charset, word) in zip(res.docs, WARCFILE_EXPECTED, strict=True):
        assert frag in doc["url"]
        assert doc["charset"] == charset, doc["url"]
        assert word in doc["text"], (doc["url"], doc["text"][:200])
        assert "\ufffd" not in doc["text"] and "\ufeff" not in doc["text"]
    c = res.counters
    # 16 request + 16 metadata + warcinfo + 1 trailing request (the excerpt ends there)
    assert c["skipped_other_type"] == 34 and c["records_seen"] == 50
    assert c["crawl_mismatch"] == 0
    assert c["charset_detected"] == 2  # the two undeclared ISO-8859-1 pages
    offsets = [d["record_offset"] for d in res.docs]
    assert offsets == sorted(offsets) and len(set(offsets)) == 16


def test_html_lang_attribute(h):
    res = h.ingest_path(h.EDGE / "html-lang-attribute.warc", min_text_chars=0)
    assert [d["html_lang"] for d in res.docs] == ["en", "zh-CN", "cs-cz", "en", "es-MX"]
    # the pages have an empty <body/>: by default they are quarantined as empty extractions
    res = h.ingest_path(h.EDGE / "html-lang-attribute.warc")
    assert res.reasons == ["empty_extraction"] * 5 and res.docs == []


def test_chunked_transfer_encoding_is_decoded(h):
    [doc] = h.ingest_path(h.EDGE / "example-iana.org-chunked.warc").docs
    assert doc["text"].startswith("Internet Assigned Numbers Authority")
    assert not re.search(r"^[0-9a-f]{4,6}$", doc["text"], re.M)  # no chunk-size lines
    assert doc["byte_length"] == 7223  # de-chunked body


@pytest.mark.parametrize(
    "name",
    ["example.warc.gz", "example-bad-non-chunked.warc.gz", "example-wget-bad-target-uri.warc.gz"],
)
def test_content_encoding_gzip_is_decoded(h, name):
    [doc] = h.ingest_path(h.EDGE / name).docs
    assert doc["text"].startswith("Example Domain")
    assert doc["url"] == "http://example.com/"


def test_jwarc_cc_record(h):
    [doc] = h.ingest_path(h.EDGE / "cc.warc.gz").docs
    assert doc["url"] == "http://commoncrawl.org/" and doc["html_lang"] == "en-US"
    assert "web crawl data" in doc["text"]


def test_arc_file_is_rejected_as_unsupported(h):
    res = h.ingest_path(h.EDGE / "example.arc.gz")
    assert res.docs == [] and res.reasons == ["unsupported_format"]
    assert res.rejects[0]["record_offset"] is None


def test_resource_and_revisit_records_are_skipped(h):
    res = h.ingest_path(h.EDGE / "example-resource.warc.gz")
    assert res.rows == [] and res.counters["skipped_other_type"] == 3
    res = h.ingest_path(h.EDGE / "example-space-in-target-uri.warc.gz")
    assert res.rows == [] and res.counters["skipped_other_type"] == 2


def _one(h, body: bytes, **kw):
    return h.ingest_bytes(h.gz(h.response_record("http://e.org/p", body, **kw)))


PAGE = b"<html lang=de><body><article><p>Ein ganz normaler Absatz mit Text.</p></article></body></html>"


def test_non_html_responses_are_skipped_and_counted(h):
    png = b"\x89PNG\r\n\x1a\n" + bytes(200)
    for body, ct in (
        (png, "image/png"),
        (b"%PDF-1.4 ...", "application/pdf"),
        (PAGE, "text/plain"),
    ):
        res = _one(h, body, content_type=ct)
        assert res.rows == [] and res.counters["skipped_non_html"] == 1, ct
    res = _one(h, png, content_type=None)  # no Content-Type: sniffed, not HTML
    assert res.rows == [] and res.counters["skipped_non_html"] == 1


@pytest.mark.parametrize("ct", [None, "application/octet-stream"])
def test_html_is_sniffed_when_content_type_is_missing_or_generic(h, ct):
    [doc] = _one(h, PAGE, content_type=ct).docs
    assert doc["text"] == "Ein ganz normaler Absatz mit Text." and doc["html_lang"] == "de"
    assert doc["content_type"] == "text/html"


def test_non_2xx_responses_are_skipped(h):
    res = _one(h, PAGE, status=404)
    assert res.rows == [] and res.counters["skipped_http_status"] == 1


def test_html_that_extracts_to_nothing_is_quarantined(h):
    res = _one(h, b"<html><head><title>t</title><script>x()</script></head><body></body></html>")
    assert res.reasons == ["empty_extraction"]
    assert res.rejects[0]["record_id"].startswith("<urn:uuid:")


RUSSIAN = (
    "<html><body><p>Съешь же ещё этих мягких французских булок, да выпей чаю.</p></body></html>"
)


def test_misdeclared_http_charset_falls_back_to_meta_then_detection(h):
    body = RUSSIAN.replace("<html>", '<html><head><meta charset="windows-1251"></head>')
    res = _one(h, body.encode("cp1251"), content_type="text/html; charset=utf-8")
    [doc] = res.docs
    assert doc["charset"] == "cp1251" and "французских" in doc["text"]
    assert res.counters["charset_overridden"] == 1
    # without a meta tag, byte detection decides
    res = _one(h, RUSSIAN.encode("cp1251"), content_type="text/html; charset=utf-8")
    [doc] = res.docs
    assert doc["charset"] == "cp1251" and "французских" in doc["text"]
    assert res.counters["charset_detected"] == 1


def test_utf8_body_declared_as_latin1_is_read_as_utf8(h):
    [doc] = _one(h, RUSSIAN.encode(), content_type="text/html; charset=iso-8859-1").docs
    assert doc["charset"] == "utf-8" and "французских" in doc["text"]


def test_decode_html_ladder():
    assert decode_html(b"<p>plain ascii</p>", None).charset == "utf-8"
    assert decode_html(b"<p>plain ascii</p>", "windows-1252").charset == "cp1252"
    d = decode_html("<p>é</p>".encode("utf-16-le").join([b"\xff\xfe", b""]), None)
    assert d.how == "bom" and d.text == "<p>é</p>"
    d = decode_html(
        '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><p>привет мир</p>'.encode(
            "koi8-r"
        ),
        None,
    )
    assert d.charset == "koi8-r" and d.how == "meta" and "привет" in d.text


def test_is_html_rules():
    assert is_html("text/html", "", b"")
    assert is_html("application/xhtml+xml", "", b"")
    assert not is_html("image/jpeg", "text/html", b"<html>")  # a declared non-HTML type wins
    assert is_html("", "text/html", b"")  # CC's identified payload type
    assert is_html("", "", b"  <!DOCTYPE html><html>")
    assert not is_html("", "", b"\x00\x01binary")
