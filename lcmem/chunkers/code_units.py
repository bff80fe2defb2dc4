"""How the code chunker turns a :class:`~lcmem.chunkers.code_syntax.Syntax` tree into chunks:
units that fit the budget, merged within their group, counted by lines and checked for real.

Example:
    >>> from lcmem.chunkers.code_syntax import PythonSyntax
    >>> from lcmem.tokens import WhitespaceTokenizer
    >>> src = "def a():\\n    return 1\\n\\n\\ndef b():\\n    return 2\\n"
    >>> p = LinePacker(src, WhitespaceTokenizer(), budget=8, overlap=0)
    >>> units = Builder(p, PythonSyntax(src)).build(PythonSyntax.parse(src), len(src), ())
    >>> [(c.context, c.metadata["symbols"]) for c in pack_units(src, p, units)]
    [('', ['a', 'b'])]
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from itertools import accumulate, groupby, islice, pairwise
from operator import attrgetter, lt, sub
from typing import Any, NamedTuple, cast

from lcmem.chunkers.code_syntax import Member, Syntax
from lcmem.chunkers.text import LINES, WORDS, Piece, SpanPacker
from lcmem.tokens import Tokenizer, WhitespaceTokenizer
from lcmem.types import Chunk

__all__ = ["Builder", "LinePacker", "pack_units", "recount"]

_NON_SPACE = re.compile(r"\S")

MAX_DEPTH = 60
"""Nesting depth past which a block is split by lines rather than by its members."""


class _Unit(NamedTuple):
    """A piece that fits the budget; neighbours of one ``group`` may merge into a chunk.
    (A named tuple: one is made per statement, so it must be cheap.)"""

    start: int
    end: int
    tokens: int
    context: tuple[str, ...]
    symbols: tuple[str, ...]
    group: int


_UNIT = partial(tuple.__new__, _Unit)
"""Makes a :class:`_Unit` from a tuple without the Python-level ``__new__`` of named tuples
(one is made per statement)."""


@dataclass
class _Scope:
    context: tuple[str, ...]
    qual: tuple[str, ...]
    head_group: int
    body_group: int
    is_class: bool = False
    own: tuple[str, ...] = ()  # the symbol of the definition this scope is the body of
    container: bool = False
    seen_def: bool = False

    def symbols(self) -> tuple[str, ...]:
        """Symbols of a non-definition unit here: a function's own name on all its pieces, a
        container's name on its header and fields before the first method."""
        return () if self.container and self.seen_def else self.own

    def group(self) -> int:
        """Group of a non-definition unit here: the header's until a definition is met."""
        return self.body_group if self.seen_def else self.head_group


