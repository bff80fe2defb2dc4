"""The memory operators' sentence spans (lcmem's own splitter underneath)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lcmem.memory.operator import sentences


def texts(t: str) -> list[str]:
    return [t[s:e] for s, e in sentences(t)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("J. Smith met the U.S. team. They won.", ["J. Smith met the U.S. team.", "They won."]),
        (
            "Gen. Moreau and Lt. Dubois left at 5 p.m. on Monday, i.e. early. Fine.",
            ["Gen. Moreau and Lt. Dubois left at 5 p.m. on Monday, i.e. early.", "Fine."],
        ),
        ('She said "Go." He went.', ['She said "Go."', "He went."]),
        ("Dr. Li came. He left!\n\nChapter 2", ["Dr. Li came.", "He left!", "Chapter 2"]),
        ("A wrapped\nline. Next one.\n  \nBlock", ["A wrapped\nline.", "Next one.", "Block"]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


@given(st.text(alphabet=st.sampled_from(list('ab .!?\n"J.US')), max_size=80))
def test_spans_are_exact_ordered_and_trimmed(text: str) -> None:
    last = 0
    for s, e in sentences(text):
        assert last <= s < e <= len(text)
        piece = text[s:e]
        assert piece == piece.strip() and piece
        assert "\n\n" not in piece.replace(" ", "")  # a blank line always ends a block
        last = e
