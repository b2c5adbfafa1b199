"""What lid_cascade_v2's third look (CLD3 on the text without diacritics) changes against
lid_cascade_v1, on paragraphs of Lingua's real sentences (../shared/data/langid-lingua-testdata).

    python -m bench.eval_lid_strip [--docs 100] [--sentences 5] [--seed 0]

Per language, ``--docs`` paragraphs of ``--sentences`` consecutive sentences from a seeded random
start; every paragraph is scored by both filters in-process. Prints how many answers v2 took from
the stripped text, how many of those name the paragraph's language, and the wrong ones.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter

from bench import multilingual_corpus as mc


def paragraphs(lang: str, n: int, k: int, seed: int) -> list[str]:
    lines = [x for x in (mc.DEFAULT_SENTENCES / f"{lang}.txt").read_text(encoding="utf-8")
             .split("\n") if x.strip()]  # fmt: skip
    rng = random.Random(seed)
    starts = [rng.randrange(len(lines) - k) for _ in range(n)]
    return [" ".join(lines[i : i + k]) for i in starts]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=100, help="paragraphs per language")
    p.add_argument("--sentences", type=int, default=5, help="sentences per paragraph")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    from lmdata.filters.langid import LidCascadeV2

    v2 = LidCascadeV2()
    right, wrong = Counter(), Counter()
    langs = mc.available_languages(mc.DEFAULT_SENTENCES)
    for lang in langs:
        for text in paragraphs(lang, a.docs, a.sentences, a.seed):
            s = v2.score(text)
            if s["lid_cascade_v2.stripped"]:
                got = v2.lang_from_scores(s)
                (right if got == lang else wrong)[(lang, got)] += 1
    n = len(langs) * a.docs
    print(f"{n:,} paragraphs, {len(langs)} languages: the third look changed "
          f"{sum(right.values()) + sum(wrong.values())} answers, {sum(right.values())} to the "
          f"paragraph's language {dict(Counter(lg for lg, _ in right.elements()))}, "
          f"{sum(wrong.values())} to another {dict(wrong)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
