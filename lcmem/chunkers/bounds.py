"""Rules every chunker's output follows, applied after it splits: a character ceiling and a
minimum size.

- **Character ceiling.** A token budget alone does not bound a chunk's length: WordPiece maps
  any word over 100 characters to one ``[UNK]``, so a 5 MB hex dump without spaces would be one
  token and one chunk. :func:`bound_chars` cuts every chunk longer than :func:`char_ceiling`
  (``MAX_CHARS_PER_TOKEN`` characters per token of budget, at least ``MIN_CEILING``): at the
  last whitespace before the
  ceiling, else at the last token start, else evenly inside the word.
- **Minimum size.** Splitting at the best separators leaves small leftovers (the last sentence
  of a paragraph, an inserted line). :func:`merge_short` merges every chunk under the minimum
  (a quarter of the budget by default) with a neighbour of the same section (same ``context``)
  when the two fit the budget and the ceiling together, preferring the neighbour in the same
  paragraph, then the smaller result. A chunk under the minimum that fits with neither carries
  ``metadata["short"] = True``.

Both keep every chunk an exact, trimmed span of the document, in document order.

Example:
    >>> from lcmem.chunkers import RecursiveChunker
    >>> from lcmem.tokens import WhitespaceTokenizer
    >>> chunker = RecursiveChunker(8, 0, tokenizer=WhitespaceTokenizer())
    >>> [c.text for c in chunker.chunk("a b c d e f g.\\n\\nh.\\n\\ni j k l m n o p q.")]
    ['a b c d e f g.\\n\\nh.', 'i j k l m n o p q.']
    >>> [len(c.text) for c in chunker.chunk("x" * 1200)]   # ceiling: max(8 * 16, 512)
    [400, 400, 400]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lcmem.types import Chunk

if TYPE_CHECKING:
    from lcmem.tokens import Tokenizer

__all__ = [
    "MAX_CHARS_PER_TOKEN",
    "MIN_CEILING",
    "MIN_FRACTION",
    "bound_chars",
    "char_ceiling",
    "merge_short",
]

MAX_CHARS_PER_TOKEN = 16
"""Characters allowed per token of budget. Ordinary text runs 4-7 characters per token (man
pages with their indentation about 6, indented code up to 10), so the ceiling only bites on
text a tokenizer reads as a few huge tokens (blobs, minified code, hex dumps)."""

MIN_CEILING = 512
"""The ceiling is never lower than this: at tiny budgets (a few tokens) ordinary indented lines
would be cut, and 512 characters never make a giant chunk."""

MIN_FRACTION = 4
"""A chunk under ``chunk_size // MIN_FRACTION`` tokens is short (see :func:`merge_short`)."""

_SPACE_RUN = re.compile(r"\s+")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


def char_ceiling(chunk_size: int) -> int:
    """The most characters a chunk of a ``chunk_size``-token budget may span.

    Example:
        >>> char_ceiling(200), char_ceiling(8)
        (3200, 512)
    """
    return max(chunk_size * MAX_CHARS_PER_TOKEN, MIN_CEILING)


# -- the ceiling -----------------------------------------------------------------------------


def bound_chars(text: str, chunks: list[Chunk], cap: int, tok: Tokenizer) -> list[Chunk]:
    """``chunks`` with every chunk longer than ``cap`` characters cut into pieces of at most
    ``cap`` (each keeps the context and a copy of the metadata, and is counted for real).

    Pieces lying wholly inside a neighbouring (overlapping) chunk are dropped, so starts and
    ends stay strictly increasing and every character stays covered.

    Example:
        >>> from lcmem.tokens import WhitespaceTokenizer
        >>> c = Chunk("ab cd efgh", 0, 10, token_count=3)
        >>> [x.text for x in bound_chars(c.text, [c], 4, WhitespaceTokenizer())]
        ['ab', 'cd', 'efgh']
    """
    if not any(c.end - c.start > cap for c in chunks):
        return chunks
    out: list[Chunk] = []
    for c in chunks:
        if c.end - c.start <= cap:
            out.append(c)
            continue
        spans = _cut(text, c.start, c.end, cap, tok)
        texts = [text[s:e] for s, e in spans]
        count_many = getattr(tok, "count_many", None)
        counts = count_many(texts) if count_many is not None else [tok.count(t) for t in texts]
        for (s, e), t, n in zip(spans, texts, counts, strict=True):
            out.append(Chunk(t, s, e, c.context, n, dict(c.metadata)))
    return _drop_contained(out)


