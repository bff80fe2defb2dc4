"""Phrase evidence for BM25's best candidates: how many of the query's word pairs a chunk holds
side by side.

BM25 scores a bag of words: ``the old gate of Lisbon`` and ``the north gate of Lisbon`` hold
the same query terms but one, and ``Fenna Okafor`` shares a word with ``Fenna Petrakis``. A
chunk that holds the query's words *in the query's order* (a name, a quoted phrase, ``old gate
of Lisbon``) is more likely the one asked for: the sequential-dependence idea of Metzler &
Croft (SIGIR 2005), reduced to adjacent pairs of analyzed terms. The pairs are taken after the
analyzer (stopwords dropped, stems), so ``gate of Lisbon`` is the pair ``(gate, lisbon)`` in the
query and in the text alike.

:func:`pair_share` measures it for one chunk; :func:`phrase_rescore` raises the BM25 scores of
the head of a BM25 list by it (:class:`~lcmem.indexers.hybrid.HybridIndex` does this before
fusing, with ``Fusion.phrase``). Written here, not taken from a library: a few lines over the
analyzer's own terms (a positional index would cost a new on-disk format for this).

Example:
    >>> q = ["color", "old", "gate", "lisbon", "paint"]
    >>> pair_share(q, ["old", "gate", "lisbon", "paint", "teal"])
    0.75
    >>> pair_share(q, ["north", "gate", "lisbon", "paint", "teal"])
    0.5
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from itertools import pairwise

#: BM25 candidates whose phrase evidence is measured (the head of the list, where it decides).
PHRASE_DEPTH = 5


def query_pairs(query: Sequence[Hashable]) -> set[tuple[Hashable, Hashable]]:
    """Adjacent pairs of distinct terms of an analyzed query.

    Example:
        >>> sorted(query_pairs(["fenna", "petraki", "fenna"]))
        [('fenna', 'petraki'), ('petraki', 'fenna')]
    """
    return {(a, b) for a, b in pairwise(query) if a != b}


def pair_share(query: Sequence[Hashable], terms: Sequence[Hashable]) -> float:
    """Share of the query's adjacent term pairs that occur adjacent in ``terms`` (a chunk's
    analyzed terms), in [0, 1]; 0 for a query of fewer than two terms."""
    pairs = query_pairs(query)
    if not pairs:
        return 0.0
    found = {(a, b) for a, b in pairwise(terms) if (a, b) in pairs}
    return len(found) / len(pairs)


def min_window(query: Iterable[Hashable], terms: Sequence[Hashable]) -> tuple[int, int]:
    """``(held, width)``: how many distinct ``query`` terms a chunk's analyzed ``terms`` hold,
    and the length of the shortest run of ``terms`` that holds all of them (``(0, 0)`` when
    none is held). A question's words found within a run not much longer than their count
    come from one place in the text, the sentence it was asked about.

    Example:
        >>> min_window(["old", "gate", "lisbon"], ["gate", "x", "old", "gate", "y", "lisbon"])
        (3, 4)
    """
    need = set(query) & set(terms)
    if not need:
        return 0, 0
    count: dict[Hashable, int] = {}
    have, best, left = 0, len(terms), 0
    for right, term in enumerate(terms):  # a sliding window (the classic two-pointer scan)
        if term in need:
            count[term] = count.get(term, 0) + 1
            have += count[term] == 1
        while have == len(need):
            best = min(best, right - left + 1)
            first = terms[left]
            if first in need:
                count[first] -= 1
                have -= count[first] == 0
            left += 1
    return len(need), best


def phrase_rescore(
    results: Sequence[tuple[int, float]],
    shares: dict[int, float],
    weight: float,
) -> list[tuple[int, float]]:
    """``results`` (best first) with each score raised by ``weight * share`` times its size
    (``s * (1 + weight * share)`` for a positive score; a negative Okapi score of a tiny
    corpus rises too), ids without a share unchanged, sorted again, ties by id.

    Example:
        >>> phrase_rescore([(1, 10.0), (2, 9.0)], {1: 0.0, 2: 0.5}, 1.0)
        [(2, 13.5), (1, 10.0)]
    """
    out = []
    for i, s in results:
        i, s = int(i), float(s)
        out.append((i, s + weight * shares.get(i, 0.0) * abs(s)))
    return sorted(out, key=lambda item: (-item[1], item[0]))
