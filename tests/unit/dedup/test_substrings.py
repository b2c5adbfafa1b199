"""Exact-substring dedup within a shard (lmdata.dedup.substrings): suffix array + LCP."""

import random

from lmdata.dedup.substrings import dedup_shard

WORDS = "river castle harbor forest bakery library market bridge tower garden".split()
ZH = "本网站所有内容均受版权保护未经许可不得转载如需引用请注明出处并附上原文链接谢谢合作"
TH = "เว็บไซต์นี้ใช้คุกกี้เพื่อปรับปรุงประสบการณ์ของผู้ใช้และวิเคราะห์การเข้าชมเว็บไซต์"


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def test_later_copies_of_a_long_span_go_first_stays_short_ones_stay():
    rng = random.Random(1)
    span = _words(rng, 45)  # ~290 bytes
    short = _words(rng, 20)  # ~130 bytes: below 200
    a = f"{_words(rng, 30)} {span} | {short}"
    b = f"{_words(rng, 25)} {span} ; {short} {_words(rng, 10)}"
    res = dedup_shard([a, b, "unrelated"], min_bytes=200)
    assert res.texts[0] == a and res.texts[2] == "unrelated"
    assert span in a and span not in res.texts[1] and short in res.texts[1]
    ((s, e),) = res.spans[1]
    assert e - s >= len(span) and res.bytes_removed == [0, e - s, 0]


def test_multibyte_scripts_cut_on_character_boundaries_and_never_across_documents():
    docs = ["前言：" + ZH + "。", "引用，" + ZH, TH + " ok", "x " + TH]
    res = dedup_shard(docs, min_bytes=100)
    assert res.texts[0] == docs[0] and res.texts[1] == "引用，"  # valid UTF-8, copy gone
    assert res.texts[2] == docs[2] and res.texts[3] == "x "
    # a span that would only be long enough by running into the next document is not a match
    tail = ZH[:20]  # 60 bytes
    res = dedup_shard(["a" + tail, tail + "b"], min_bytes=61)
    assert res.texts == ["a" + tail, tail + "b"]


def test_every_removed_byte_has_an_earlier_copy_of_min_length():
    rng = random.Random(7)
    docs = [_words(rng, rng.randint(5, 60)) for _ in range(40)]
    for _ in range(10):  # plant copies of earlier documents' pieces
        src = docs[rng.randrange(len(docs))]
        docs.append(_words(rng, 5) + " " + src[: rng.randint(80, 300)] + " " + _words(rng, 5))
    joined = "\x00".join(docs).encode()
    res = dedup_shard(docs, min_bytes=64)
    assert sum(res.bytes_removed) > 0
    offset = 0
    for d, spans in zip(docs, res.spans, strict=True):
        data = d.encode()
        for s, e in spans:
            # each removed run is >= 64 bytes, and its first and last 64 bytes occur earlier
            assert e - s >= 64
            for w_at in (s, e - 64):
                assert joined.find(data[w_at : w_at + 64]) < offset + w_at
        offset += len(data) + 1