class Builder:
    """Turns a :class:`Syntax` tree into units that each fit the budget."""

    def __init__(self, packer: LinePacker, syntax: Syntax) -> None:
        self.p = packer
        self.syntax = syntax
        self.units: list[_Unit] = []
        self._groups = 0

    def group(self) -> int:
        self._groups += 1
        return self._groups

    def build(self, root: Any, end: int, context: tuple[str, ...]) -> list[_Unit]:
        scope = _Scope(context, (), self.group(), self.group())
        self._block(root, 0, end, scope, 0)
        return self.units

    # -- emitting ---------------------------------------------------------------------------

    def _emit(self, start: int, end: int, tokens: int, ctx: tuple[str, ...], syms, group) -> None:
        # Units stay untrimmed (chunks are trimmed once packed); blank ones are dropped.
        if tokens or _NON_SPACE.search(self.p.text, start, end):
            self.units.append(_Unit(start, end, tokens, ctx, tuple(syms), group))

    def _code(self, start: int, end: int, n: int | None, scope: _Scope, depth: int, node: Any):
        """A non-definition piece: one unit if it fits, else its members, else its lines."""
        group = scope.group()
        syms = scope.symbols()
        if n is not None and n <= self.p.budget:
            self._emit(start, end, n, scope.context, syms, group)
        elif node is not None and depth < MAX_DEPTH:
            self._block(node, start, end, scope, depth + 1)
        else:
            for s, e, k in self.p.split(start, end, (LINES, WORDS)):
                self.units.append(_Unit(s, e, k, scope.context, syms, group))

    # -- walking ----------------------------------------------------------------------------

    def _block(self, node: Any, start: int, end: int, scope: _Scope, depth: int) -> None:
        """Cut ``text[start:end]`` (the piece of ``node``) at its members' offsets."""
        members = _normalise(self.syntax.members(node), start, end) if depth < MAX_DEPTH else []
        if not members:
            self._code(start, end, None, scope, MAX_DEPTH, None)
            return
        cuts = [m.cut for m in members]
        head = cuts[0] > start  # text before the first member (e.g. a signature)
        bounds = [start, *cuts, end] if head else [*cuts, end]
        counts = self.p.counts_between(bounds)
        if head:
            self._code(start, cuts[0], counts[0], scope, MAX_DEPTH, None)
        units, text, budget = self.units, self.p.text, self.p.budget
        ctx, syms, group = scope.context, scope.symbols(), scope.group()
        for m, (a, b), n in zip(members, pairwise(bounds[head:]), counts[head:], strict=True):
            if m.defn is None and n is not None and n <= budget:
                # A statement that fits (most do): what _code and _emit do, inlined.
                if n or _NON_SPACE.search(text, a, b):
                    units.append(_UNIT((a, b, n, ctx, syms, group)))
                continue
            if m.defn is None:
                self._code(a, b, n, scope, depth, m.node)
            else:
                self._definition(m, a, b, n, scope, depth)
            syms, group = scope.symbols(), scope.group()  # it may have met a definition

    def _definition(self, m: Member, a: int, b: int, n: int | None, scope: _Scope, depth: int):
        d = m.defn
        assert d is not None
        word = "method" if d.word == "function" and scope.is_class else d.word
        qual = (*scope.qual, d.name)
        symbol = self.syntax.sep.join(qual)
        ctx = (*scope.context, f"{word} {d.name}")
        scope.seen_def = True
        if n is not None and n <= self.p.budget:
            syms = [symbol]
            if d.container:
                syms += self._inner_symbols(m.node, qual)
            self._emit(a, b, n, ctx, syms, scope.body_group)
            return
        if d.container:
            inner = _Scope(ctx, qual, self.group(), self.group(), d.is_class, (symbol,), True)
        else:
            g = self.group()
            inner = _Scope(ctx, qual, g, g, False, (symbol,))
        self._block(m.node, a, b, inner, depth + 1)

    def _inner_symbols(self, node: Any, qual: tuple[str, ...]) -> list[str]:
        """Qualified names of the definitions directly inside a container that fits whole."""
        out: list[str] = []
        todo = [(node, qual, 0)]
        while todo:
            nd, q, depth = todo.pop()
            for child, defn in self.syntax.definitions(nd):
                if defn is None:
                    if depth < 8:
                        todo.append((child, q, depth + 1))  # e.g. a body or an #ifdef block
                    continue
                sub = (*q, defn.name)
                out.append(self.syntax.sep.join(sub))
                if defn.container and depth < 8:
                    todo.append((child, sub, depth + 1))
        return sorted(set(out), key=out.index)


def _normalise(members: list[Member], start: int, end: int) -> list[Member]:
    """Members whose cuts strictly increase inside ``[start, end)``; a member whose piece
    would be empty (its text swallowed by the next one's comments) is dropped."""
    cuts = [m.cut for m in members]
    if cuts and start <= cuts[0] and cuts[-1] < end and all(map(lt, cuts, cuts[1:])):
        return members  # the usual case, checked in C
    out: list[Member] = []
    for m in members:
        cut = max(m.cut, start)
        if cut >= end:
            break
        while out and out[-1].cut >= cut:
            out.pop()
        out.append(m if cut == m.cut else Member(cut, m.node, m.defn))
    return out


