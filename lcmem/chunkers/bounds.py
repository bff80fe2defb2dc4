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
  (a quarter of the budget by default) with a neighbour of the same section (see
  :func:`section_of`: the part the chunker marked, else the same ``context``) when the two fit
  the budget and the ceiling together, preferring the neighbour in the same paragraph, then the
  smaller result. A chunk under the minimum that fits with neither carries
  ``metadata["short"] = True``. This is the one minimum-size merge of every chunker: the code
  chunker packs its syntactic units up to the budget inside a scope's header or body and marks
  each chunk with that part (:attr:`~lcmem.types.Chunk.section`), so its leftovers merge under
  the same rule and never across a split class or function.

Both keep every chunk an exact, trimmed span of the document, in document order.

Example:
    >>> from lcmem.chunkers import RecursiveChunker
    >>> from lcmem.tokens import WhitespaceTokenizer
    >>> chunker = RecursiveChunker(8, 0, tokenizer=WhitespaceTokenizer())
    >>> chunks = chunker.chunk("a b c d e f g.\\n\\nh.\\n\\ni j k l m n o p q.")
    >>> [(c.text, c.metadata.get("short", False)) for c in chunks]  # "q." fits nowhere
    [('a b c d e f g.\\n\\nh.', False), ('i j k l m n o p', False), ('q.', True)]
    >>> [len(c.text) for c in chunker.chunk("x" * 1200)]   # ceiling: max(8 * 16, 512)
    [400, 400, 400]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from itertools import pairwise
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

_WORD = re.compile(r"\S+")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


def char_ceiling(chunk_size: int) -> int:
    """The most characters a chunk of a ``chunk_size``-token budget may span.

    Example:
        >>> char_ceiling(200), char_ceiling(8)
        (3200, 512)
    """
    return max(chunk_size * MAX_CHARS_PER_TOKEN, MIN_CEILING)


# -- the ceiling -----------------------------------------------------------------------------


def bound_chars(
    text: str, chunks: list[Chunk], cap: int, tok: Tokenizer, budget: int
) -> list[Chunk]:
    """``chunks`` with every chunk longer than ``cap`` characters cut into pieces of at most
    ``cap`` (each keeps the context and a copy of the metadata, and is counted for real).

    A long chunk is cut at its tokens' starts, a token longer than ``cap`` evenly inside
    itself; its tokens are packed into pieces of at most ``cap`` characters and ``budget``
    tokens, cut at whitespace when a cut there leaves at least half a piece. A piece whose real
    count goes over ``budget`` (tokenizers are not additive inside a word) is cut at every
    token. Pieces lying wholly inside a neighbouring (overlapping) chunk are dropped, so starts
    and ends stay strictly increasing and every character stays covered.

    Example:
        >>> from lcmem.tokens import WhitespaceTokenizer
        >>> c = Chunk("ab cd efgh", 0, 10, token_count=3)
        >>> [x.text for x in bound_chars(c.text, [c], 4, WhitespaceTokenizer(), 10)]
        ['ab', 'cd', 'efgh']
    """
    if not any(c.end - c.start > cap for c in chunks):
        return chunks
    count_many = getattr(tok, "count_many", None)

    def counts(spans: list[tuple[int, int]]) -> list[int]:
        texts = [text[s:e] for s, e in spans]
        return count_many(texts) if count_many is not None else [tok.count(t) for t in texts]

    out: list[Chunk] = []
    for c in chunks:
        if c.end - c.start <= cap:
            out.append(c)
            continue
        units = _units(text, c.start, c.end, cap, tok)
        runs = _pack(text, units, cap, budget)
        spans = [(units[i][0], units[j - 1][1]) for i, j in runs]
        found = counts(spans)
        pieces: list[tuple[int, int, int]] = []
        for (i, j), (s, e), n in zip(runs, spans, found, strict=True):
            if n <= budget or sum(u[2] for u in units[i + 1 : j]) == 0:
                pieces.append((s, e, n))
                continue
            # over budget with several tokens: one piece per token
            alone = [(u[0], u[1]) for u in units[i:j] if u[0] < u[1]]
            pieces += [(a, b, k) for (a, b), k in zip(alone, counts(alone), strict=True)]
        for s, e, n in pieces:
            piece = Chunk(text[s:e], s, e, c.context, n, dict(c.metadata))
            piece.section = c.section
            out.append(piece)
    return _drop_contained(out)


