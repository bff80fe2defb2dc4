"""The character ceiling and the minimum size every chunker keeps (lcmem.chunkers.bounds)."""

from __future__ import annotations

import random
import string
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lcmem.chunkers import RecursiveChunker, SentenceChunker
from lcmem.chunkers.bounds import char_ceiling, merge_short
from lcmem.tokens import HFTokenizer, WhitespaceTokenizer
from lcmem.types import Chunk, Document
from tests.chunkers.checks import check_chunks
from tests.chunkers.test_properties import FACTORIES, SETTINGS, TOKENIZERS

WS = WhitespaceTokenizer()


def _blob(seed: int, n: int, alphabet: str = "0123456789abcdef") -> str:
    rng = random.Random(seed)
    return "".join(rng.choices(alphabet, k=n))


# A word longer than the ceiling, alone or among ordinary text and whitespace runs.
long_words = st.builds(
    _blob,
    st.integers(0, 2**16),
    st.integers(min_value=300, max_value=6000),
    st.sampled_from(["0123456789abcdef", string.ascii_letters + "+/=", "é\u0301x"]),
)
with_long_words = st.lists(
    st.one_of(
        long_words,
        st.sampled_from(["Some words here. ", "\n\n", " " * 700, "a.b,c;", "\n", "x"]),
    ),
    min_size=1,
    max_size=8,
).map("".join)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("kind", FACTORIES)
@SETTINGS
@given(text=with_long_words, size=st.integers(min_value=1, max_value=64))
def test_every_chunk_is_under_the_character_ceiling(kind, tok_name, text, size):
    """check_chunks asserts the ceiling (and exact spans, coverage, order, the minimum)."""
    chunker = FACTORIES[kind](size, size // 4, TOKENIZERS[tok_name])
    assert chunker.max_chars == char_ceiling(chunker.budget)
    chunks = check_chunks(chunker, Document(text=text, metadata={"kind": "markdown"}))
    assert all(len(c.text) <= chunker.max_chars for c in chunks)


@pytest.mark.parametrize(
    "kind", ["token", "sentence", "recursive", "markdown", "auto", "ast-python"]
)
def test_a_five_megabyte_word_is_many_bounded_chunks(kind):
    text = _blob(0, 5_000_000)
    chunker = FACTORIES[kind](200, 20, TOKENIZERS["hf"])
    chunks = chunker.chunk(Document(text=text, metadata={"kind": "code", "lang": "python"}))
    assert 5_000_000 / 3200 <= len(chunks) <= 2 * 5_000_000 / 3200
    assert max(len(c.text) for c in chunks) <= 3200
    assert all(c.text == text[c.start : c.end] for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(a.end == b.start for a, b in pairwise(chunks))


def test_ceiling_cuts_at_whitespace_first():
    text = "alpha " * 200  # 1200 characters, 200 tokens: one chunk by the budget
    chunks = check_chunks(RecursiveChunker(200, 0, tokenizer=WS), text)
    assert all(c.text.startswith("alpha") and c.text.endswith("alpha") for c in chunks)
    assert max(len(c.text) for c in chunks) <= 3200 and len(chunks) == 1
    spaced = "alpha" + " " * 4000 + "beta"  # 2 tokens, 4009 characters
    chunks = check_chunks(RecursiveChunker(200, 0, tokenizer=WS), spaced)
    assert [c.text for c in chunks] == ["alpha", "beta"]


def test_short_leftover_merges_with_a_neighbour_it_fits_with():
    s1 = " ".join(f"w{i}" for i in range(16)) + "."
    text = f"{s1} one two three.\n\n" + " ".join(f"v{i}" for i in range(13)) + "."
    # paragraphs of 19 and 13 tokens; the first is cut into sentences of 16 and 3 tokens
    chunks = check_chunks(RecursiveChunker(18, 0, tokenizer=WS), text)
    assert [c.token_count for c in chunks] == [16, 16]
    assert chunks[1].text.startswith("one two three.\n\nv0")
    assert not any(c.metadata.get("short") for c in chunks)


def test_short_chunk_that_fits_nowhere_is_flagged():
    text = " ".join(["a"] * 20) + "\n\nlonely.\n\n" + " ".join(["b"] * 20)
    chunks = check_chunks(RecursiveChunker(20, 0, tokenizer=WS), text)
    assert [c.metadata.get("short", False) for c in chunks] == [False, True, False]


def test_merge_prefers_the_same_paragraph_then_the_smaller_result():
    text = "a b c d\n\ne. f g"
    chunks = [
        Chunk("a b c d", 0, 7, token_count=4),
        Chunk("e.", 9, 11, token_count=1),
        Chunk("f g", 12, 15, token_count=2),
    ]
    (first, merged) = merge_short(text, chunks, min_tokens=2, budget=8, cap=512, tok=WS)
    assert merged.text == "e. f g" and first.text == "a b c d"


def test_merge_never_crosses_sections():
    text = "a\n\nb"
    chunks = [Chunk("a", 0, 1, "One", 1), Chunk("b", 3, 4, "Two", 1)]
    out = merge_short(text, chunks, min_tokens=2, budget=8, cap=512, tok=WS)
    assert [(c.text, c.metadata) for c in out] == [("a", {"short": True}), ("b", {"short": True})]


def test_code_symbols_of_merged_chunks_are_kept():
    a = Chunk("x", 0, 1, "", 1, {"symbols": ["f"], "symbol": "f"})
    b = Chunk("y", 2, 3, "", 1, {"symbols": ["g"], "symbol": "g"})
    (m,) = merge_short("x y", [a, b], min_tokens=2, budget=8, cap=512, tok=WS)
    assert m.metadata == {"symbols": ["f", "g"], "symbol": "f"}


def test_real_tokenizer_counts_merged_chunks():
    tok = HFTokenizer.default()
    text = "Unaffable questions.\n" * 3 + "Remember it."
    chunks = check_chunks(SentenceChunker(12, 0, tokenizer=tok), text)
    assert not any(c.metadata.get("short") for c in chunks[:-1])
