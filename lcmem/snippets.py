"""Short excerpts of a hit around the query's words, with those words marked.

Example:
    >>> words = lambda t: [w.lower() for w in t.split()]
    >>> s = snippet("Alpha beta gamma delta", {"gamma"}, words, width=40)
    >>> s.text, s.marks
    ('Alpha beta gamma delta', [(11, 16)])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Snippet:
    """An excerpt and the ``(start, end)`` offsets of query words inside it."""

    text: str
    marks: list[tuple[int, int]]

    def markup(self, style: str = "bold yellow") -> str:
        """The excerpt as rich console markup, query words styled."""
        from rich.markup import escape

        out, pos = [], 0
        for s, e in self.marks:
            out.append(escape(self.text[pos:s]))
            out.append(f"[{style}]{escape(self.text[s:e])}[/{style}]")
            pos = e
        out.append(escape(self.text[pos:]))
        return "".join(out)


def snippet(
    text: str,
    query_terms: Collection[str],
    analyze: Callable[[str], list[str]],
    width: int = 240,
) -> Snippet:
    """The ``width``-character window of ``text`` holding the most query words.

    ``analyze`` maps a word to its index terms (the BM25 analyzer), so "installing" matches a
    query about "install".
    """
    matches = []
    terms = set(query_terms)
    for m in _WORD.finditer(text):
        toks = analyze(m.group())
        if toks and toks[0] in terms:
            matches.append(m.span())
    start = _best_window(matches, len(text), width)
    end = min(len(text), start + width)
    # widen to word boundaries
    while start > 0 and not text[start - 1].isspace() and start > end - width - 20:
        start -= 1
    excerpt = text[start:end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shown = " ".join(excerpt.split())  # one line
    marks = _remap_marks(
        excerpt, [(s - start, e - start) for s, e in matches if s >= start and e <= end]
    )
    offset = len(prefix)
    return Snippet(prefix + shown + suffix, [(s + offset, e + offset) for s, e in marks])


def _best_window(matches: list[tuple[int, int]], length: int, width: int) -> int:
    if not matches or length <= width:
        return 0
    best, best_count, j = 0, 0, 0
    for i, (s, _) in enumerate(matches):
        while matches[j][0] < s - width:
            j += 1
        count = i - j + 1
        if count > best_count:
            best_count, best = count, matches[j][0]
    return max(0, min(best - 20, length - width))


def _remap_marks(excerpt: str, marks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Offsets in ``excerpt`` -> offsets in its whitespace-collapsed form."""
    mapping = []
    out_pos = 0
    prev_space = True  # leading whitespace is dropped
    for ch in excerpt:
        if ch.isspace():
            mapping.append(out_pos)
            if not prev_space:
                out_pos += 1
            prev_space = True
        else:
            mapping.append(out_pos)
            out_pos += 1
            prev_space = False
    mapping.append(out_pos)
    return [(mapping[s], mapping[e - 1] + 1) for s, e in marks if e > s]