def _cut(text: str, start: int, end: int, cap: int, tok: Tokenizer) -> list[tuple[int, int]]:
    """Trimmed spans of at most ``cap`` characters covering the non-space text of
    ``text[start:end]`` (which starts and ends with non-space)."""
    out: list[tuple[int, int]] = []
    starts: list[int] | None = None  # token starts of the span, located on first need
    pos = start
    word_end = start
    while end - pos > cap:
        lo, hi = pos + cap // 2, pos + cap
        # 1. the last whitespace run beginning in (lo, hi]
        space = None
        for m in _SPACE_RUN.finditer(text, lo + 1, min(hi + 1, end)):
            space = m
        if space is not None:
            out.append(_rstrip(text, pos, space.start()))
            nxt = _SPACE_RUN.match(text, space.start(), end)
            pos = nxt.end() if nxt else space.end()
            continue
        # 2. the last token start in (lo, hi]
        if starts is None:
            starts = [start + a for a, _ in tok.offsets(text[start:end])]
        cut = max((a for a in starts if lo < a <= hi), default=None)
        if cut is None:
            # 3. evenly inside the word (pieces of at least cap / 2), never before a
            # combining mark
            if word_end <= pos:  # the end of the word at pos, found once per word
                run = _SPACE_RUN.search(text, pos, end)
                word_end = run.start() if run else end
            length = word_end - pos
            parts = -(-length // cap)
            cut = pos + -(-length // parts)
            cut = min(cut, hi)
            while cut > lo + 1 and unicodedata.combining(text[cut]):
                cut -= 1
        out.append(_rstrip(text, pos, cut))
        pos = cut
        while pos < end and text[pos].isspace():
            pos += 1
    if pos < end:
        out.append((pos, end))
    return [(s, e) for s, e in out if s < e]


def _rstrip(text: str, start: int, end: int) -> tuple[int, int]:
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _drop_contained(chunks: list[Chunk]) -> list[Chunk]:
    """Chunks in order of start, without any chunk lying inside another."""
    chunks = sorted(chunks, key=lambda c: (c.start, -c.end))
    out: list[Chunk] = []
    for c in chunks:
        if not out or c.end > out[-1].end:
            out.append(c)
    return out


# -- the minimum -----------------------------------------------------------------------------


def section_of(c: Chunk) -> tuple:
    """What two chunks must share to be merged: the context trail, and the metadata that
    marks a separate part (front matter, topic segment)."""
    meta = c.metadata
    if not meta:
        return (c.context,)
    return (c.context, meta.get("front_matter"), meta.get("topic"))


def merge_short(
    text: str,
    chunks: list[Chunk],
    *,
    min_tokens: int,
    budget: int,
    cap: int,
    tok: Tokenizer,
) -> list[Chunk]:
    """Merge every chunk under ``min_tokens`` with a neighbour of its section it fits with
    (``budget`` tokens, ``cap`` characters); flag the ones that fit nowhere ``short``.

    Example:
        >>> from lcmem.tokens import WhitespaceTokenizer
        >>> t = "a b c. d."
        >>> chunks = [Chunk("a b c.", 0, 6, token_count=3), Chunk("d.", 7, 9, token_count=1)]
        >>> [c.text for c in merge_short(t, chunks, min_tokens=2, budget=4, cap=64,
        ...                              tok=WhitespaceTokenizer())]
        ['a b c. d.']
    """
    if min_tokens <= 0 or not chunks:
        return chunks
    if not any(c.token_count < min_tokens for c in chunks):
        return chunks
    additive = getattr(tok, "whitespace_additive", False) is True
    n = len(chunks)
    out: list[Chunk] = []
    cur = chunks[0]
    i = 1
    while True:
        if cur.token_count < min_tokens:
            key = section_of(cur)
            best: tuple[tuple[int, int], str, Chunk] | None = None
            if out and section_of(out[-1]) == key:
                m = _union(text, out[-1], cur, budget, cap, tok, additive)
                if m is not None:
                    best = (_preference(text, out[-1], cur, m), "prev", m)
            if i < n and section_of(chunks[i]) == key:
                m = _union(text, cur, chunks[i], budget, cap, tok, additive)
                if m is not None:
                    rank = _preference(text, cur, chunks[i], m)
                    if best is None or rank < best[0]:
                        best = (rank, "next", m)
            if best is not None:
                if best[1] == "prev":
                    out.pop()
                else:
                    i += 1
                cur = best[2]
                continue
            if not cur.metadata.get("short"):
                cur.metadata = {**cur.metadata, "short": True}
        out.append(cur)
        if i >= n:
            return out
        cur = chunks[i]
        i += 1


def _preference(text: str, a: Chunk, b: Chunk, merged: Chunk) -> tuple[int, int]:
    """Lower is better: a merge inside one paragraph first, then the smaller result."""
    across = a.end < b.start and _BLANK_LINE.search(text, a.end, b.start) is not None
    return (int(across), merged.token_count)


def _union(
    text: str, a: Chunk, b: Chunk, budget: int, cap: int, tok: Tokenizer, additive: bool
) -> Chunk | None:
    """``a`` and ``b`` (neighbours, in order) as one chunk, or ``None`` if it would not fit."""
    if b.end - a.start > cap:
        return None
    if a.end < b.start:  # a gap, which is whitespace: both chunks are trimmed and cover the text
        if a.token_count + b.token_count > budget and additive:
            return None
        n = a.token_count + b.token_count if additive else tok.count(text[a.start : b.end])
    else:
        n = tok.count(text[a.start : b.end])
    if n > budget:
        return None
    return Chunk(text[a.start : b.end], a.start, b.end, a.context, n, _merge_meta(a, b))


def _merge_meta(a: Chunk, b: Chunk) -> dict:
    """``a``'s metadata, lists extended by ``b``'s new items (code ``symbols``), no ``short``."""
    meta = {k: v for k, v in a.metadata.items() if k != "short"}
    for k, v in b.metadata.items():
        if k == "short":
            continue
        if k not in meta:
            meta[k] = v
        elif isinstance(v, list) and isinstance(meta[k], list):
            meta[k] = [*meta[k], *(x for x in v if x not in meta[k])]
    return meta


def finish(
    text: str, chunks: Sequence[Chunk], *, chunk_size: int, tok: Tokenizer, min_tokens: int
) -> list[Chunk]:
    """Both rules, ceiling first: the chunks a chunker returns."""
    cap = char_ceiling(chunk_size)
    out = bound_chars(text, list(chunks), cap, tok)
    return merge_short(text, out, min_tokens=min_tokens, budget=chunk_size, cap=cap, tok=tok)
