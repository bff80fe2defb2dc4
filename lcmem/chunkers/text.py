"""Token, sentence and recursive chunkers, and the span machinery they share.

Everything works on character offsets into the document, so chunks are exact spans. Pieces
cover the text they split without gaps (each piece owns the separator after it); a chunk is a
run of neighbouring pieces, trimmed of surrounding whitespace. Each piece is counted once with
the tokenizer and runs are packed by adding counts; the packed chunk is then counted for real
(tokenizers are not always additive across a cut) and shrunk if it went over the budget.

Why lcmem keeps its own chunkers, measured (BENCHMARKS.md, "Chunking throughput": 2 MB of man
pages, the MiniLM tokenizer for everyone, warm CPU MB/s): chonkie 1.7 and
langchain-text-splitters 1.1 decode each token window back to text, so 0% of their token
chunks are spans of the document (lcmem: 100%), and they are slower: token windows 30.9 MB/s
against 26.2 for chonkie with tokie and 1.8 / 2.1 for chonkie / langchain with ``tokenizers``;
recursive chunks 29.8 against 24.1 (chonkie + tokie) and 0.8 (langchain).

Example:
    >>> from lcmem.tokens import WhitespaceTokenizer
    >>> tok = WhitespaceTokenizer()
    >>> [c.text for c in TokenChunker(3, 1, tokenizer=tok).chunk("a b c d e")]
    ['a b c', 'c d e']
    >>> [c.text for c in SentenceChunker(4, 0, tokenizer=tok).chunk("One two. Three four. Five.")]
    ['One two. Three four.', 'Five.']
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate, islice, pairwise
from operator import itemgetter, lt

from lcmem.chunkers.base import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, Chunker
from lcmem.chunkers.sentences import sentence_cuts
from lcmem.errors import ConfigError
from lcmem.tokens import ArrayTokenIndex, TokenIndex, Tokenizer
from lcmem.types import Chunk, Document

__all__ = [
    "CODE_DEFINITIONS",
    "LINES",
    "PARAGRAPHS",
    "SENTENCES",
    "WORDS",
    "RecursiveChunker",
    "SentenceChunker",
    "Separator",
    "SpanPacker",
    "TokenChunker",
    "make_chunks",
    "token_windows",
]

CutFn = Callable[[str, int, int], list[int]]
"""``cuts(text, start, end)``: increasing offsets in ``(start, end)`` where a new piece begins."""

_MAX_CHARS_PER_TOKEN = 16
"""A span longer than ``budget * this`` characters is split without being counted first (it is
almost surely over budget; if not, its pieces are packed back together and counted then)."""

_NON_SPACE = re.compile(r"\S")
_SPLITTING_SPACE = frozenset(" \t\n\r")
_SPLITTING_SPACE_RE = re.compile(r"[ \t\n\r]")
"""Whitespace every whitespace-additive tokenizer splits at (see ``_spaced``)."""


@dataclass(frozen=True)
class Separator:
    """One level of a recursive split: a name (recorded in ``config()``) and a cut function.

    Build one from a literal string, a compiled regex (a piece ends where a match ends), or use
    the presets :data:`PARAGRAPHS`, :data:`LINES`, :data:`SENTENCES`, :data:`WORDS`.

    Example:
        >>> Separator.of(";").cuts("a; b; c", 0, 7)
        [2, 5]
    """

    name: str
    cuts: CutFn

    @classmethod
    def of(cls, sep: str | re.Pattern[str] | Separator) -> Separator:
        """A separator from a literal string, a compiled regex, or a separator."""
        if isinstance(sep, Separator):
            return sep
        if isinstance(sep, re.Pattern):
            return cls(f"re:{sep.pattern}", _regex_cuts(sep))
        if isinstance(sep, str) and sep:
            return cls(f"literal:{sep}", _regex_cuts(re.compile(re.escape(sep))))
        raise ConfigError(
            f"bad separator {sep!r}: pass a non-empty string, a compiled regex or a Separator"
        )


def _regex_cuts(pattern: re.Pattern[str]) -> CutFn:
    def cuts(text: str, start: int, end: int) -> list[int]:
        out: list[int] = []
        last = start
        for m in pattern.finditer(text, start, end):
            c = m.end()
            if last < c < end:
                out.append(c)
                last = c
        return out

    return cuts


PARAGRAPHS = Separator("paragraphs", _regex_cuts(re.compile(r"\n[^\S\n]*\n\s*")))
"""Blank lines: a piece is a paragraph plus the blank lines after it."""
LINES = Separator("lines", _regex_cuts(re.compile(r"\n")))
"""Line ends."""
SENTENCES = Separator("sentences", sentence_cuts)
"""Sentence ends, by :func:`lcmem.chunkers.sentences.sentence_cuts`."""
WORDS = Separator("words", _regex_cuts(re.compile(r"\s+")))
"""Whitespace runs."""

_MODIFIERS = (
    r"(?:(?:export|default|public|private|protected|internal|static|final|abstract|sealed|"
    r"async|unsafe|extern|pub(?:\([\w:]+\))?|override|open|data|inline)\s+)*"
)
_DEFINITION = re.compile(
    r"@|"
    + _MODIFIERS
    + r"(?:def|class|function|func|fn|impl|struct|enum|trait|interface|type|mod|module|"
    r"object|record|namespace)\b"
)
_BLANK_LINES = re.compile(r"\n(?:[^\S\n]*\n)+")


def _definition_cuts(text: str, start: int, end: int) -> list[int]:
    # Find each run of blank lines once, then look at the line after it (a lookahead inside
    # the regex would rescan long runs of blank lines from every position: quadratic).
    return [
        m.end()
        for m in _BLANK_LINES.finditer(text, start, end)
        if m.end() < end and _DEFINITION.match(text, m.end(), end)
    ]


CODE_DEFINITIONS = Separator("code-definitions", _definition_cuts)
"""Blank lines followed by a top-level (unindented) definition or decorator line:
``def``/``class`` (Python), ``function``/``class`` (JS/TS), ``func`` (Go), ``fn``/``impl``/
``struct`` (Rust), with modifiers such as ``export``, ``pub``, ``async``, ``public``."""

DEFAULT_SEPARATORS: tuple[Separator, ...] = (PARAGRAPHS, LINES, SENTENCES, WORDS)
CODE_SEPARATORS: tuple[Separator, ...] = (CODE_DEFINITIONS, PARAGRAPHS, LINES, WORDS)

Piece = tuple[int, int, int]
"""``(start, end, tokens)``: a span of the text and its token count."""


class SpanPacker:
    """Splits and packs spans of one text under a token budget (shared by every chunker).

    Example:
        >>> from lcmem.tokens import WhitespaceTokenizer
        >>> p = SpanPacker("a b. c d. e", WhitespaceTokenizer(), budget=2, overlap=0)
        >>> [p.text[s:e] for s, e, _ in p.split(0, 11, DEFAULT_SEPARATORS)]
        ['a b.', 'c d.', 'e']
    """

    def __init__(self, text: str, tokenizer: Tokenizer, budget: int, overlap: int) -> None:
        self.text = text
        self.tok = tokenizer
        self.budget = budget
        self.overlap = overlap
        self._count_many = getattr(tokenizer, "count_many", None)
        # Counts add up over pieces cut at whitespace (see lcmem.tokens): such runs need no
        # recount.
        self._additive = getattr(tokenizer, "whitespace_additive", False) is True

    # -- counting ---------------------------------------------------------------------------

    def trim(self, start: int, end: int) -> tuple[int, int]:
        """``(start, end)`` without surrounding whitespace; ``start == end`` if nothing is left."""
        text = self.text
        m = _NON_SPACE.search(text, start, end)
        if m is None:
            return start, start
        start = m.start()
        # rstrip a short tail rather than a copy of the whole span
        lo = max(start, end - 64)
        tail = text[lo:end].rstrip()
        if tail or lo == start:
            return start, lo + len(tail)
        return start, start + len(text[start:lo].rstrip())

    def count(self, start: int, end: int) -> int:
        """Tokens in the trimmed span."""
        t = self.text[start:end].strip()
        return self.tok.count(t) if t else 0

    def counts(self, spans: Sequence[tuple[int, int]], limit: bool = True) -> list[int | None]:
        """Tokens of each trimmed span; ``None`` for spans too long to be worth counting."""
        cap = self.budget * _MAX_CHARS_PER_TOKEN if limit else None
        out: list[int | None] = [None] * len(spans)
        todo: list[int] = []
        texts: list[str] = []
        for i, (a, b) in enumerate(spans):
            if cap is not None and b - a > cap:
                continue
            t = self.text[a:b].strip()
            if t:
                todo.append(i)
                texts.append(t)
            else:
                out[i] = 0
        if texts:
            if self._count_many is not None and len(texts) > 1:
                found = self._count_many(texts)
            else:
                found = [self.tok.count(t) for t in texts]
            for i, n in zip(todo, found, strict=True):
                out[i] = n
        return out

    # -- splitting --------------------------------------------------------------------------

    def token_pieces(self, start: int, end: int) -> list[Piece]:
        """One piece per token of ``text[start:end]`` (tokens starting at one offset stay
        together); each piece runs to the next token so the pieces cover the span."""
        if start >= end:
            return []
        # map/itemgetter/operator.lt keep these per-token passes in C (they are most of the
        # token chunker's time).
        starts_of = getattr(self.tok, "token_starts", None)
        if starts_of is not None:
            starts = starts_of(self.text[start:end])
        else:
            starts = list(map(itemgetter(0), self.tok.offsets(self.text[start:end])))
        if not starts:
            return [(start, end, self.count(start, end))]
        if start:
            starts = [a + start for a in starts]
        sizes = [1] * len(starts)
        if not all(map(lt, starts, islice(starts, 1, None))):
            # Several tokens from one character (or out-of-order offsets): one piece per start.
            per_start = Counter(starts)
            starts = sorted(per_start)
            sizes = [per_start[a] for a in starts]
        starts[0] = start
        ends = [*starts[1:], end]
        return list(zip(starts, ends, sizes, strict=True))

    def split(
        self,
        start: int,
        end: int,
        levels: Sequence[Separator],
        *,
        protect: int = -1,
    ) -> list[Piece]:
        """Chunks of ``text[start:end]``: split by ``levels`` in order (then by tokens) until
        pieces fit, packing neighbouring pieces of one level up to the budget with overlap.

        No cut is made at or before ``protect`` (used to keep a heading with what follows).
        """
        return self._split(start, end, levels, 0, None, protect)

    def _split(
        self,
        start: int,
        end: int,
        levels: Sequence[Separator],
        level: int,
        n: int | None,
        protect: int,
    ) -> list[Piece]:
        if n is None and end - start <= self.budget * _MAX_CHARS_PER_TOKEN:
            n = self.count(start, end)
        if n is not None and n <= self.budget:
            s, e = self.trim(start, end)
            return [(s, e, n)] if s < e else []
        if level >= len(levels):
            return self.pack(self.token_pieces(start, end), exact=False)
        cuts = [c for c in levels[level].cuts(self.text, start, end) if c > protect]
        if not cuts:
            return self._split(start, end, levels, level + 1, n, protect)
        bounds = [start, *cuts, end]
        spans = list(pairwise(bounds))
        out: list[Piece] = []
        run: list[Piece] = []
        for (a, b), c in zip(spans, self.counts(spans), strict=True):
            if c is not None and c <= self.budget:
                run.append((a, b, c))
                continue
            if run:
                out += self.pack(run)
                run = []
            out += self._split(a, b, levels, level + 1, c, protect if a == start else -1)
        if run:
            out += self.pack(run)
        return out

    # -- packing ----------------------------------------------------------------------------

    def pack(
        self,
        pieces: Sequence[Piece],
        *,
        exact: bool = True,
        overlap: int | None = None,
        fresh: int = 0,
    ) -> list[Piece]:
        """Greedy runs of neighbouring pieces up to the budget, as trimmed chunks.

        Consecutive chunks share trailing pieces worth at most ``overlap`` tokens. Runs are
        formed by adding piece counts and then counted for real, a batch at a time; a run over
        budget (counts do not always add up across a cut) drops its overlap, then pieces from
        its end, until it fits. With ``exact=True`` a piece's count is trusted when it forms a
        chunk alone. Pieces before index ``fresh`` are already in an earlier chunk.

        Every chunk holds at least one piece no earlier chunk holds, so starts and ends
        strictly increase.
        """
        overlap = self.overlap if overlap is None else overlap
        # Whitespace-only pieces add nothing to a (trimmed) chunk; without them every run
        # starts and ends with text.
        sizes = list(map(itemgetter(2), pieces))
        keep = (
            range(len(pieces))
            if not sizes or min(sizes) > 0
            else [k for k, p in enumerate(pieces) if p[2] or _NON_SPACE.search(self.text, *p[:2])]
        )
        if len(keep) < len(pieces):
            fresh = sum(1 for k in keep if k < fresh)
            pieces = [pieces[k] for k in keep]
            sizes = list(map(itemgetter(2), pieces))
        out: list[Piece] = []
        n_pieces = len(pieces)
        prefix = list(accumulate(sizes, initial=0))
        whole = len(keep) == len(pieces)  # pieces[0] and pieces[-1] are the region's edges
        if exact and self._additive and all(self._spaced(p[0]) for p in pieces[1:]):
            # Every run's count is the sum of its pieces' (see _adds_up) and, by _grow, within
            # the budget unless it is one piece: the greedy runs are the chunks.
            i = 0
            while i < n_pieces:
                j = self._grow(pieces, i, prefix)
                out.append((*self.trim(pieces[i][0], pieces[j - 1][1]), prefix[j] - prefix[i]))
                i = self._next_start(pieces, i, j, overlap, prefix)
            return out
        i = 0
        batch = 16
        while i < n_pieces:
            # Runs by estimated counts, then their real counts in one batch.
            runs: list[tuple[int, int, int]] = []
            start, seen = i, fresh
            while start < n_pieces and len(runs) < batch:
                j = self._grow(pieces, start, prefix)
                runs.append((start, j, seen))
                start, seen = self._next_start(pieces, start, j, overlap, prefix), j
            spans = [self.trim(pieces[a][0], pieces[b - 1][1]) for a, b, _ in runs]
            check = [
                k
                for k, (a, b, _) in enumerate(runs)
                if not (exact and b - a == 1) and not self._adds_up(pieces, a, b, exact, whole)
            ]
            found = self.counts([spans[k] for k in check], limit=False)
            counted = dict(zip(check, found, strict=True))
            for k, (a, b, seen) in enumerate(runs):
                n = counted[k] if k in counted else prefix[b] - prefix[a]
                assert n is not None
                s, e = spans[k]
                if n > self.budget and b - a > 1:
                    a, b, s, e, n = self._fit(pieces, a, b, seen, exact, prefix)
                    out.append((s, e, n))
                    i, fresh = self._next_start(pieces, a, b, overlap, prefix), b
                    batch = max(4, batch // 2)
                    break
                out.append((s, e, n))
                i, fresh = self._next_start(pieces, a, b, overlap, prefix), b
            else:
                batch = min(256, batch * 2)
        return out

    def _adds_up(self, pieces: Sequence[Piece], a: int, b: int, exact: bool, whole: bool) -> bool:
        """Whether the count of the run ``pieces[a:b]`` is known without counting it, for a
        ``whitespace_additive`` tokenizer: the sum of its pieces' counts when every cut inside
        it touches whitespace (``exact`` pieces, each counted alone); the number of tokens
        starting in it when its two ends do (token pieces, counted in context; the edges of
        the split region count as such ends when no piece was dropped)."""
        if not self._additive:
            return False
        if exact:
            return all(self._spaced(pieces[k][0]) for k in range(a + 1, b))
        n = len(pieces)
        ends = (
            0 if a == 0 and whole else pieces[a][0],
            0 if b == n and whole else pieces[b - 1][1],
        )
        return all(self._spaced(c) for c in ends)

    def _spaced(self, c: int) -> bool:
        """Whether a cut at ``c`` touches whitespace (or is an edge of the text)."""
        text = self.text
        if c <= 0 or c >= len(text):
            return True
        # Only these four: a tokenizer may delete other "whitespace" (BERT drops \f, \v).
        return text[c - 1] in _SPLITTING_SPACE or text[c] in _SPLITTING_SPACE

    def _grow(self, pieces: Sequence[Piece], i: int, prefix: Sequence[int]) -> int:
        """End index of the greedy run from ``pieces[i]`` by estimated counts (``prefix``: the
        running sums of the counts, so this is one bisection; counts are never negative)."""
        j = bisect_right(prefix, prefix[i] + self.budget, lo=i + 1) - 1
        return max(j, i + 1)

    def _next_start(
        self, pieces: Sequence[Piece], i: int, j: int, overlap: int, prefix: Sequence[int]
    ) -> int:
        """Start of the run after ``pieces[i:j]``: ``j``, minus trailing pieces worth at most
        ``overlap`` tokens that still leave room for ``pieces[j]`` (at least ``i + 1``)."""
        if overlap <= 0 or j >= len(pieces):
            return j
        limit = min(overlap, self.budget - pieces[j][2])
        if limit < 0:
            return j
        return bisect_left(prefix, prefix[j] - limit, lo=i + 1, hi=j)

    def _fit(
        self,
        pieces: Sequence[Piece],
        i: int,
        j: int,
        fresh: int,
        exact: bool,
        prefix: Sequence[int],
    ) -> tuple[int, int, int, int, int]:
        """Shrink the run ``pieces[i:j]`` (over budget by its real count) until it fits: drop
        its overlap first, then pieces from its end; it keeps at least one piece."""
        if i < fresh:
            i = fresh
            j = self._grow(pieces, i, prefix)
        while True:
            s, e = self.trim(pieces[i][0], pieces[j - 1][1])
            n = pieces[i][2] if exact and j - i == 1 else self.count(s, e)
            if n <= self.budget or j - i == 1:
                return i, j, s, e, n
            excess = n - self.budget
            while j - i > 1 and excess > 0:
                j -= 1
                excess -= max(pieces[j][2], 1)


def make_chunks(text: str, pieces: Sequence[Piece], **fields) -> list[Chunk]:
    """Chunks from packed ``(start, end, tokens)`` spans; ``fields`` go to every chunk."""
    if fields:
        return [Chunk(text[s:e], s, e, token_count=n, **fields) for s, e, n in pieces]
    return [Chunk(text[s:e], s, e, "", n) for s, e, n in pieces]  # positional: the hot path


class _TextChunker(Chunker):
    """Adds the tokenizer's name to ``config()`` (it changes where chunks are cut)."""

    def config(self) -> dict:
        return {**super().config(), "tokenizer": self.tokenizer.name}

    def _packer(self, text: str) -> SpanPacker:
        return SpanPacker(text, self.tokenizer, self.chunk_size, self.chunk_overlap)


