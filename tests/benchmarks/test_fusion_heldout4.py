"""The round-4 held-out fusion generator's pieces: sentence picking, dropping, keywords."""

from __future__ import annotations

import random

from benchmarks.fusion_heldout4 import _drop, _keywords, _sentences


def test_sentences_skip_grammar_and_code_blocks():
    topic = (
        'The "if" statement\n******************\n\n'
        '   if_stmt ::= "if" assignment_expression ":" suite\n\n'
        "It selects exactly one of the suites by evaluating the expressions one by one.\n\n"
        "   if x:\n       pass and then something else happens here now.\n"
    )
    assert _sentences(topic) == [
        "It selects exactly one of the suites by evaluating the expressions one by one."
    ]


def test_drop_keeps_order_and_keywords_keep_half_the_content_words():
    s = "It selects exactly one of the suites by evaluating the expressions."
    content = {"selects", "exactly", "one", "suites", "evaluating", "expressions"}
    for seed in range(20):
        out = _drop(s, random.Random(seed)).split()
        words = [w.lower().strip(".") for w in s.split()]
        assert out == [w for w in words if w in out]  # a subsequence, lower-cased
        kw = _keywords(s, random.Random(seed)).split()
        assert set(kw) <= content and len(kw) == len(set(kw)) == 3
    assert _keywords(s, random.Random(3)) == _keywords(s, random.Random(3))  # deterministic
