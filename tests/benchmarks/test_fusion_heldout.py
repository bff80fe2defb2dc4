"""The round-3 held-out fusion generator's pieces: sentence picking and word dropping."""

from __future__ import annotations

import random

from benchmarks.fusion_heldout import _drop_words, _sentences


def test_sentences_keep_prose_of_8_to_30_words():
    page = (
        "NAME\n    foo.conf - settings\n\n"
        "The daemon reads its configuration from this file when it starts. "
        "Short one. "
        "--opt=1 --x=2 --y=3 --z=4 --a=5 --b=6 --c=7 --d=8.\n\n"
        "Each line holds one option and its value, separated by white space."
    )
    got = _sentences(page)
    assert got == [
        "The daemon reads its configuration from this file when it starts.",
        "Each line holds one option and its value, separated by white space.",
    ]


def test_drop_words_keeps_order_stopwords_and_at_least_one_content_word():
    s = "The daemon reads its configuration from this file when it starts."
    for seed in range(20):
        out = _drop_words(s, random.Random(seed)).split()
        words = [w.lower().strip(".") for w in s.split()]
        assert out == [w for w in words if w in out]  # a subsequence, lower-cased
        assert {"the", "its", "from", "this", "when", "it"} <= set(out)  # stopwords stay
        assert (
            2
            <= len([w for w in out if w in {"daemon", "reads", "configuration", "file", "starts"}])
            <= 4
        )
    assert _drop_words(s, random.Random(3)) == _drop_words(s, random.Random(3))  # deterministic