class LinePacker(SpanPacker):
    """A :class:`SpanPacker` that counts spans by whole lines: every line is counted once
    (in one batch) and a span that starts and ends at line boundaries (give or take
    whitespace) costs two prefix-sum look-ups. Other spans are counted for real.

    A sum of line counts is exact for tokenizers whose tokens never cross a newline (the
    whitespace tokenizer, BERT WordPiece: ``whitespace_additive``), an estimate otherwise, so
    :func:`recount` checks every chunk of the others with the real tokenizer at the end.
    """

    def __init__(self, text: str, tokenizer: Tokenizer, budget: int, overlap: int) -> None:
        super().__init__(text, tokenizer, budget, overlap)
        lines = text.split("\n")
        # each line start is the previous one plus its length and the newline (map, not a
        # generator expression: one C-level pass over ~30 lines per kB of code)
        starts = list(accumulate(map((1).__add__, map(len, lines[:-1])), initial=0))
        self.line_starts = starts
        self._row_at = dict(zip(starts, range(len(starts)), strict=True))
        self._row_at.setdefault(len(text), len(starts))
        """Row of every line start (and of the end of the text): spans cut at line starts,
        the usual case, are counted with two dictionary look-ups."""
        line_counts = getattr(tokenizer, "line_counts", None)
        if type(tokenizer) is WhitespaceTokenizer:
            per_line = [len(x.split()) for x in lines]  # str.split: the same whitespace as \s
        elif line_counts is not None and _whitespace_additive(tokenizer):
            per_line = line_counts(text)  # one pass over the text (see lcmem.tokens)
        elif self._count_many is not None:
            # A batching tokenizer counts the non-blank lines in parallel.
            todo = [k for k, x in enumerate(lines) if x and not x.isspace()]
            found = self._count_many([lines[k].strip() for k in todo]) if todo else []
            per_line = [0] * len(lines)
            for k, n in zip(todo, found, strict=True):
                per_line[k] = n
        else:
            # One pass over the whole text: tokens starting before each line.
            token_starts = sorted(a for a, _ in tokenizer.offsets(text))
            self.prefix = [bisect_left(token_starts, a) for a in starts]
            self.prefix.append(len(token_starts))
            return
        self.prefix = list(accumulate(per_line, initial=0))

    def _by_lines(self, a: int, b: int) -> int | None:
        """Tokens in ``text[a:b]`` from line counts, or ``None`` if it cuts a line."""
        text, starts = self.text, self.line_starts
        if a >= b:
            return 0
        ra = bisect_right(starts, a) - 1
        rb = bisect_right(starts, b - 1) - 1
        line_end = starts[rb + 1] if rb + 1 < len(starts) else len(text)
        if (a == starts[ra] or text[starts[ra] : a].isspace()) and (
            b == line_end or text[b:line_end].isspace()
        ):
            return self.prefix[rb + 1] - self.prefix[ra]
        return None

    def count(self, start: int, end: int) -> int:
        n = self._by_lines(start, end)
        return super().count(start, end) if n is None else n

    def counts_between(self, bounds: list[int]) -> list[int | None]:
        """:meth:`counts` of the spans between consecutive ``bounds`` (increasing offsets).

        The usual case, every bound a line start, costs three C-level passes: the code
        chunker asks for the counts of every statement of every block it splits.
        """
        rows = list(map(self._row_at.get, bounds))
        if None in rows:
            return self.counts(list(pairwise(bounds)))
        sums = list(map(self.prefix.__getitem__, cast("list[int]", rows)))  # no None left
        return list(map(sub, islice(sums, 1, None), sums))

    def spaced(self, cuts: list[int]) -> bool:
        """Whether every cut touches whitespace (see ``SpanPacker._spaced``); a line start
        does (a newline precedes it), so the usual case is a dictionary look-up each."""
        return all(map(self._row_at.__contains__, cuts)) or all(map(self._spaced, cuts))

    def counts(self, spans: Sequence[tuple[int, int]], limit: bool = True) -> list[int | None]:
        if spans:
            # The usual case, every span from a line start to a later one, costs a few C-level
            # passes (the code chunker asks for the counts of every statement of a block).
            firsts, lasts = zip(*spans, strict=True)
            rows_a = list(map(self._row_at.get, firsts))
            rows_b = list(map(self._row_at.get, lasts))
            if None not in rows_a and None not in rows_b and all(map(lt, firsts, lasts)):
                at = self.prefix.__getitem__
                b_rows, a_rows = cast("list[int]", rows_b), cast("list[int]", rows_a)  # no None
                return list(map(sub, map(at, b_rows), map(at, a_rows)))
        return self._counts(spans, limit)

    def _counts(self, spans: Sequence[tuple[int, int]], limit: bool) -> list[int | None]:
        """:meth:`counts` span by span: by lines where they allow, else for real."""
        row_at, prefix = self._row_at.get, self.prefix
        out: list[int | None] = []
        for a, b in spans:
            ra, rb = row_at(a), row_at(b)
            if ra is not None and rb is not None and a < b:
                out.append(prefix[rb] - prefix[ra])
            else:
                out.append(self._by_lines(a, b))
        rest = [k for k, n in enumerate(out) if n is None]
        if rest:
            for k, n in zip(rest, super().counts([spans[k] for k in rest], limit), strict=True):
                out[k] = n
        return out


def recount(p: SpanPacker, chunks: list[Chunk]) -> list[Chunk]:
    """Real token counts for ``chunks`` (one batch); a chunk over budget by its real count is
    split again by lines and words with exact counts, keeping its context and metadata."""
    if _whitespace_additive(p.tok):
        return chunks  # its line counts are exact: tokens never cross a line
    texts = [c.text for c in chunks]
    count_many = getattr(p.tok, "count_many", None)
    real = count_many(texts) if count_many and len(texts) > 1 else [p.tok.count(t) for t in texts]
    out: list[Chunk] = []
    for c, n in zip(chunks, real, strict=True):
        if n <= p.budget or c.token_count == n:
            c.token_count = n
            out.append(c)
            continue
        for s, e, k in p.split(c.start, c.end, (LINES, WORDS)):
            piece = Chunk(p.text[s:e], s, e, c.context, k, dict(c.metadata))
            piece.section = c.section
            out.append(piece)
    return out


