"""The token chunker's fast path (windows located through a TokenIndex) must cut exactly where
the generic packing of one piece per token cuts, on any text and budget."""

from __future__ import annotations

import inspect
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lcmem.chunkers import TokenChunker
from lcmem.chunkers.text import SpanPacker, token_windows
from lcmem.tokens import HFTokenizer

TOK = HFTokenizer.default()

PIECES = st.one_of(
    st.sampled_from(
        [
            *"abcXYZ019_.,;:()[]{}'\"#@-+=/\\ \t\n\r",
            "\x0c",
            "\x00",
            "\x7f",
            "é",
            "日本",
            "한국어",
            "\u3000",
            "\u2019",
            "ﬁ",
            "İ",
            "[CLS]",
            "tokenization",
            "unbelievably",
            "x" * 120,
            "--option=value",
            "foo(1).bar",
        ]
    ),
    st.text(max_size=8),
)
TEXTS = st.lists(PIECES, max_size=120).map("".join)


def generic(text: str, budget: int, overlap: int) -> list[tuple[int, int, int]]:
    p = SpanPacker(text, TOK, budget, overlap)
    return p.pack(p.token_pieces(0, len(text)), exact=False)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    text=TEXTS,
    budget=st.integers(min_value=1, max_value=30).flatmap(
        lambda size: st.tuples(st.just(size), st.integers(min_value=0, max_value=size - 1))
    ),
)
def test_windows_match_the_generic_packing(text, budget):
    size, overlap = budget
    index = TOK.token_index(text)
    if index is None or not index.n:
        return  # the chunker packs generically then
    assert token_windows(SpanPacker(text, TOK, size, overlap), index) == generic(
        text, size, overlap
    )


@pytest.mark.parametrize("size, overlap", [(200, 20), (50, 0), (7, 3), (1, 0)])
def test_windows_match_on_real_source(size, overlap):
    text = inspect.getsource(textwrap)
    index = TOK.token_index(text)
    assert index is not None
    assert token_windows(SpanPacker(text, TOK, size, overlap), index) == generic(
        text, size, overlap
    )


def test_the_chunker_uses_the_fast_path_and_falls_back():
    text = "한국어 문장입니다. " * 50 + "plain words " * 100
    chunks = TokenChunker(40, 5, TOK).chunk(text)
    assert [(c.start, c.end, c.token_count) for c in chunks] == generic(text, 40, 5)