class TokenChunker(_TextChunker):
    """Windows of ``chunk_size`` model tokens, consecutive windows sharing ``chunk_overlap``.

    Cuts fall on token boundaries (``tokenizer.offsets``); characters the tokenizer skips
    stay with the token before them, so nothing is lost.

    Example:
        >>> from lcmem.tokens import WhitespaceTokenizer
        >>> chunker = TokenChunker(chunk_size=2, chunk_overlap=0, tokenizer=WhitespaceTokenizer())
        >>> [c.text for c in chunker.chunk("a b c d e")]
        ['a b', 'c d', 'e']
    """

    name = "token"

    def _chunk(self, doc: Document) -> list[Chunk]:
        p = self._packer(doc.text)
        index_of = getattr(self.tokenizer, "token_index", None)
        index = index_of(doc.text) if index_of is not None and p._additive else None
        if index is not None and index.n:
            return make_chunks(doc.text, token_windows(p, index))
        return make_chunks(doc.text, p.pack(p.token_pieces(0, len(doc.text)), exact=False))


def token_windows(p: SpanPacker, index: TokenIndex | ArrayTokenIndex) -> list[Piece]:
    """``p.pack(p.token_pieces(0, len(p.text)), exact=False)`` for a ``whitespace_additive``
    tokenizer, from a :class:`~lcmem.tokens.TokenIndex`: the same chunks, but only the tokens
    at window edges are located (each token is its own piece, so piece ``k`` starts at token
    ``k`` and the running sums of piece counts are the indices themselves).

    A window's count is known without tokenizing it: between the first splitting space after
    its start and the last one before its end it holds the text's own tokens (tokens never
    cross those spaces); only a word cut at either end (a word piece) is counted alone. A cut
    next to a character the index says always stands alone (punctuation) splits no word.

    Example:
        >>> from lcmem.tokens import HFTokenizer
        >>> tok = HFTokenizer.default()
        >>> p = SpanPacker("one two three four five", tok, budget=3, overlap=1)
        >>> token_windows(p, tok.token_index(p.text)) == p.pack(p.token_pieces(0, 23), exact=False)
        True
    """
    text, budget, n, count_of = p.text, p.budget, index.n, p.tok.count
    size = len(text)
    start_of, before = index.start, index.before
    space = _SPLITTING_SPACE | index.alone  # a cut next to one of these splits no word

    def at(k: int) -> int:  # where piece k starts (the first one at 0; k == n: the end)
        return 0 if k == 0 else size if k >= n else start_of(k)

    def trimmed(a: int, b: int) -> tuple[int, int]:  # p.trim without copying the window
        if a == 0 or text[a].isspace():
            return p.trim(a, b)
        lo = max(a, b - 64)
        tail = text[lo:b].rstrip()
        return (a, lo + len(tail)) if tail or lo == a else p.trim(a, b)

    def counted(i: int, j: int, a: int, b: int) -> int | None:  # see the docstring
        count = j - i
        if a > 0 and (text[a - 1] not in space and text[a] not in space):
            m = _SPLITTING_SPACE_RE.search(text, a, b)
            if m is None:
                return None
            w = m.start()
            count += count_of(text[a:w]) - (before(w) - i)
        if b < size and (text[b - 1] not in space and text[b] not in space):
            w = 1 + max(
                text.rfind(" ", a, b),
                text.rfind("\n", a, b),
                text.rfind("\t", a, b),
                text.rfind("\r", a, b),
            )
            if w <= a:
                return None
            count += count_of(text[w:b]) - (j - before(w))
        return count

    def real(i: int, j: int) -> tuple[int, int, int]:
        s, e = trimmed(at(i), at(j))
        return s, e, p.count(s, e)

    limit = min(p.overlap, budget - 1)
    step = p.overlap > 0 and limit >= 0
    out: list[Piece] = []
    i = fresh = 0
    while i < n:
        j = min(i + budget, n)
        a, b = at(i), at(j)
        s, e = trimmed(a, b)
        count = counted(i, j, a, b)
        if count is None:
            count = p.count(s, e)
        if count > budget and j - i > 1:  # drop the overlap, then tokens from the end
            if i < fresh:
                i = fresh
                j = min(i + budget, n)
                s, e, count = real(i, j)
            while count > budget and j - i > 1:
                j = max(i + 1, j - (count - budget))
                s, e, count = real(i, j)
        out.append((s, e, count))
        i, fresh = (max(i + 1, j - limit) if step and j < n else j), j
    return out


