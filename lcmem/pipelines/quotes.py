"""Check quotes a model claims to have copied against the source; keep only real text.

A quote is looked for in each source passage in three steps:

1. ``exact``: the quote is a substring of the passage;
2. ``normalised``: it is one after lowercasing, collapsing whitespace and straightening quote
   marks on both sides;
3. ``fuzzy``: ``rapidfuzz.fuzz.partial_ratio_alignment`` finds the passage span most like the
   quote; it counts when the score is at least ``threshold`` (default 90 of 100: about one
   changed character in ten), the quote has at least ``min_fuzzy_chars`` characters (short
   strings match anything loosely) and the span is about the quote's length (80-125%).

With a ``library``, step 1 is one lookup in the library's exact index instead
(:meth:`~lcmem.library.Library.find`): a quote found verbatim anywhere in the library is
verified at once, even when it crosses the boundary of the chunks shown (the passages are
checked one by one, so such a quote could only pass fuzzily, or not at all). Matches inside a
passage shown win over matches elsewhere.

A verified quote becomes the *source's* text at the span found (widened to whole words: a quote
ending in "Vos" gives "Voss"), never the model's wording, so what reaches the next step always
occurs in the source.

Example:
    >>> from lcmem.types import Chunk
    >>> source = Chunk("The bridge opened in 1932. It is 503 m long.", 100, 144, doc_path="b.txt")
    >>> check = verify_quotes(["the bridge  opened in 1932.", "The bridge is 900 m long."],
    ...                       [source])
    >>> [(h.chunk.text, h.chunk.start, h.chunk.metadata["method"]) for h in check.verified]
    [('The bridge opened in 1932.', 100, 'normalised')]
    >>> check.dropped
    ['The bridge is 900 m long.']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lcmem.types import Chunk, Hit

if TYPE_CHECKING:
    from lcmem.library import Library

FUZZY_THRESHOLD = 90.0
"""Least ``partial_ratio`` score (0-100) for a fuzzy match."""
MIN_FUZZY_CHARS = 15
"""Shorter quotes must match exactly or after normalisation."""
MIN_QUOTE_CHARS = 4
"""Shorter lines of the model's output are not quotes."""

_BULLET = re.compile(r"^\s*(?:[-*•>]+|\d+[.)]|\[\d+\](?:\s+\S+:\d+(?:-\d+)?)?)\s*")
_LABEL = re.compile(r"^\s*(?:sentences?|quotes?|evidence)\s*:\s*", re.IGNORECASE)
_QUOTE_MARKS = "\"'“”‘’«»`"
_STRAIGHT = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "«": '"', "»": '"'})


@dataclass(frozen=True)
class QuoteMatch:
    """Where a quote was found in a text: ``text[start:end]``, how, and the score (0-100)."""

    start: int
    end: int
    method: str
    score: float


@dataclass
class Verification:
    """The outcome of :func:`verify_quotes`.

    Attributes:
        verified: one hit per quote found: the source span (exact text, offsets in the
            document), ``metadata`` with ``quote``, ``method`` and ``score``.
        dropped: quotes that do not occur in the source.
    """

    verified: list[Hit] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def detail(self) -> dict[str, Any]:
        """What a trace shows: each verified quote with its span and method, each dropped one."""
        return {
            "verified": [
                {
                    "quote": h.chunk.metadata.get("quote"),
                    "source": h.chunk.text,
                    "path": h.path,
                    "start": h.chunk.start,
                    "end": h.chunk.end,
                    "method": h.chunk.metadata.get("method"),
                    "score": h.score,
                }
                for h in self.verified
            ],
            "dropped": list(self.dropped),
        }


def split_quotes(output: str) -> list[str]:
    """The quotes in a model's output: one per line, without bullets, labels or quote marks.

    Example:
        >>> split_quotes('Sentences:\\n1. "The sky is green."\\n- [2] a.txt:3 Grass is blue.\\n')
        ['The sky is green.', 'Grass is blue.']
    """
    quotes: list[str] = []
    for line in output.splitlines():
        previous = None
        while line != previous:  # "- [2] a.txt:3 text", "1. Quote: text"...
            previous = line
            line = _LABEL.sub("", _BULLET.sub("", line)).strip().strip(_QUOTE_MARKS).strip()
        if len(line) >= MIN_QUOTE_CHARS and line not in quotes:
            quotes.append(line)
    return quotes


