"""Paragraph dedup keys, hashes and the in-process first-occurrence rule (lmdata.dedup.paragraphs)."""

from lmdata.dedup.lines import remove_lines
from lmdata.dedup.paragraphs import (
    first_occurrences,
    iter_paragraphs,
    key_hash,
    key_width,
    paragraph_key,
    too_short,
)

P_EN = "The museum is open every day from 9 to 5, except on public holidays."
P_ZH = "本网站所有内容均受版权保护，未经许可不得转载。"
P_JA = "このサイトの内容の無断転載を禁止します。"
P_TH = "เว็บไซต์นี้ใช้คุกกี้เพื่อปรับปรุงประสบการณ์ของผู้ใช้"


def test_key_is_nfkc_casefolded_without_punctuation_symbols_digits():
    assert paragraph_key("  Straße — ＡＢＣ 123!!  x  ") == "strasse abc x"
    assert paragraph_key(P_EN) == paragraph_key(P_EN.upper().replace("9", "10") + " ©")
    # CJK punctuation (，。) goes, the characters stay; full-width digits are digits too
    assert paragraph_key(P_ZH) == "本网站所有内容均受版权保护未经许可不得转载"
    assert paragraph_key("第１２３条" + P_JA) == paragraph_key("第45条" + P_JA)
    # Thai vowel signs and tone marks (category Mn) are part of the word: kept
    assert paragraph_key(P_TH) == P_TH
    assert paragraph_key("ไม่") != paragraph_key("ไม")


def test_hash_is_stable_signed_64_bit_and_separates_texts():
    h = key_hash(paragraph_key(P_EN))
    assert h == key_hash(paragraph_key(P_EN + "!")) and -(2**63) <= h < 2**63
    assert len({key_hash(paragraph_key(p)) for p in (P_EN, P_ZH, P_JA, P_TH)}) == 4
    # pinned (hashes persist in the lake): XXH3-64("abc") = 0x78AF5F94892F3950, minus 2**63
    assert key_hash("abc") == 0x78AF5F94892F3950 - 2**63


def test_iter_paragraphs_skips_blank_and_short_lines_and_counts_bytes():
    text = f"Home\n\n{P_ZH}\nShare | Tweet | 12 comments\n{P_EN}"
    rows = list(iter_paragraphs(text, min_chars=30))
    # the 21 Han characters are 42 wide; "share tweet comments" (20) is not deduplicated
    assert [(i, p) for i, _, _, p in rows] == [(2, P_ZH), (4, P_EN)]
    assert key_width(paragraph_key(P_ZH)) == 42 and key_width("share tweet comments") == 20
    assert key_width(P_TH) < len(P_TH)  # vowel signs / tone marks are not counted
    assert rows[0][2] == len(P_ZH.encode()) + 1


def test_first_occurrence_prior_batches_then_doc_id_order_then_within_doc():
    docs = [("b", f"{P_EN}\n{P_ZH}\n{P_EN}"), ("a", f"intro line\n{P_EN}"), ("c", P_TH)]
    seen = {key_hash(paragraph_key(P_TH)): "old-doc"}
    got = first_occurrences(docs, min_chars=10, seen=seen)
    # a < b: a keeps P_EN, b loses both copies; c's paragraph was kept in an earlier batch
    assert got == {"b": [0, 2], "c": [0]}
    assert first_occurrences(list(reversed(docs)), 10, seen) == got  # order-independent
    assert remove_lines(docs[0][1], got["b"]) == P_ZH
    assert too_short(remove_lines(docs[2][1], got["c"]), 0)
    assert too_short("x" * 99, 100) and not too_short("x" * 100, 100)