def _whitespace_additive(tok: Tokenizer) -> bool:
    """Whether counts of ``tok`` add up over pieces cut at whitespace (see ``lcmem.tokens``)."""
    return getattr(tok, "whitespace_additive", False) is True


def pack_units(text: str, p: LinePacker, units: list[_Unit]) -> list[Chunk]:
    """Merge neighbouring units of one group up to the budget; each chunk gets the common
    prefix of its units' context paths, the union of their symbols, and its group as
    :attr:`~lcmem.types.Chunk.section`: the minimum-size merge of
    :mod:`lcmem.chunkers.bounds`, run after this, merges leftovers inside a group only."""
    out: list[Chunk] = []
    for group, grouped in groupby(units, key=attrgetter("group")):
        run = list(grouped)
        if len(run) == 1:  # a definition that fits, most often
            u = run[0]
            s, e = p.trim(u.start, u.end)
            out.append(_make_chunk(text, s, e, u.tokens, run if u.start < e else [], group))
            continue
        k = 0
        for s, e, n in _balanced(p, [(u.start, u.end, u.tokens) for u in run]):
            j = k
            while j < len(run) and run[j].start < e:
                j += 1
            out.append(_make_chunk(text, s, e, n, run[k:j], group))
            k = j
    return out


def _balanced(p: LinePacker, pieces: list[Piece]) -> list[Piece]:
    """Greedy packing, evened out: if the same number of chunks fits under a smaller budget,
    use it, so a long function ends in a fair share rather than a scrap like ``return x``."""
    sizes = [n for _, _, n in pieces]
    if p._additive and min(sizes) > 0 and p.spaced([a for a, _, _ in pieces[1:]]):
        return _balanced_sums(p, pieces, sizes)
    greedy = p.pack(pieces, overlap=0)
    if len(greedy) < 2:
        return greedy
    budget = p.budget
    total = sum(n for _, _, n in pieces)
    try:
        for slack in (1.05, 1.2, 1.4):
            p.budget = min(budget, max(1, math.ceil(slack * total / len(greedy))))
            if p.budget >= budget:
                break
            even = p.pack(pieces, overlap=0)
            if len(even) <= len(greedy):
                return even
    finally:
        p.budget = budget
    return greedy


def _balanced_sums(p: SpanPacker, pieces: list[Piece], sizes: list[int]) -> list[Piece]:
    """:func:`_balanced` when every run's count is the sum of its pieces' (a
    ``whitespace_additive`` tokenizer, pieces cut at whitespace, none empty): the runs are
    found on the running sums alone and only the chosen ones are trimmed (what
    :meth:`SpanPacker.pack` does then, without its checks)."""
    prefix = list(accumulate(sizes, initial=0))
    n = len(pieces)

    def runs(budget: int) -> list[tuple[int, int]]:
        out, i = [], 0
        while i < n:
            j = bisect_right(prefix, prefix[i] + budget, lo=i + 1) - 1
            if j <= i:  # a piece over the budget alone
                j = i + 1
            out.append((i, j))
            i = j
        return out

    chosen = greedy = runs(p.budget)
    if len(greedy) >= 2:
        for slack in (1.05, 1.2, 1.4):
            budget = min(p.budget, max(1, math.ceil(slack * prefix[-1] / len(greedy))))
            if budget >= p.budget:
                break
            even = runs(budget)
            if len(even) <= len(greedy):
                chosen = even
                break
    return [(*p.trim(pieces[i][0], pieces[j - 1][1]), prefix[j] - prefix[i]) for i, j in chosen]


def _make_chunk(text: str, s: int, e: int, n: int, units: list[_Unit], group: int) -> Chunk:
    if len(units) == 1:
        context = units[0].context
        symbols = list(dict.fromkeys(units[0].symbols))
    else:
        context = _common_prefix([u.context for u in units])
        symbols = list(dict.fromkeys([sym for u in units for sym in u.symbols]))
    meta: dict[str, Any] = {"symbols": symbols}
    if symbols:
        meta["symbol"] = symbols[0]
    chunk = Chunk(text[s:e], s, e, " > ".join(context), n, meta)
    chunk.section = group
    return chunk


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not paths:
        return ()
    first = paths[0]
    if paths.count(first) == len(paths):  # the usual case: one scope
        return first
    n = len(first)
    for path in paths[1:]:
        n = min(n, len(path))
        for k in range(n):
            if path[k] != first[k]:
                n = k
                break
    return first[:n]
