"""Word segmenters on real sentences per script (fixtures/multilingual/segmenter_sentences.json)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lmdata.errors import ConfigError, FatalError
from lmdata.lang import segmenters
from lmdata.lang.segmenters import (
    SEGMENTER_INFO,
    SEGMENTER_KINDS,
    SegmenterNotInstalledError,
    get_segmenter,
    segmenter_available,
)

FIXTURE = Path(__file__).parents[2] / "fixtures" / "multilingual" / "segmenter_sentences.json"
SENTENCES: dict[str, list[dict]] = json.loads(FIXTURE.read_text(encoding="utf-8"))
ENGINE_MODULES = (
    "rjieba",
    "jieba",
    "fugashi",
    "kiwipiepy",
    "pythainlp",
    "nlpo3",
    "khmernltk",
    "laonlp",
    "sudachipy",
    "spacy",
)


def _texts(kind: str) -> list[str]:
    return [row["text"] for row in SENTENCES[kind]]


def _seg(kind: str):
    if not segmenter_available(kind):
        pytest.fail(f"segmenter {kind} not installed: run make setup")
    return get_segmenter(kind)


def _sentence(kind: str, line: int) -> str:
    return next(r["text"] for r in SENTENCES[kind] if r["line"] == line)


# --- the API ------------------------------------------------------------------------------------


def test_kinds_and_info():
    assert SEGMENTER_KINDS == ("zh", "ja", "ko", "th", "km", "lo")
    assert set(SEGMENTER_INFO) == set(SEGMENTER_KINDS)
    for kind, info in SEGMENTER_INFO.items():
        pin, _, engine = info.partition(" ")
        name, version = pin.split("==")
        # the info names the version that is really installed (requirements.lock pin)
        assert importlib.metadata.version(name) == version, kind
        assert engine.startswith("(") and engine.endswith(")")


def test_importing_the_module_loads_no_engine():
    code = (
        "import sys, lmdata.lang.segmenters as s; "
        f"print([m for m in {ENGINE_MODULES!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_and_unsupported_kinds_are_config_errors():
    with pytest.raises(ConfigError, match="unknown word segmenter kind 'xx'"):
        get_segmenter("xx")
    for kind in ("my", "bo"):  # left out: see the module docstring
        assert kind not in SEGMENTER_KINDS
        assert not segmenter_available(kind)
        with pytest.raises(ConfigError, match="not available offline"):
            get_segmenter(kind)
    assert not segmenter_available("xx")


def test_missing_package_is_a_fatal_error_naming_the_pip_package(monkeypatch):
    monkeypatch.setattr(segmenters, "_CACHE", {})
    real = segmenters.importlib.util.find_spec
    monkeypatch.setattr(
        segmenters.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "fugashi" else real(name, *a),
    )
    assert not segmenter_available("ja")
    with pytest.raises(SegmenterNotInstalledError) as err:
        get_segmenter("ja")
    assert isinstance(err.value, FatalError)
    assert "pip install fugashi==1.5.2 unidic-lite==1.0.8" in str(err.value)


@pytest.mark.parametrize("kind", SEGMENTER_KINDS)
def test_loaded_once_per_process(kind):
    assert get_segmenter(kind) is _seg(kind)


def test_concurrent_first_load_gives_one_segmenter(monkeypatch):
    monkeypatch.setattr(segmenters, "_CACHE", {})
    calls = []
    real = segmenters._LOADERS["zh"]

    def counting(spec):
        calls.append(1)
        time.sleep(0.05)
        return real(spec)

    monkeypatch.setitem(segmenters._LOADERS, "zh", counting)
    got = []
    threads = [threading.Thread(target=lambda: got.append(get_segmenter("zh"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len({id(g) for g in got}) == 1


# --- the contract on real text, every kind ------------------------------------------------------


@pytest.mark.parametrize("kind", SEGMENTER_KINDS)
def test_contract_on_real_sentences(kind):
    seg = _seg(kind)
    for text in _texts(kind):
        tokens = seg(text)
        assert tokens, text
        assert all(t and not any(c.isspace() for c in t) for t in tokens), tokens
        # in text order, nothing lost or invented
        assert "".join(tokens) == "".join(text.split()), (text, tokens)
        assert seg(text) == tokens  # deterministic
    joined = "\n".join(_texts(kind))
    assert seg(joined) == [t for text in _texts(kind) for t in seg(text)]


@pytest.mark.parametrize("kind", SEGMENTER_KINDS)
def test_empty_and_blank(kind):
    seg = _seg(kind)
    assert seg("") == []
    assert seg(" \n\t\u3000 ") == []


# --- what each language's segmentation looks like -----------------------------------------------


def test_chinese_words_and_punctuation():
    seg = _seg("zh")
    text = _sentence(
        "zh", 3
    )  # 2002年的台湾，各金融机构都磨刀霍霍准备在逐渐起飞的财富管理业务，抢得一席之地。
    tokens = seg(text)
    for word in ("台湾", "金融机构", "磨刀霍霍", "准备", "逐渐", "起飞", "一席之地"):
        assert word in tokens
    assert tokens.count("，") == 2 and tokens[-1] == "。"
    assert sum(len(t) >= 2 for t in tokens) >= 10
    assert len(tokens) < len(text) / 1.5  # words, not characters
    tokens = seg(_sentence("zh", 1))
    assert ["12", "月", "1", "日", "(", "星期日", ")"] == tokens[7:14]
    assert "体育场" in tokens and "运动会" in tokens


def test_japanese_words_particles_and_punctuation():
    seg = _seg("ja")
    tokens = seg(_sentence("ja", 4))  # なお、2016年度において反競争的行為に該当するとして...
    assert tokens[:4] == ["なお", "、", "2016", "年度"]
    for word in ("競争", "行為", "該当", "法的", "措置", "事実"):
        assert word in tokens
    assert "を" in tokens and "は" in tokens and tokens[-1] == "。"
    tokens = seg(_sentence("ja", 3))
    assert tokens[-1] == "？" and "ファイル" in tokens and "識別" in tokens


def test_korean_morphemes_split_particles():
    seg = _seg("ko")
    tokens = seg(_sentence("ko", 3))  # 앞으로 국부펀드의 강력한 도전으로 ... 분명하다.
    assert tokens[:5] == ["앞", "으로", "국부", "펀드", "의"]
    for particle in ("의", "으로", "은", "이"):
        assert particle in tokens
    assert tokens[-3:] == ["하", "다", "."]
    # 치열해질: morphemes 해(하)+해(어), 질(지)+질(ㄹ) share syllables: each surface given once
    assert tokens[tokens.index("치열") : tokens.index("치열") + 3] == ["치열", "해", "질"]
    tokens = seg(_sentence("ko", 4))  # quotes and middle dots are their own tokens
    assert tokens.count("“") == 2 and tokens.count("”") == 2 and tokens.count("·") == 3
    assert "덧붙였" in tokens  # 덧붙이+었 on one surface, once


def test_korean_long_digit_runs_bypass_kiwi():
    seg = _seg("ko")
    digits = "1" * 40
    tokens = seg(f"가격은 {digits}원이다.")
    assert digits in tokens
    assert tokens[:2] == ["가격", "은"] and tokens[-1] == "."


def test_thai_words_and_punctuation():
    seg = _seg("th")
    tokens = seg(_sentence("th", 7))  # ๔/ว ๑๕๖ เรื่อง การอบรมหลักสูตร...(หลักสูตร ๑๕ วัน)ที่ พท ๐๐๓๗.
    assert tokens[:4] == ["๔", "/", "ว", "๑๕๖"]
    for word in ("เรื่อง", "หลักสูตร", "พัฒนา", "ทักษะ", "คณะกรรมการ", "สอบสวน"):
        assert word in tokens
    assert "(" in tokens and ")" in tokens and tokens[-1] == "."
    tokens = seg(_sentence("th", 1))  # 'ไก่เดือยทอง' ... 'เกรย์'ทอตแนม: quotes detached
    assert tokens[:5] == ["'", "ไก่", "เดือย", "ทอง", "'"]
    assert tokens[-2:] == ["ๆ", ".."]


def test_khmer_words():
    seg = _seg("km")
    tokens = seg(SENTENCES["km"][1]["text"])
    for word in ("ធនាគារ", "អង្គការ", "គោលការណ៍", "ចាប់ផ្តើម"):
        assert word in tokens
    assert tokens[-1] == "។"
    tokens = seg(SENTENCES["km"][2]["text"])
    assert tokens[:5] == ["ខួប", "ឆ្នាំ", "ទី", "២៨", "!"]


def test_khmer_keeps_lines_apart():
    seg = _seg("km")
    a, b = SENTENCES["km"][0]["text"], SENTENCES["km"][1]["text"]
    assert seg(f"{a}\n{b}") == seg(a) + seg(b)


def test_lao_words():
    tokens = _seg("lo")(SENTENCES["lo"][0]["text"])
    assert tokens == ["ພາສາລາວ", "ໃນ", "ປັດຈຸບັນ", ".", "ນະຄອນຫຼວງ", "ວຽງຈັນ"]


# --- long and pathological inputs ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zh", "ja", "ko", "th", "lo"])
def test_long_inputs_are_chunked_and_lossless(kind):
    seg = _seg(kind)
    limit = segmenters._SPECS[kind].chunk_chars
    lines = _texts(kind)
    reps = limit // len("".join("".join(lines).split())) + 2
    many_lines = "\n".join(lines * reps)
    one_line = " ".join(lines * reps)  # no newline to cut at
    no_space = "".join(one_line.split())
    for text in (many_lines, one_line, no_space):
        assert len(text) > limit
        start = time.process_time()
        tokens = seg(text)
        assert time.process_time() - start < 30
        assert "".join(tokens) == "".join(text.split())


def test_threads_share_a_segmenter_safely():
    seg = _seg("ja")
    texts = _texts("ja") * 20
    expected = [seg(t) for t in texts]
    results: dict[int, list] = {}

    def work(i):
        results[i] = [seg(t) for t in texts]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results.values())


# --- the shared finishing pass and chunker ------------------------------------------------------


def test_finish_detaches_edge_punctuation_only():
    f = segmenters._finish
    assert f(["'ทอต", "7.63%", "3,000", "50-69", "(-", "สุดๆ..", "a b", "", " ", "“이우채"]) == [
        "'",
        "ทอต",
        "7.63",
        "%",
        "3,000",
        "50-69",
        "(-",
        "สุดๆ",
        "..",
        "a",
        "b",
        "“",
        "이우채",
    ]
    # U+FFFF inside the text itself (the fast path's separator): the slow path gives the same rule
    assert f(["x\uffffy", "'ab'"]) == ["x", "\uffff", "y", "'", "ab", "'"]


def test_chunks_cut_on_lines_then_spaces_then_hard():
    chunks = segmenters._chunks
    text = "\n".join(["あ" * 30] * 10)
    parts = chunks(text, 100)
    assert "".join(parts) == text and all(len(p) <= 100 for p in parts)
    assert all(p.endswith("\n") for p in parts[:-1])
    text = " ".join(["가나다라"] * 100)
    parts = chunks(text, 50)
    assert "".join(parts) == text and all(p.endswith(" ") for p in parts[:-1])
    text = "ก" * 1000
    parts = chunks(text, 64)
    assert "".join(parts) == text and max(map(len, parts)) <= 64
    assert chunks("short", 10) == ["short"]
