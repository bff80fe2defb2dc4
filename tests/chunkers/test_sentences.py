"""The rule-based sentence splitter: boundaries and exact spans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lcmem.chunkers.sentences import sentence_cuts, split_sentences


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Dr. Smith met Mr. Jones at 3 p.m. today.", ["Dr. Smith met Mr. Jones at 3 p.m. today."]),
        (
            "Use a tool, e.g. Python, i.e. a language.",
            ["Use a tool, e.g. Python, i.e. a language."],
        ),
        ("It costs $3.50 today. Pi is 3.14159.", ["It costs $3.50 today.", "Pi is 3.14159."]),
        ("Wait... what? Yes... Then.", ["Wait... what?", "Yes...", "Then."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ('"Why?" he asked. (Really.) Ok.', ['"Why?" he asked.', "(Really.)", "Ok."]),
        (
            "J. R. R. Tolkien wrote it. The U.S. Army too.",
            ["J. R. R. Tolkien wrote it.", "The U.S. Army too."],
        ),
        (
            "Apples, pears, etc. and more. Fruit etc. The end.",
            ["Apples, pears, etc. and more.", "Fruit etc.", "The end."],
        ),
        ("See setup.py and v1.2.3 now. Done.", ["See setup.py and v1.2.3 now.", "Done."]),
        ("lower case text. still splits. ok", ["lower case text.", "still splits.", "ok"]),
        ("1. First item\n2. Second item", ["1. First item", "2. Second item"]),
        ("in 1999. The next year", ["in 1999.", "The next year"]),
        (
            "no punctuation\nbut lines\n\nand a blank line",
            ["no punctuation", "but lines", "and a blank line"],
        ),
        ("你好。我很好！谢谢？好", ["你好。", "我很好！", "谢谢？", "好"]),
        ("  padded.   Text.  ", ["padded.", "Text."]),
        ("", []),
        (" \n\n ", []),
    ],
)
def test_boundaries(text, expected):
    assert sentences(text) == expected


def test_cuts_cover_the_span_and_respect_bounds():
    text = "Skip. One. Two. Three. Skip."
    cuts = sentence_cuts(text, 6, 22)
    assert cuts == [11, 16]
    assert all(6 < c < 22 for c in cuts)
    assert split_sentences(text, 6, 22) == [(6, 10), (11, 15), (16, 22)]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=20),
            st.sampled_from(
                [
                    ". ",
                    "? ",
                    "! ",
                    "... ",
                    "\n",
                    "\n\n",
                    "Mr. ",
                    "e.g. ",
                    "A. ",
                    '." ',
                    "3.14",
                    "。",
                    "1. ",
                ]
            ),
        ),
        max_size=30,
    ).map("".join)
)
def test_spans_are_exact_trimmed_ordered_and_cover_all_text(text):
    spans = split_sentences(text)
    covered = set()
    last = 0
    for a, b in spans:
        assert last <= a < b <= len(text)
        assert text[a:b] == text[a:b].strip()
        covered.update(range(a, b))
        last = b
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