class SentenceChunker(_TextChunker):
    """Packs whole sentences up to ``chunk_size`` tokens.

    Consecutive chunks share trailing whole sentences worth at most ``chunk_overlap`` tokens.
    A sentence longer than the budget is cut at token boundaries and packed on its own.
    Sentences come from :mod:`lcmem.chunkers.sentences` (every newline is a boundary).

    Example:
        >>> from lcmem.tokens import WhitespaceTokenizer
        >>> chunker = SentenceChunker(5, 2, tokenizer=WhitespaceTokenizer())
        >>> [c.text for c in chunker.chunk("Aa bb cc. Dd ee. Ff gg hh.")]
        ['Aa bb cc. Dd ee.', 'Dd ee. Ff gg hh.']
    """

    name = "sentence"

    def config(self) -> dict:
        return {**super().config(), "splitter": "lcmem-rules-1"}

    def _chunk(self, doc: Document) -> list[Chunk]:
        text = doc.text
        p = self._packer(text)
        bounds = [0, *sentence_cuts(text), len(text)]
        spans = list(pairwise(bounds))
        out: list[Piece] = []
        run: list[Piece] = []
        for (a, b), n in zip(spans, p.counts(spans), strict=True):
            if n is not None and n <= self.chunk_size:
                run.append((a, b, n))
                continue
            if run:
                out += p.pack(run)
                run = []
            out += p.pack(p.token_pieces(a, b), exact=False)
        if run:
            out += p.pack(run)
        return make_chunks(text, out)


