"""c4_v1: the line pass (scores + transform) and the document rules, each at its boundary."""

from __future__ import annotations

import pytest

from lmdata.filters.heuristics import C4

F = C4()
P = "c4_v1"
GOOD = [
    "The first line is a full sentence.",
    "Here is a second one, also complete!",
    "Is this the third sentence?",
    'She said "this is the fourth."',
    "And the fifth line ends with a quote mark'",
]


def run(lines: list[str]) -> tuple[dict, str | None, str]:
    text = "\n".join(lines)
    scores, kept = F.score_and_transform(text)
    assert scores == F.score(text) and kept == F.transform(text)
    return scores, F.decide(scores), kept


def test_published_defaults():
    # C4 (Raffel et al. 2020 Sec. 2.2) / datatrove C4QualityFilter: min_num_sentences=5,
    # lorem ipsum and curly bracket on; max_removed_line_frac is our (disabled) extension
    assert dict(F.default_thresholds) == {
        "filter_lorem_ipsum": True,
        "filter_curly_bracket": True,
        "min_sentence_count": 5,
        "max_removed_line_frac": None,
    }


def test_clean_text_is_kept_whole():
    scores, reason, kept = run(GOOD)
    assert reason is None
    assert kept == "\n".join(GOOD)
    assert scores[f"{P}.sentence_count"] == 5.0
    assert scores[f"{P}.kept_line_count"] == scores[f"{P}.line_count"] == 5.0
    assert scores[f"{P}.removed_line_frac"] == 0.0
    assert scores[f"{P}.kept_char_frac"] == 1.0


@pytest.mark.parametrize(("n", "expected"), [(5, None), (4, f"{P}:sentence_count")])
def test_min_sentence_count(n, expected):
    scores, reason, _ = run(GOOD[:n])
    assert scores[f"{P}.sentence_count"] == n
    assert reason == expected


def test_sentences_inside_a_line_are_counted():
    scores, reason, _ = run(
        ["One two three. Four five six! Seven eight nine?", "Ten and more (yes)."]
    )
    assert scores[f"{P}.sentence_count"] == 4.0
    assert reason == f"{P}:sentence_count"
    scores, reason, _ = run(
        ["One two three. Four five six! Seven eight nine?", "Ten more. And more."]
    )
    assert (scores[f"{P}.sentence_count"], reason) == (5.0, None)


@pytest.mark.parametrize(
    ("line", "removed"),
    [
        ("This line ends with a full stop.", False),
        ("This line ends with no punctuation", True),
        ("This line trails off...", True),  # ellipsis is not terminal punctuation
        ("This line ends with a colon:", True),
    ],
)
def test_line_rule_terminal_punctuation(line, removed):
    scores, _, kept = run([*GOOD, line])
    assert scores[f"{P}.removed_no_terminal_punct"] == float(removed)
    assert (line in kept) is not removed


@pytest.mark.parametrize(("line", "removed"), [("Three words here.", False), ("Two words.", True)])
def test_line_rule_min_three_words(line, removed):
    scores, _, kept = run([*GOOD, line])
    assert scores[f"{P}.removed_too_few_words"] == float(removed)
    assert (line in kept.split("\n")) is not removed


@pytest.mark.parametrize(("length", "removed"), [(1000, False), (1001, True)])
def test_line_rule_word_longer_than_1000_chars(length, removed):
    line = f"A word like {'x' * length} is long."
    scores, _, kept = run([*GOOD, line])
    assert scores[f"{P}.removed_long_word"] == float(removed)
    assert (line in kept) is not removed


@pytest.mark.parametrize(
    ("line", "removed"),
    [
        ("Java and scripts are fine here.", False),
        ("Please enable JavaScript to view the comments.", True),
    ],
)
def test_line_rule_javascript(line, removed):
    scores, reason, kept = run([*GOOD, line])
    assert scores[f"{P}.removed_javascript"] == float(removed)
    assert (line in kept) is not removed
    assert reason is None