Unit = tuple[int, int, bool]
"""``(start, end, at_token_start)``: a token of a chunk (or an even part of a long one),
without the whitespace after it."""


def _units(text: str, start: int, end: int, cap: int, tok: Tokenizer) -> list[Unit]:
    """The tokens of ``text[start:end]`` as units of at most ``cap`` characters."""
    starts = sorted({start + a for a, _ in tok.offsets(text[start:end])} | {start})
    bounds = [*starts, end]
    units: list[Unit] = []
    for a, b in pairwise(bounds):
        a, b = _rstrip(text, a, b)
        if a >= b:
            continue
        if b - a <= cap:
            units.append((a, b, True))
            continue
        # a token longer than the ceiling (it may hold whitespace the tokenizer dropped): its
        # words, each long one cut evenly
        first = True
        for m in _WORD.finditer(text, a, b):
            w, e = m.span()
            parts = -(-(e - w) // cap)
            size = -(-(e - w) // parts)
            while w < e:
                cut = min(w + size, e)
                while w + 1 < cut < e and unicodedata.combining(text[cut]):
                    cut -= 1  # never leave a combining mark at the start of a piece
                units.append((w, cut, first))
                first = False
                w = cut
    return units


def _pack(text: str, units: list[Unit], cap: int, budget: int) -> list[tuple[int, int]]:
    """Runs ``(i, j)`` of ``units``: at most ``cap`` characters and ``budget`` token starts,
    ending at whitespace when that keeps at least half of the run."""
    runs: list[tuple[int, int]] = []
    n = len(units)
    i = 0
    while i < n:
        s = units[i][0]
        j, tokens = i + 1, int(units[i][2])
        while j < n and units[j][1] - s <= cap and tokens + units[j][2] <= budget:
            tokens += units[j][2]
            j += 1
        if j < n and not text[units[j][0] - 1].isspace():
            for k in range(j - 1, i, -1):
                if units[k][0] - s < cap // 2:
                    break
                if text[units[k][0] - 1].isspace():
                    j = k
                    break
        runs.append((i, j))
        i = j
    return runs


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
    """What two chunks must share to be merged: the part the chunker marked
    (:attr:`Chunk.section`: the code chunker's scope header or body), else the context trail
    and the metadata that marks a separate part (front matter, topic segment).

    Example:
        >>> section_of(Chunk("x", 0, 1, "Install")), section_of(Chunk("x", 0, 1, section=3))
        (('Install', None, None), ('part', 3))
    """
    if c.section is not None:
        return ("part", c.section)
    meta = c.metadata  # (the same shape with or without metadata: a ``short`` flag or no
    # metadata at all must not make two chunks of one section look apart)
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
    context = a.context if a.section is None else _common_context(a.context, b.context)
    out = Chunk(text[a.start : b.end], a.start, b.end, context, n, _merge_meta(a, b))
    out.section = a.section
    return out


def _common_context(a: str, b: str) -> str:
    """The shared start of two context trails (``"class A > def f"``, ``"class A"`` ->
    ``"class A"``): a merged code chunk is named by what both parts share."""
    if a == b:
        return a
    x, y = a.split(" > "), b.split(" > ")
    n = 0
    while n < min(len(x), len(y)) and x[n] == y[n]:
        n += 1
    return " > ".join(x[:n])


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
    out = bound_chars(text, list(chunks), cap, tok, chunk_size)
    return merge_short(text, out, min_tokens=min_tokens, budget=chunk_size, cap=cap, tok=tok)
