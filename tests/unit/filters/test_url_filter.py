"""url_v1: list parsing, parent-domain matching, IDN, banned words / sub-words, near misses."""

import json
import socket
from pathlib import Path

import pytest

from lmdata.errors import ConfigError
from lmdata.filters import url as U
from lmdata.filters.base import FilterPipeline

LISTS = Path(__file__).resolve().parents[2] / "fixtures" / "url"
FILES = {
    "domain_lists": [str(LISTS / "domains")],
    "url_lists": [str(LISTS / "urls")],
    "banned_subword_lists": [str(LISTS / "banned_subwords")],
}


@pytest.fixture(scope="module")
def pipe():
    return FilterPipeline.from_config({"url_v1": dict(FILES)})


def reason(pipe, url):
    return pipe.apply("any text", {"url": url}).reason


def test_parse_lists_skip_comments_and_normalize():
    assert U.read_list(LISTS / "domains", "domains") == {
        "blocked-example.com",
        "bücher.de",
        "中国.中国",  # punycode entries decoded: one form for lists and hosts
    }
    assert U.read_list(LISTS / "urls", "urls") == {
        "news.example.org/2024/bad-page.html",
        "example.net/private",  # www. and the trailing slash dropped
    }
    assert U.parse_list(["# c", "", "Blow Job", "x-rated"], "banned_words") == {
        "blowjob",
        "xrated",
    }
    with pytest.raises(ConfigError, match=r"bad:2: not a domain"):
        U.parse_list(["ok.com", "http://x.com/a"], "domains", where="bad")
    with pytest.raises(ConfigError, match="cannot read domain_lists file"):
        U.read_list(LISTS / "missing", "domains")


def test_default_lists_ship_with_license():
    data = Path(U.__file__).parent / "data" / "url"
    assert "Apache" in (data / "PROVENANCE.md").read_text()
    lists = U.BlockLists.load({})
    assert "porn" in lists.banned_words and "ass" not in lists.banned_words  # '#ass' is off
    assert not lists.domains and not lists.urls


def test_domain_and_parents_block_but_near_misses_do_not(pipe):
    assert reason(pipe, "https://blocked-example.com/") == (
        "url_v1:domain_blocklist:blocked-example.com"
    )
    assert reason(pipe, "http://a.b.Blocked-Example.COM:8080/x") == (
        "url_v1:domain_blocklist:blocked-example.com"
    )
    for near in (
        "https://notblocked-example.com/",
        "https://blocked-example.co/",
        "https://blocked-example.com.evil.org/page",
        "https://example.com/blocked-example.com",
        "https://www.bücher.de.example.org/",
    ):
        assert reason(pipe, near) is None, near


def test_idn_hosts_match_in_either_form(pipe):
    r = "url_v1:domain_blocklist:bücher.de"
    assert reason(pipe, "http://xn--bcher-kva.de/kaufen") == r
    assert reason(pipe, "http://shop.BÜCHER.de/") == r
    assert reason(pipe, "http://例子.中国/") is None
    assert reason(pipe, "http://www.中国.中国/新闻") == "url_v1:domain_blocklist:中国.中国"
    res = pipe.apply("", {"url": "https://xn--fsqu00a.xn--fiqs8s/%E8%B7%AF"})
    assert res.labels["host"] == "例子.中国" and res.labels["domain"] == "例子.中国"
    res = pipe.apply("", {"url": "https://www.bbc.co.uk/news"})
    assert (res.labels["domain"], res.labels["host"]) == ("bbc.co.uk", "www.bbc.co.uk")


def test_url_list_prefixes_and_normalization(pipe):
    r = "url_v1:url_blocklist:news.example.org/2024/bad-page.html"
    assert reason(pipe, "https://news.example.org/2024/bad-page.html") == r
    assert reason(pipe, "http://news.example.org/2024/bad-page.html/?id=3#top") == r
    assert reason(pipe, "https://www.example.net/private/x/y") == (
        "url_v1:url_blocklist:example.net/private"
    )
    assert reason(pipe, "https://news.example.org/2024/bad-page.html5") is None
    assert reason(pipe, "https://news.example.org/2024/") is None
    assert reason(pipe, "https://www.example.net/privately") is None


def test_banned_words_on_tokens_soft_threshold_and_subwords(pipe):
    assert reason(pipe, "https://site.com/Free-PORN-videos") == "url_v1:banned_words:porn"
    assert reason(pipe, "https://site.com/pornography-history") is None  # a token, not a prefix
    assert reason(pipe, "https://site.com/sexy-outfits") is None  # one soft word < 2
    assert reason(pipe, "https://site.com/sexy-escort") == ("url_v1:soft_banned_words:escort+sexy")
    # sub-words: substrings of the squashed, percent-decoded URL, any script
    assert reason(pipe, "https://a.com/Casino-Bonus") == "url_v1:banned_subwords:casinobonus"
    cjk = "https://zh.example.com/%E6%88%90%E4%BA%BA%E5%86%85%E5%AE%B9%E8%A7%86%E9%A2%91"
    assert reason(pipe, cjk) == "url_v1:banned_subwords:成人内容"
    assert reason(pipe, "https://zh.example.com/成人教育/内容") is None
    # Unicode tokens are whole words (datatrove's [^a-zA-Z0-9] split would cut 'pornô')
    assert reason(pipe, "https://x.com/vídeos-pornô") is None


def test_rules_rethreshold_from_scores_only(pipe):
    res = pipe.apply("", {"url": "https://blocked-example.com/sexy-escort"})
    assert res.reason == "url_v1:domain_blocklist:blocked-example.com"
    assert json.loads(res.labels["url_v1.matches"]) == {
        "domain_blocklist": ["blocked-example.com"],
        "soft_banned_words": ["escort", "sexy"],
    }
    scores = {**res.scores}  # what curate --redecide reads back: scores + stored labels
    off = pipe.with_thresholds({"url_v1": {"block_domains": False}})
    assert off.decide(scores) == "url_v1:soft_banned_words:escort+sexy"
    looser = pipe.with_thresholds(
        {"url_v1": {"block_domains": False, "soft_banned_word_threshold": 3}}
    )
    assert looser.decide(scores) is None
    # without the stored entries (an older table) the reason names the list only
    bare = {k: v for k, v in scores.items() if k != "url_v1.matches"}
    assert pipe.decide(bare) == "url_v1:domain_blocklist"


def test_missing_or_bad_urls(pipe):
    for bad in (None, "", "not a url", "http://", "http://[::1"):
        res = pipe.apply("", {"url": bad})
        assert res.reason is None and res.scores["url_v1.has_url"] == 0.0, bad
    strict = FilterPipeline.from_config({"url_v1": {"require_url": True}})
    assert strict.apply("", {"url": None}).reason == "url_v1:no_url"
    assert strict.apply("no metadata").reason == "url_v1:no_url"
    with pytest.raises(ConfigError, match="list of file paths"):
        FilterPipeline.from_config({"url_v1": {"domain_lists": [1]}})
    with pytest.raises(ConfigError, match="unknown threshold key"):
        FilterPipeline.from_config({"url_v1": {"domain_list": ["x"]}})


def test_public_suffix_list_is_read_offline(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    U._extractor.cache_clear()
    U.registered_domain.cache_clear()
    assert U.registered_domain("a.b.example.co.uk") == "example.co.uk"
    assert U.registered_domain("192.168.0.1") == "192.168.0.1"
    assert U.registered_domain("localhost") == "localhost"
