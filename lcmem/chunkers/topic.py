"""Topic segmentation: split prose where the topic shifts, from sentence-embedding coherence.

This is TextTiling (Hearst, 1997) with sentence embeddings in place of word counts:

1. the text is cut into units: sentences, where a single line break inside a paragraph is not a
   boundary (hard-wrapped prose) but a blank line always is; a unit over the budget is cut at
   line breaks, then words, then tokens;
2. every unit is embedded (one batched call to the embedder);
3. at each gap between units, the coherence score is the cosine between the pooled vectors
   of the ``window`` units before and after it (nearer units weigh more), computed from
   cumulative sums (linear time, no ``n x n`` similarity matrix), optionally smoothed;
4. each gap gets a depth score, ``(left peak - score) + (right peak - score)``, the peaks found
   by climbing the scores away from the gap while they rise;
5. boundaries are the deepest valleys: those deeper than ``mean - sensitivity * std`` of the
   depth scores, or the ``n_segments - 1`` deepest when the number of segments is known, never
   leaving a segment under ``min_segment_tokens``;
6. a topic longer than the budget is split further inside itself, at its least coherent gaps,
   and packed into chunks by :class:`~lcmem.chunkers.text.SpanPacker` (units, then tokens).

Example:
    >>> import numpy as np
    >>> scores = np.array([0.9, 0.8, 0.2, 0.7, 0.95, 0.6, 0.9])
    >>> [round(float(d), 2) for d in depth_scores(scores)]
    [0.0, 0.1, 1.45, 0.25, 0.0, 0.65, 0.0]
    >>> chunker = TopicChunker(chunk_size=200)       # the packaged all-MiniLM-L6-v2 embedder
    >>> chunks = chunker.chunk(long_text)            # doctest: +SKIP
    >>> chunks[0].metadata["topic"]                  # doctest: +SKIP
    0
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, ClassVar, Literal

from lcmem.chunkers.base import DEFAULT_CHUNK_SIZE, Chunker
from lcmem.chunkers.sentences import split_sentences
from lcmem.chunkers.text import LINES, PARAGRAPHS, WORDS, Piece, SpanPacker
from lcmem.errors import ConfigError
from lcmem.tokens import Tokenizer
from lcmem.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

    from lcmem.embedders.base import Embedder

__all__ = [
    "TopicChunker",
    "choose_boundaries",
    "coherence_scores",
    "depth_scores",
    "smooth",
    "topic_starts",
]

# -- the scoring steps, each linear in the number of units ---------------------------------------


def coherence_scores(
    vectors: np.ndarray, window: int, weighting: Literal["linear", "mean"] = "linear"
) -> np.ndarray:
    """Cosine between the ``window`` units before and after each gap, pooled into one vector.

    Gap ``i`` lies between units ``i`` and ``i + 1``; near the ends the windows are shorter.
    With ``weighting="mean"`` each side is the plain sum of its units; with ``"linear"`` the
    unit next to the gap weighs ``window``, the next ``window - 1``, and so on down to 1. Both
    come from cumulative sums (of ``v_i`` and ``i * v_i``) taken a block of gaps at a time, so
    time is ``O(n * dim)`` and the memory beyond the input ``O(block * dim)``.

    Example:
        >>> import numpy as np
        >>> v = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=np.float32)
        >>> coherence_scores(v, window=2, weighting="mean").round(2).tolist()
        [0.71, 0.0, 0.71]
        >>> coherence_scores(v, window=2).round(2).tolist()
        [0.89, 0.0, 0.89]
    """
    import numpy as np

    if weighting not in ("linear", "mean"):
        raise ConfigError(f"weighting must be 'linear' or 'mean', got {weighting!r}")
    n = len(vectors)
    out = np.zeros(max(n - 1, 0), dtype=np.float64)
    for g0 in range(1, n, _BLOCK):
        g1 = min(g0 + _BLOCK, n)  # gaps g0..g1-1 (gap g: before unit g)
        lo, hi = max(g0 - window, 0), min(g1 - 1 + window, n)
        block = np.asarray(vectors[lo:hi], dtype=np.float64)
        sums = np.zeros((hi - lo + 1, block.shape[1]))
        np.cumsum(block, axis=0, out=sums[1:])
        g = np.arange(g0, g1) - lo  # gaps and window ends relative to the block
        a = np.maximum(g + lo - window, 0) - lo
        e = np.minimum(g + lo + window, n) - lo
        left = sums[g] - sums[a]
        right = sums[e] - sums[g]
        if weighting == "linear":
            isums = np.zeros_like(sums)
            np.cumsum(block * np.arange(hi - lo)[:, None], axis=0, out=isums[1:])
            # left weight of unit i: i - (g - window) + 1; right weight: g + window - i
            left = (isums[g] - isums[a]) - (g - window - 1)[:, None] * left
            right = (g + window)[:, None] * right - (isums[e] - isums[g])
        dot = np.einsum("ij,ij->i", left, right)
        norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
        np.divide(dot, norms, out=out[g0 - 1 : g1 - 1], where=norms > 0)
    return out


_BLOCK = 2048
"""Gaps scored at a time by :func:`coherence_scores` (bounds its working memory)."""


def smooth(scores: np.ndarray, width: int) -> np.ndarray:
    """Moving average over ``2 * width + 1`` gaps (shorter at the ends); ``width=0`` copies.

    Example:
        >>> import numpy as np
        >>> smooth(np.array([0.0, 3.0, 0.0, 3.0]), 1).tolist()
        [1.5, 1.0, 2.0, 1.5]
    """
    import numpy as np

    n = len(scores)
    if width <= 0 or n < 2:
        return np.asarray(scores, dtype=np.float64).copy()
    sums = np.concatenate([[0.0], np.cumsum(scores, dtype=np.float64)])
    idx = np.arange(n)
    lo = np.maximum(idx - width, 0)
    hi = np.minimum(idx + width + 1, n)
    return (sums[hi] - sums[lo]) / (hi - lo)


def depth_scores(scores: np.ndarray) -> np.ndarray:
    """TextTiling depth of each gap: ``(left peak - score) + (right peak - score)``.

    A peak is found by climbing away from the gap while the scores do not fall; one pass each
    way carries the peak along, so this is linear (a climb per gap would be quadratic on a
    monotone run).

    Example:
        >>> import numpy as np
        >>> depth_scores(np.array([0.8, 0.3, 0.6, 0.9])).round(2).tolist()
        [0.0, 1.1, 0.3, 0.0]
    """
    import numpy as np

    s = np.asarray(scores, dtype=np.float64)
    n = len(s)
    left = s.copy()
    right = s.copy()
    for i in range(1, n):
        if s[i - 1] >= s[i]:
            left[i] = left[i - 1]
    for i in range(n - 2, -1, -1):
        if s[i + 1] >= s[i]:
            right[i] = right[i + 1]
    return (left - s) + (right - s)


def _valleys(s: np.ndarray) -> np.ndarray:
    """Whether each gap is a local minimum of the scores (ties count)."""
    import numpy as np

    n = len(s)
    out = np.ones(n, dtype=bool)
    if n > 1:
        out[1:] &= s[1:] <= s[:-1]
        out[:-1] &= s[:-1] <= s[1:]
    return out


def choose_boundaries(
    scores: np.ndarray,
    depths: np.ndarray,
    tokens: Sequence[int],
    *,
    min_tokens: int = 0,
    n_segments: int | None = None,
    cutoff: float | None = None,
) -> list[int]:
    """Unit indices where a new segment starts, increasing.

    Gap ``i`` (between units ``i`` and ``i + 1``) starts a segment at unit ``i + 1``. Valleys
    are taken deepest first; one is skipped if it would leave a segment of fewer than
    ``min_tokens`` tokens (``tokens`` holds each unit's count). With ``cutoff``, valleys not
    deeper than it are ignored. With ``n_segments``, the ``n_segments - 1`` deepest are kept;
    if valleys run out, the least coherent other gaps follow, and if the minimum size makes
    ``n_segments`` impossible, it is relaxed rather than returning fewer segments.

    The size check looks at most at three cells of a grid of ``min_tokens``-wide cells (two
    accepted boundaries are at least ``min_tokens`` apart, so a cell holds at most one):
    constant time per candidate.

    Example:
        >>> import numpy as np
        >>> s = np.array([0.9, 0.2, 0.8, 0.1, 0.9])
        >>> choose_boundaries(s, depth_scores(s), [5] * 6, n_segments=2)
        [4]
        >>> choose_boundaries(s, depth_scores(s), [5] * 6, min_tokens=8, n_segments=3)
        [2, 4]
        >>> choose_boundaries(s, depth_scores(s), [5] * 6, min_tokens=11, n_segments=2)
        [3]
    """
    import numpy as np

    n_gaps = len(scores)
    if n_gaps == 0 or n_segments == 1:
        return []
    pos = np.concatenate([[0], np.cumsum(np.asarray(tokens, dtype=np.int64))])
    total = int(pos[-1])
    valley = _valleys(scores)
    if cutoff is not None:
        valley &= depths > cutoff
    gaps = np.flatnonzero(valley)
    # deepest first; ties: least coherent, then leftmost
    order = gaps[np.lexsort((gaps, scores[gaps], -depths[gaps]))]
    if n_segments is not None:
        rest = np.flatnonzero(~_valleys(scores))
        order = np.concatenate([order, rest[np.lexsort((rest, scores[rest]))]])
    want = n_gaps if n_segments is None else n_segments - 1
    chosen: set[int] = set()
    cells: dict[int, int] = {}
    for g in order.tolist():
        if len(chosen) >= want:
            break
        at = int(pos[g + 1])
        if min_tokens > 0:
            if at < min_tokens or total - at < min_tokens:
                continue
            cell = at // min_tokens
            near = (cells.get(c) for c in (cell - 1, cell, cell + 1))
            if any(b is not None and abs(at - b) < min_tokens for b in near):
                continue
            cells[cell] = at
        chosen.add(g)
    if n_segments is not None and len(chosen) < want:
        # The minimum size cannot be met with this many segments: relax it.
        for g in order.tolist():
            if len(chosen) >= want:
                break
            chosen.add(g)
    return sorted(g + 1 for g in chosen)


def topic_starts(
    vectors: np.ndarray,
    tokens: Sequence[int],
    *,
    window: int = 8,
    weighting: Literal["linear", "mean"] = "linear",
    smoothing: int = 0,
    min_segment_tokens: int = 0,
    n_segments: int | None = None,
    threshold: float | Literal["auto"] = "auto",
    sensitivity: float = -0.75,
) -> tuple[list[int], np.ndarray]:
    """The whole segmentation from unit vectors and token counts: unit indices where topics
    2.. start, and the smoothed coherence score of each gap (what :class:`TopicChunker` runs
    after embedding; see it for the settings).

    Example:
        >>> import numpy as np
        >>> v = np.array([[1, 0], [1, 0.1], [1, 0], [0, 1], [0.1, 1], [0, 1]])
        >>> topic_starts(v, [4] * 6, window=2, smoothing=0, n_segments=2)[0]
        [3]
    """
    import numpy as np

    if len(vectors) < 2:
        return [], np.zeros(0)
    scores = smooth(coherence_scores(vectors, window, weighting), smoothing)
    depths = depth_scores(scores)
    cutoff: float | None = None
    if n_segments is None:
        if threshold == "auto":
            cutoff = float(depths.mean() - sensitivity * depths.std())
        else:
            cutoff = float(threshold)
    starts = choose_boundaries(
        scores,
        depths,
        tokens,
        min_tokens=min_segment_tokens,
        n_segments=n_segments,
        cutoff=cutoff,
    )
    return starts, scores


# -- the chunker ---------------------------------------------------------------------------------


class TopicChunker(Chunker):
    """Splits prose where the topic shifts, by sentence-embedding coherence (TextTiling style).

    Each chunk is a topic segment, or a part of one when the topic is longer than the budget
    (``min(chunk_size, max_segment_tokens)``); ``chunk.metadata["topic"]`` is the index of its
    topic in the document. Chunks of one topic share ``chunk_overlap`` tokens of whole units;
    topics never overlap. Time is linear in the number of sentences.

    Args:
        chunk_size: most tokens in a chunk.
        chunk_overlap: tokens of whole trailing units repeated between chunks of one topic.
        tokenizer: counts tokens (default: the packaged embedder's tokenizer).
        embedder: embeds sentences (default: the packaged all-MiniLM-L6-v2, loaded on first use).
        window: units on each side of a gap whose pooled vectors are compared.
        weighting: ``"linear"`` (units nearer the gap weigh more) or ``"mean"``.
        smoothing: half-width, in gaps, of a moving average over the coherence scores.
        min_segment_tokens: no topic is shorter than this (unless the whole text is).
        max_segment_tokens: no chunk is longer than this; default the chunk budget, capped by
            the embedder's window (``embedder.max_tokens``).
        n_segments: the number of topics, when known: the ``n_segments - 1`` deepest gaps.
        threshold: ``"auto"`` (a boundary at valleys deeper than ``mean - sensitivity * std``
            of the depth scores) or a fixed depth (coherence is a cosine, depths are in
            ``[0, 4]``).
        sensitivity: the ``c`` of the ``"auto"`` threshold; larger gives more topics.

    The defaults (``window=8``, linear weighting, no smoothing, ``sensitivity=-0.75``,
    ``min_segment_tokens=32``) were tuned on the dev split of ``benchmarks/bench_topic.py``.

    Example:
        >>> from lcmem.tokens import WhitespaceTokenizer
        >>> chunker = TopicChunker(128, tokenizer=WhitespaceTokenizer(), window=2)
        >>> chunker.config()["window"]
        2
        >>> chunker.segment(man_page_text)               # doctest: +SKIP
        [412, 1290, 2377]
    """

    batches: ClassVar[bool] = True  # chunk_many embeds many documents' sentences at once

    name = "topic"

    def __init__(
        self,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        chunk_overlap: int = 0,
        tokenizer: Tokenizer | None = None,
        embedder: Embedder | None = None,
        *,
        window: int = 8,
        weighting: Literal["linear", "mean"] = "linear",
        smoothing: int = 0,
        min_segment_tokens: int = 32,
        max_segment_tokens: int | None = None,
        n_segments: int | None = None,
        threshold: float | Literal["auto"] = "auto",
        sensitivity: float = -0.75,
    ) -> None:
        super().__init__(chunk_size, chunk_overlap, tokenizer)
        if window < 1:
            raise ConfigError(f"window must be at least 1 sentence, got {window}")
        if weighting not in ("linear", "mean"):
            raise ConfigError(f"weighting must be 'linear' or 'mean', got {weighting!r}")
        if smoothing < 0:
            raise ConfigError(f"smoothing must be 0 (none) or more gaps, got {smoothing}")
        if min_segment_tokens < 0:
            raise ConfigError(f"min_segment_tokens must be 0 or more, got {min_segment_tokens}")
        if max_segment_tokens is not None and max_segment_tokens < 1:
            raise ConfigError(
                f"max_segment_tokens must be at least 1 token (or None), got {max_segment_tokens}"
            )
        _check_n_segments(n_segments)
        if threshold != "auto" and (
            isinstance(threshold, bool) or not isinstance(threshold, int | float)
        ):
            raise ConfigError(f"threshold must be 'auto' or a number, got {threshold!r}")
        self.window = window
        self.weighting = weighting
        self.smoothing = smoothing
        self.min_segment_tokens = min_segment_tokens
        self.max_segment_tokens = max_segment_tokens
        self.n_segments = n_segments
        self.threshold = threshold
        self.sensitivity = float(sensitivity)
        self._embedder = embedder

    # -- settings ---------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The sentence embedder (the packaged default, created on first use)."""
        if self._embedder is None:
            from lcmem.embedders.auto import load_embedder

            self._embedder = load_embedder()
        return self._embedder

    @property
    def budget(self) -> int:
        """Most tokens in a chunk: ``chunk_size``, ``max_segment_tokens`` and the embedder's
        window, whichever is smallest."""
        limit = self.chunk_size
        if self.max_segment_tokens is not None:
            limit = min(limit, self.max_segment_tokens)
        window = getattr(self.embedder, "max_tokens", None)
        if isinstance(window, int) and window > 0:
            limit = min(limit, window)
        return limit

    def config(self) -> dict:
        emb = self.embedder
        return {
            **super().config(),
            "tokenizer": self.tokenizer.name,
            "embedder": getattr(emb, "name", type(emb).__name__),
            "window": self.window,
            "weighting": self.weighting,
            "smoothing": self.smoothing,
            "min_segment_tokens": self.min_segment_tokens,
            "max_segment_tokens": self.max_segment_tokens,
            "n_segments": self.n_segments,
            "threshold": self.threshold,
            "sensitivity": self.sensitivity,
            "units": "lcmem-paragraph-sentences-1",
        }

    def __repr__(self) -> str:
        return (
            f"TopicChunker(chunk_size={self.chunk_size}, overlap={self.chunk_overlap}, "
            f"window={self.window}, n_segments={self.n_segments})"
        )

    # -- segmentation -----------------------------------------------------------------------

    def segment(self, doc: Document | str, n_segments: int | None = None) -> list[int]:
        """Character offsets where each topic after the first starts (increasing).

        ``n_segments`` overrides the chunker's setting for this call.

        Example:
            >>> chunker = TopicChunker(200)
            >>> chunker.segment(text, n_segments=3)       # doctest: +SKIP
            [1045, 2210]
        """
        return self.segment_many([doc], n_segments)[0]

    def segment_many(
        self, docs: Sequence[Document | str], n_segments: int | None = None
    ) -> list[list[int]]:
        """:meth:`segment` for many documents, their sentences embedded in one batched stream
        (sorted by length across documents, so batches are full and pad little).

        Example:
            >>> TopicChunker(200).segment_many([text_a, text_b])  # doctest: +SKIP
            [[1045, 2210], [870]]
        """
        _check_n_segments(n_segments)
        texts = [d.text if isinstance(d, Document) else d for d in docs]
        all_units = [self.units(t) for t in texts]
        vectors = self._embed_units(texts, all_units)
        out = []
        for units, vecs in zip(all_units, vectors, strict=True):
            starts, _ = self._topics(vecs, units, n_segments or self.n_segments)
            out.append([units[i][0] for i in starts])
        return out

    def _embed_units(self, texts: list[str], all_units: list[list[Piece]]) -> list[np.ndarray]:
        """Vectors of the units of every document (documents of fewer than two units, which
        have no gap to score, are not embedded), from one call to the embedder."""
        import numpy as np

        flat = [
            t[a:b]
            for t, units in zip(texts, all_units, strict=True)
            if len(units) >= 2
            for a, b, _ in units
        ]
        vectors = np.asarray(self.embedder.embed(flat)) if flat else np.zeros((0, 0))
        out, at = [], 0
        for units in all_units:
            n = len(units) if len(units) >= 2 else 0
            out.append(vectors[at : at + n])
            at += n
        return out

    def _packer(self, text: str) -> SpanPacker:
        return SpanPacker(text, self.tokenizer, self.budget, self.chunk_overlap)

    def units(self, text: str) -> list[Piece]:
        """The ``(start, end, tokens)`` units segmentation works on: sentences of each paragraph
        (a line break inside a paragraph is a space), those over the budget cut at lines, then
        words, then tokens.

        Example:
            >>> from lcmem.tokens import WhitespaceTokenizer
            >>> chunker = TopicChunker(8, tokenizer=WhitespaceTokenizer())
            >>> chunker.units("One two\\nthree. Four.\\n\\nFive")   # doctest: +SKIP
            [(0, 14, 3), (15, 20, 1), (22, 26, 1)]
        """
        return self._units(self._packer(text))

    def _units(self, p: SpanPacker) -> list[Piece]:
        text = p.text
        flat = text.replace("\n", " ")  # same offsets; only blank lines still end a unit
        spans: list[tuple[int, int]] = []
        bounds = [0, *PARAGRAPHS.cuts(text, 0, len(text)), len(text)]
        for a, b in pairwise(bounds):
            spans += split_sentences(flat, a, b)
        units: list[Piece] = []
        for (a, b), n in zip(spans, p.counts(spans), strict=True):
            if n is not None and n <= p.budget:
                units.append((a, b, n))
            else:
                units += p.split(a, b, (LINES, WORDS))
        return units

    def _topics(
        self, vectors: np.ndarray, units: list[Piece], n_segments: int | None
    ) -> tuple[list[int], np.ndarray]:
        """Unit indices where topics 2.. start, and the smoothed coherence score of each gap,
        from the units' vectors."""
        import numpy as np

        if len(units) < 2:
            return [], np.zeros(0)
        return topic_starts(
            vectors,
            [n for _, _, n in units],
            window=self.window,
            weighting=self.weighting,
            smoothing=self.smoothing,
            min_segment_tokens=self.min_segment_tokens,
            n_segments=n_segments,
            threshold=self.threshold,
            sensitivity=self.sensitivity,
        )

    # -- chunking ---------------------------------------------------------------------------

    def _chunk(self, doc: Document) -> list[Chunk]:
        return self._chunk_many([doc])[0]

    def _chunk_many(self, docs: Sequence[Document]) -> list[list[Chunk]]:
        """Chunks of each document; the sentences of all of them embedded in one stream."""
        packers = [self._packer(d.text) for d in docs]
        all_units = [self._units(p) for p in packers]
        vectors = self._embed_units([d.text for d in docs], all_units)
        return [
            self._chunk_units(p, units, vecs)
            for p, units, vecs in zip(packers, all_units, vectors, strict=True)
        ]

    def _chunk_units(self, p: SpanPacker, units: list[Piece], vectors: np.ndarray) -> list[Chunk]:
        text = p.text
        if not units:
            return []
        starts, scores = self._topics(vectors, units, self.n_segments)
        chunks: list[Chunk] = []
        for topic, (a, b) in enumerate(pairwise([0, *starts, len(units)])):
            for s, e, n in self._split_topic(p, units, scores, a, b, chunks):
                chunks.append(Chunk(text[s:e], s, e, token_count=n, metadata={"topic": topic}))
        return chunks

    def _split_topic(
        self,
        p: SpanPacker,
        units: list[Piece],
        scores: np.ndarray,
        a: int,
        b: int,
        done: list[Chunk],
    ) -> list[Piece]:
        """Chunks of the topic ``units[a:b]``: parts that fit the budget, cut at the least
        coherent gap in the second half of each full window, then packed (with overlap)."""
        budget = p.budget
        pos = [0]
        for _, _, n in units[a:b]:
            pos.append(pos[-1] + n)
        cuts = [a]
        start = a
        while pos[b - a] - pos[start - a] > budget:
            # furthest end j with units[start:j] within budget (at least one unit)
            j = start + 1
            while j < b and pos[j + 1 - a] - pos[start - a] <= budget:
                j += 1
            if j >= b:
                break
            half = pos[start - a] + budget / 2
            lo = start + 1
            while lo < j and pos[lo - a] < half:
                lo += 1
            # gap before unit g has score scores[g - 1]; ties go to the latest cut
            g = min(range(lo, j + 1), key=lambda g: (scores[g - 1], -g))
            cuts.append(g)
            start = g
        cuts.append(b)
        out: list[Piece] = []
        last_start = done[-1].start if done else -1
        for s, e in pairwise(cuts):
            pieces = units[s:e]
            carried = self._carry(units, s, pieces[0][2], last_start, out, budget)
            packed = p.pack(carried + pieces, fresh=len(carried))
            out += packed
            if packed:
                last_start = packed[-1][0]
        return out

    def _carry(
        self,
        units: list[Piece],
        s: int,
        need: int,
        last_start: int,
        out: list[Piece],
        budget: int,
    ) -> list[Piece]:
        """Trailing units before ``units[s]`` (same topic) worth at most ``chunk_overlap``
        tokens, leaving room for ``need`` more, all after the last chunk's start (so starts
        keep increasing, and nothing is carried across topics)."""
        if self.chunk_overlap <= 0 or not out:
            return []
        k, carried = s, 0
        while k > 0:
            u = units[k - 1]
            if u[0] <= last_start or carried + u[2] > self.chunk_overlap:
                break
            if carried + u[2] + need > budget:
                break
            carried += u[2]
            k -= 1
        return units[k:s]


def _check_n_segments(n_segments: int | None) -> None:
    if n_segments is not None and (isinstance(n_segments, bool) or n_segments < 1):
        raise ConfigError(f"n_segments must be at least 1 (or None), got {n_segments!r}")