def find_quote(
    quote: str,
    text: str,
    *,
    threshold: float = FUZZY_THRESHOLD,
    min_fuzzy_chars: int = MIN_FUZZY_CHARS,
) -> QuoteMatch | None:
    """Where ``quote`` occurs in ``text``: exactly, normalised, or fuzzily; ``None`` if nowhere.

    Example:
        >>> find_quote("Lazy  DOG", "the lazy dog sleeps")
        QuoteMatch(start=4, end=12, method='normalised', score=100.0)
        >>> find_quote("the lazy cat sleeps", "the lazy dog sleeps") is None
        True
    """
    quote = quote.strip()
    if not quote:
        return None
    at = text.find(quote)
    if at >= 0:
        return QuoteMatch(*_whole_words(text, at, at + len(quote)), "exact", 100.0)
    norm_text, where = _normalise(text)
    norm_quote, _ = _normalise(quote)
    norm_quote = norm_quote.strip()
    if not norm_quote:
        return None
    at = norm_text.find(norm_quote)
    if at >= 0:
        start, end = _whole_words(text, where[at], where[at + len(norm_quote) - 1] + 1)
        return QuoteMatch(start, end, "normalised", 100.0)
    if len(norm_quote) < min_fuzzy_chars:
        return None
    from rapidfuzz import fuzz

    found = fuzz.partial_ratio_alignment(norm_quote, norm_text, score_cutoff=threshold)
    if found is None or found.dest_end <= found.dest_start:
        return None
    if not 0.8 * len(norm_quote) <= found.dest_end - found.dest_start <= 1.25 * len(norm_quote):
        return None
    start, end = where[found.dest_start], where[found.dest_end - 1] + 1
    start, end = _whole_words(text, start, end)
    return QuoteMatch(start, end, "fuzzy", float(found.score))


def verify_quotes(
    quotes: Sequence[str],
    passages: Sequence[Chunk],
    *,
    threshold: float = FUZZY_THRESHOLD,
    min_fuzzy_chars: int = MIN_FUZZY_CHARS,
    library: Library | None = None,
    where: dict[str, Any] | None = None,
) -> Verification:
    """Check each quote against the passages (exact spans of documents) the model was shown.

    The best match over all passages wins (exact, then normalised, then the highest fuzzy
    score). A quote whose span is already verified is not repeated. With ``library``, an
    exact quote is looked up in the whole library first (see the module docstring), among the
    documents ``where`` selects.
    """
    out = Verification()
    seen: set[tuple[str | None, int, int]] = set()
    for quote in quotes:
        best: tuple[QuoteMatch, Chunk] | None = None
        if library is not None:
            best = _library_match(library, quote, passages, where)
        for passage in passages if best is None else ():
            m = find_quote(
                quote, passage.text, threshold=threshold, min_fuzzy_chars=min_fuzzy_chars
            )
            if m is not None and (best is None or _better(m, best[0])):
                best = (m, passage)
            if best is not None and best[0].method == "exact":
                break
        if best is None:
            out.dropped.append(quote)
            continue
        m, passage = best
        key = (passage.doc_path, passage.start + m.start, passage.start + m.end)
        if key in seen:
            continue
        seen.add(key)
        chunk = sub_chunk(passage, m.start, m.end)
        chunk.metadata = {"quote": quote, "method": m.method, "score": m.score}
        out.verified.append(Hit(chunk, m.score, rank=len(out.verified) + 1))
    return out


def sub_chunk(chunk: Chunk, start: int, end: int) -> Chunk:
    """The span ``chunk.text[start:end]`` as a chunk of the same document (offsets, lines).

    Example:
        >>> c = sub_chunk(Chunk("ab\\ncd", 10, 15, doc_path="x", line_start=3), 3, 5)
        >>> c.text, c.start, c.end, c.line_start, c.line_end
        ('cd', 13, 15, 4, 4)
    """
    text = chunk.text[start:end]
    line_start = line_end = None
    if chunk.line_start:
        line_start = chunk.line_start + chunk.text.count("\n", 0, start)
        line_end = line_start + text.count("\n", 0, max(len(text) - 1, 0))
    return Chunk(
        text=text,
        start=chunk.start + start,
        end=chunk.start + end,
        context=chunk.context,
        doc_path=chunk.doc_path,
        line_start=line_start,
        line_end=line_end,
    )


def _library_match(
    library: Library, quote: str, passages: Sequence[Chunk], where: dict[str, Any] | None
) -> tuple[QuoteMatch, Chunk] | None:
    """An exact occurrence of ``quote`` in the library (one exact-index lookup), preferring
    one inside a passage shown; as a match relative to a chunk of its whole document."""
    quote = quote.strip()
    if not quote:
        return None
    hits = library.find(quote, limit=100, where=where)
    if not hits:
        return None

    def shown(h: Hit) -> bool:
        return any(
            p.doc_path == h.path and p.start <= h.chunk.start and h.chunk.end <= p.end
            for p in passages
        )

    hit = next((h for h in hits if shown(h)), hits[0])
    text = library.document_text(hit.path)
    start, end = _whole_words(text, hit.chunk.start, hit.chunk.end)
    whole = Chunk(text=text, start=0, end=len(text), doc_path=hit.path, line_start=1)
    return QuoteMatch(start, end, "exact", 100.0), whole


_RANK = {"exact": 2, "normalised": 1, "fuzzy": 0}


def _better(a: QuoteMatch, b: QuoteMatch) -> bool:
    return (_RANK[a.method], a.score) > (_RANK[b.method], b.score)


def _normalise(text: str) -> tuple[str, list[int]]:
    """Lowercased text with whitespace runs as one space and straight quote marks, and for each
    of its characters the offset of the character of ``text`` it came from."""
    chars: list[str] = []
    where: list[int] = []
    space = False
    for i, c in enumerate(text.translate(_STRAIGHT)):
        if c.isspace():
            if not space:
                chars.append(" ")
                where.append(i)
            space = True
            continue
        space = False
        for low in c.lower():
            chars.append(low)
            where.append(i)
    return "".join(chars), where


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` to word boundaries and trim surrounding whitespace."""
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