class RecursiveChunker(_TextChunker):
    """Splits by a hierarchy of separators, then packs neighbouring pieces up to the budget.

    The default hierarchy is blank lines, lines, sentences, words; tokens are always the last
    resort. A piece that fits the budget is not split further; neighbouring pieces of one level
    are packed together with ``chunk_overlap`` tokens of overlap (whole pieces).

    Args:
        separators: levels to split by, most significant first: :class:`Separator` presets
            (:data:`PARAGRAPHS`, :data:`LINES`, :data:`SENTENCES`, :data:`WORDS`), literal
            strings, or compiled regexes (a piece ends where a match ends).

    Example:
        >>> from lcmem.tokens import WhitespaceTokenizer
        >>> chunker = RecursiveChunker(4, 0, tokenizer=WhitespaceTokenizer())
        >>> [c.text for c in chunker.chunk("one two three. four five six.")]
        ['one two three.', 'four five six.']
        >>> code = RecursiveChunker.for_code(chunk_size=200)   # for source files
    """

    name = "recursive"

    def __init__(
        self,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
        tokenizer: Tokenizer | None = None,
        separators: Sequence[str | re.Pattern[str] | Separator] | None = None,
    ) -> None:
        super().__init__(chunk_size, chunk_overlap, tokenizer)
        if isinstance(separators, str | re.Pattern):
            raise ConfigError("separators must be a list of separators, not a single one")
        self.separators: tuple[Separator, ...] = (
            DEFAULT_SEPARATORS if separators is None else tuple(map(Separator.of, separators))
        )

    @classmethod
    def for_code(
        cls,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
        tokenizer: Tokenizer | None = None,
    ) -> RecursiveChunker:
        """A preset for source code: top-level definitions, blank lines, lines, words.

        Example:
            >>> RecursiveChunker.for_code().config()["separators"][0]
            'code-definitions'
        """
        return cls(chunk_size, chunk_overlap, tokenizer, separators=CODE_SEPARATORS)

    def config(self) -> dict:
        return {**super().config(), "separators": [s.name for s in self.separators]}

    def _chunk(self, doc: Document) -> list[Chunk]:
        p = self._packer(doc.text)
        return make_chunks(doc.text, p.split(0, len(doc.text), self.separators))