@pytest.mark.parametrize(
    "phrase",
    [
        "terms of use",
        "privacy policy",
        "cookie policy",
        "uses cookies",
        "use of cookies",
        "use cookies",
    ],
)
def test_line_rule_policy(phrase):
    line = f"Please read our {phrase.upper()} carefully."
    scores, _, kept = run([*GOOD, line])
    assert scores[f"{P}.removed_policy"] == 1.0
    assert line not in kept
    inside = "Please read our policy on the use of biscuits."
    scores, _, kept = run([*GOOD, inside])
    assert scores[f"{P}.removed_policy"] == 0.0
    assert inside in kept


def test_citations_are_removed_from_kept_lines():
    _, _, kept = run(["The sky is blue[1] and wide[edit].", "It is true [citation needed]."])
    assert kept == "The sky is blue and wide.\nIt is true ."


@pytest.mark.parametrize(
    ("line", "flag", "line_kept"),
    [
        ("Lorem ipsum dolor sit amet.", 1.0, True),
        ("LOREM IPSUM is placeholder text, they say.", 1.0, True),
        ("Lorem ipsum dolor sit amet", 0.0, False),  # the punctuation rule removes it first (C4)
        ("Lorem and ipsum are two words.", 0.0, True),
    ],
)
def test_doc_rule_lorem_ipsum(line, flag, line_kept):
    scores, reason, kept = run([*GOOD, line])
    assert scores[f"{P}.has_lorem_ipsum"] == flag
    assert reason == (f"{P}:has_lorem_ipsum" if flag else None)
    assert F.decide(scores, {"filter_lorem_ipsum": False}) is None
    # with the rule off, C4 keeps such a line; with it on, the whole document goes anyway
    assert (line in kept) is line_kept


@pytest.mark.parametrize(
    ("line", "flag"),
    [
        ("The set {1, 2, 3} has three elements.", 1.0),
        ("function main() {", 0.0),  # no terminal punctuation: the line goes first
        ("Load the {javascript} widget now.", 0.0),  # javascript lines go before the { check
        ("Square brackets [like these] are fine.", 0.0),
    ],
)
def test_doc_rule_curly_bracket(line, flag):
    scores, reason, _ = run([*GOOD, line])
    assert scores[f"{P}.has_curly_bracket"] == flag
    assert reason == (f"{P}:has_curly_bracket" if flag else None)
    assert F.decide(scores, {"filter_curly_bracket": False}) is None


@pytest.mark.parametrize(("n_bad", "expected"), [(5, None), (6, f"{P}:removed_line_frac")])
def test_optional_max_removed_line_frac(n_bad, expected):
    lines = GOOD + [f"menu item {i}" for i in range(n_bad)] + ["", "   "]  # blanks not counted
    scores, reason, kept = run(lines)
    assert scores[f"{P}.line_count"] == 5 + n_bad
    assert scores[f"{P}.removed_line_frac"] == n_bad / (5 + n_bad)
    assert reason is None  # off by default
    assert F.decide(scores, {"max_removed_line_frac": 0.5}) == expected
    assert kept == "\n".join(GOOD)
    assert scores[f"{P}.kept_char_frac"] == len(kept) / len("\n".join(lines))


def test_line_rule_order_counts_each_line_once():
    lines = [
        "javascript",  # no punctuation -> counted there, not as javascript
        "Enable javascript.",  # 2 words -> too few words
        "Our privacy policy uses javascript.",  # javascript comes before policy
    ]
    scores, _, kept = run(lines)
    assert scores[f"{P}.removed_no_terminal_punct"] == 1.0
    assert scores[f"{P}.removed_too_few_words"] == 1.0
    assert scores[f"{P}.removed_javascript"] == 1.0
    assert scores[f"{P}.removed_policy"] == 0.0
    assert kept == ""
    assert scores[f"{P}.removed_line_frac"] == 1.0
