"""Hybrid search: fuse the rankings of a dense and a sparse index.

:class:`HybridIndex` fuses with a :class:`~lcmem.indexers.fusion.Fusion` setting (score-aware
z-score fusion by default; RRF, min-max and theoretical min-max selectable; see
:mod:`lcmem.indexers.fusion`). Two standalone helpers remain for callers of earlier versions:

- :func:`rrf_fuse`, reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): an item's
  score is ``sum_i w_i / (rrf_k + rank_i)`` over the lists it appears in, ranks from 1.
- :func:`weighted_fuse`: per-list min-max normalised scores, combined with weights.

They are a few lines each, written here rather than taken from a library because the
libraries that offer them (ranx, LangChain's EnsembleRetriever) bring large dependencies for it.
Ties are broken by ascending id, so results are deterministic.

Example:
    >>> [(i, round(s, 5)) for i, s in rrf_fuse([[(1, 0.9), (2, 0.8)], [(2, 7.0), (3, 5.0)]], k=3)]
    [(2, 0.03252), (1, 0.01639), (3, 0.01613)]
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from lcmem.errors import ConfigError, EmptyQueryError
from lcmem.indexers.base import Index
from lcmem.indexers.fusion import (
    METHODS,
    Fusion,
    adaptive_weights,
    coord_share,
    coverage_weights,
    fuse,
)
from lcmem.indexers.phrase import PHRASE_DEPTH, min_window, pair_share, phrase_rescore
from lcmem.indexers.query import fusion_weights

FUSIONS = (*METHODS, "weighted")
NORMALIZATIONS = ("minmax", "none")

Results = list[tuple[int, float]]


def rrf_fuse(
    result_lists: Sequence[Sequence[tuple[int, float]]],
    k: int,
    rrf_k: int = 60,
    weights: Sequence[float] | None = None,
) -> Results:
    """Reciprocal-rank fusion of ranked ``(id, score)`` lists (each best first).

    Args:
        result_lists: one ranking per retriever; only the order is used.
        k: how many fused results to return.
        rrf_k: the constant of the formula (60 in the paper); larger flattens the curve.
        weights: one weight per list (default 1 each).

    Example:
        >>> rrf_fuse([[(1, 0.9), (2, 0.5)], [(2, 3.0)]], k=2, rrf_k=0)
        [(2, 1.5), (1, 1.0)]
    """
    weights = _check_weights(weights, len(result_lists))
    if rrf_k < 0:
        raise ConfigError(f"rrf_k must be >= 0, got {rrf_k}")
    fused: dict[int, float] = {}
    for results, weight in zip(result_lists, weights, strict=True):
        for rank, doc_id in enumerate(_dedup_ids(results), start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + weight / (rrf_k + rank)
    return _top(fused, k)


def weighted_fuse(
    result_lists: Sequence[Sequence[tuple[int, float]]],
    k: int,
    weights: Sequence[float],
    normalize: str = "minmax",
) -> Results:
    """Weighted sum of per-list normalised scores; an item missing from a list gets 0 there.

    ``normalize="minmax"`` maps each list's scores to [0, 1] (all equal -> 1); ``"none"``
    uses the raw scores.

    Example:
        >>> weighted_fuse([[(1, 0.9), (2, 0.5)], [(2, 8.0), (3, 4.0)]], k=3, weights=(0.5, 0.5))
        [(1, 0.5), (2, 0.5), (3, 0.0)]
    """
    weights = _check_weights(weights, len(result_lists))
    if normalize not in NORMALIZATIONS:
        raise ConfigError(
            f"unknown score normalisation {normalize!r}: use one of {', '.join(NORMALIZATIONS)}"
        )
    fused: dict[int, float] = {}
    for results, weight in zip(result_lists, weights, strict=True):
        firsts = _dedup(results)
        if not firsts:
            continue
        scores = np.array([s for _, s in firsts], dtype=np.float64)
        if normalize == "minmax":
            lo, hi = scores.min(), scores.max()
            scores = (scores - lo) / (hi - lo) if hi > lo else np.ones_like(scores)
        for (doc_id, _), score in zip(firsts, scores, strict=True):
            fused[doc_id] = fused.get(doc_id, 0.0) + weight * float(score)
    return _top(fused, k)


class HybridIndex:
    """A dense and a sparse index searched together, rankings fused.

    It does not own persistence: the two indices are saved and loaded by their owner (each
    to its own file or folder). :meth:`add` and :meth:`remove` forward to both.

    Args:
        dense: e.g. a :class:`~lcmem.indexers.faiss.FaissIndex`.
        sparse: e.g. a :class:`~lcmem.indexers.bm25.BM25Index`.
        fusion: a :class:`~lcmem.indexers.fusion.Fusion`, or its text form (``"zscore"``,
            ``"rrf:k=60"``, ``"minmax:dense=0.3"``; ``"weighted"`` is the old name of
            ``minmax`` without score completion); default
            :data:`~lcmem.indexers.fusion.DEFAULT_FUSION`.
        rrf_k: overrides the fusion's RRF constant.
        weights: override the fusion's ``(dense, sparse)`` weights (rescaled to sum to 1).
        candidates: overrides the fusion's candidates per index (at least ``4 k`` are always
            taken).
        names: keys of the per-index details in results.

    Example:
        >>> import numpy as np
        >>> from lcmem.indexers.faiss import FaissIndex
        >>> class Words(Index):  # a tiny sparse index: counts query words in each item
        ...     def __init__(self): self.docs = {}
        ...     def add(self, ids, data): self.docs.update(zip(ids, data))
        ...     def remove(self, ids): return sum(self.docs.pop(i, None) is not None for i in ids)
        ...     def ids(self): return np.array(sorted(self.docs), dtype=np.int64)
        ...     def save(self, path): pass
        ...     @classmethod
        ...     def load(cls, path, mmap=True): return cls()
        ...     def search(self, query, k=10, allowed=None):
        ...         hits = [(i, float(sum(w in d for w in query))) for i, d in self.docs.items()]
        ...         return sorted([h for h in hits if h[1] > 0], key=lambda h: -h[1])[:k]
        >>> hybrid = HybridIndex(FaissIndex(dim=2), Words(), fusion="rrf")
        >>> hybrid.add([1, 2], np.eye(2, dtype=np.float32), [["cat"], ["dog"]])
        >>> [(i, d["dense_rank"], d.get("bm25_rank")) for i, _, d in
        ...  hybrid.search(np.array([1.0, 0.2]), ["cat"], k=2)]
        [(1, 1, 1), (2, 2, None)]
    """

    def __init__(
        self,
        dense: Index,
        sparse: Index,
        fusion: Fusion | str | None = None,
        rrf_k: int | None = None,
        weights: Sequence[float] | None = None,
        candidates: int | None = None,
        names: tuple[str, str] = ("dense", "bm25"),
    ) -> None:
        if isinstance(fusion, str) and fusion.strip().lower() == "weighted":
            fusion = "minmax:complete=0"  # the old "weighted" fusion, as it was
        setting = Fusion.parse(fusion)
        changes: dict[str, Any] = {}
        if rrf_k is not None:
            changes["rrf_k"] = rrf_k
        if candidates is not None:
            changes["candidates"] = candidates
        if weights is not None:
            w = _check_weights(weights, 2)
            if sum(w) <= 0:
                raise ConfigError(f"fusion weights must not both be 0, got {w}")
            changes["dense"] = w[0] / (w[0] + w[1])
        self.fusion = replace(setting, **changes) if changes else setting
        self.dense = dense
        self.sparse = sparse
        self.names = names

    @property
    def candidates(self) -> int:
        return self.fusion.candidates

    def add(self, ids: Sequence[int] | np.ndarray, vectors: Any, tokens: Any) -> None:
        """Add the same ids to both indices: vectors to the dense one, tokens to the sparse one."""
        self.dense.add(ids, vectors)
        self.sparse.add(ids, tokens)

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Remove ids from both indices; returns the larger of the two counts."""
        return max(self.dense.remove(ids), self.sparse.remove(ids))

    def ids(self) -> np.ndarray:
        """Ids present in either index, sorted."""
        return np.union1d(self.dense.ids(), self.sparse.ids()).astype(np.int64)

    def __len__(self) -> int:
        return len(self.ids())

    def search(
        self,
        dense_query: Any,
        sparse_query: Any,
        k: int = 10,
        allowed: np.ndarray | Sequence[int] | None = None,
        text: str | None = None,
        terms_of: Callable[[list[int]], Mapping[int, Sequence[Hashable]]] | None = None,
    ) -> list[tuple[int, float, dict[str, float]]]:
        """Fused top ``k`` as ``(id, fused score, details)``.

        ``details`` holds, for each index that returned the id, its raw score and 1-based rank,
        and for each index searched the weight it had in the fusion and its weighted share of
        the fused score (``{"dense": 0.83, "dense_rank": 1, "dense_weight": 0.5,
        "dense_part": 0.91, "bm25": 7.2, "bm25_rank": 3, ...}``); ``"boost"`` is there when the
        query's quoted phrases, identifiers or names (``text``, the raw query) raised the BM25
        weight, ``"bm25_coverage"`` when the fusion weighed BM25 by the share of the query's idf
        mass its best chunk holds (:meth:`~lcmem.indexers.bm25.BM25Index.coverage`),
        ``"bm25_near"`` (1) when BM25's best chunk holds ``Fusion.near`` of the query's words
        close together and its coverage counted as 1, ``"bm25_coord"`` when it weighed BM25 by
        the share of the query's terms (up to ``Fusion.coord``) that its best chunk holds,
        ``"bm25_phrase"`` (the share of the query's adjacent term pairs the chunk holds side by
        side) for BM25's best chunks when ``Fusion.phrase`` raised their BM25 score by it.
        ``terms_of(ids)`` gives the analyzed terms of chunks (needed for ``Fusion.phrase``;
        without it phrase evidence is skipped). Pass ``None`` as either query to search with
        the other index alone.
        """
        if dense_query is None and sparse_query is None:
            raise EmptyQueryError("the hybrid search got no query: pass a dense or sparse query")
        if k <= 0:
            return []
        n = max(k * 4, self.fusion.candidates)
        (w_dense, w_sparse), hints = fusion_weights(self.fusion, text)
        lists: list[Results] = []
        names: list[str] = []
        weights: list[float] = []
        for name, index, query, weight in [
            (self.names[0], self.dense, dense_query, w_dense),
            (self.names[1], self.sparse, sparse_query, w_sparse),
        ]:
            if query is not None:
                lists.append(list(index.search(query, n, allowed)))
                names.append(name)
                weights.append(weight)
        shares: dict[int, float] = {}
        raw: dict[int, float] = {}  # BM25 scores before phrase evidence, for the details
        head = self._head_terms(sparse_query, lists, terms_of) if len(lists) == 2 else {}
        if self.fusion.phrase > 0 and head:
            shares = self._phrase_shares(sparse_query, head)
            if any(shares.values()):
                raw = {int(i): float(s) for i, s in reversed(lists[1])}
                lists[1] = phrase_rescore(lists[1], shares, self.fusion.phrase)
        covered: float | None = None
        coord: float | None = None
        near = False
        if len(lists) == 2:
            weights = adaptive_weights(lists, weights, self.fusion)
            covered = self._coverage(sparse_query, lists[1])
            near = covered is not None and self._near(sparse_query, lists[1], head)
            covered = 1.0 if near else covered
            coord = self._coord(sparse_query, lists[1])
            weights = coverage_weights(weights, covered, self.fusion, coord)
        extra: list[Results] | None = None
        absent: list[float | None] | None = None
        if self.fusion.complete and self.fusion.method != "rrf" and len(lists) == 2:
            # Score completion: the exact score of the other list's candidates in each index.
            extra, absent = self._complete(dense_query, sparse_query, lists), [None, 0.0]
        fused, parts = fuse(lists, k, self.fusion, weights=weights, extra=extra, absent=absent)
        details: dict[int, dict[str, float]] = {doc_id: {} for doc_id, _ in fused}
        for n, (name, results, weight, part) in enumerate(
            zip(names, lists, weights, parts, strict=True)
        ):
            for doc_id, score in extra[n] if extra else []:
                if doc_id in details:
                    details[doc_id][name] = float(score)
            for rank, (doc_id, score) in enumerate(_dedup(results), start=1):
                if doc_id in details:
                    details[doc_id][name] = raw.get(doc_id, score) if n == 1 else float(score)
                    details[doc_id][f"{name}_rank"] = rank
            for doc_id, share in part.items():
                details[doc_id][f"{name}_weight"] = weight
                details[doc_id][f"{name}_part"] = float(share)
        if hints and self.fusion.boost != 1.0:
            for d in details.values():
                d["boost"] = self.fusion.boost
        if covered is not None:
            for d in details.values():
                d[f"{self.names[1]}_coverage"] = covered
        if coord is not None:
            for d in details.values():
                d[f"{self.names[1]}_coord"] = coord
        if near:
            for d in details.values():
                d[f"{self.names[1]}_near"] = 1.0
        for doc_id, share in shares.items():
            if doc_id in details and share > 0:
                details[doc_id][f"{self.names[1]}_phrase"] = share
        return [(doc_id, score, details[doc_id]) for doc_id, score in fused]

    def _head_terms(
        self,
        sparse_query: Any,
        lists: list[Results],
        terms_of: Callable[[list[int]], Mapping[int, Sequence[Hashable]]] | None,
    ) -> Mapping[int, Sequence[Hashable]]:
        """The analyzed terms of the sparse list's best :data:`PHRASE_DEPTH` items, when phrase
        evidence or ``near`` can use them (one ``terms_of`` call; empty otherwise)."""
        distinct = len(set(sparse_query))
        wanted = (self.fusion.phrase > 0 and distinct >= 2) or (
            self.fusion.near > 0 and distinct >= self.fusion.near
        )
        if terms_of is None or not wanted or not lists[1]:
            return {}
        return terms_of([int(i) for i, _ in lists[1][:PHRASE_DEPTH]])

    def _phrase_shares(
        self, sparse_query: Any, head: Mapping[int, Sequence[Hashable]]
    ) -> dict[int, float]:
        """Per id of the sparse list's head, the share of the query's adjacent term pairs it
        holds side by side (empty for a query of fewer than two terms)."""
        query = list(sparse_query)
        if len(set(query)) < 2:
            return {}
        return {i: pair_share(query, terms) for i, terms in head.items()}

    def _near(
        self, sparse_query: Any, results: Results, head: Mapping[int, Sequence[Hashable]]
    ) -> bool:
        """Whether the sparse list's best item holds at least ``Fusion.near`` of the query's
        distinct terms within a run of ``near_width`` times as many of its terms."""
        if self.fusion.near <= 0 or not results or int(results[0][0]) not in head:
            return False
        return self.fusion.near_enough(*min_window(sparse_query, head[int(results[0][0])]))

    def _coverage(self, sparse_query: Any, results: Results) -> float | None:
        """The share of the query's idf mass that the sparse list's best item holds (``None``
        when the fusion does not use it or the sparse index cannot tell)."""
        measure = getattr(self.sparse, "coverage", None)
        if self.fusion.coverage <= 0 or measure is None:
            return None
        if not results:
            return 0.0  # no item holds any query term
        return float(measure(sparse_query, int(results[0][0])))

    def _coord(self, sparse_query: Any, results: Results) -> float | None:
        """The :func:`~lcmem.indexers.fusion.coord_share` of the sparse list's best item
        (``None`` when the fusion does not use it or the sparse index cannot tell)."""
        held_terms = getattr(self.sparse, "held_terms", None)
        if self.fusion.coord <= 0 or held_terms is None:
            return None
        n_terms = len(set(sparse_query))
        held = int(held_terms(sparse_query, int(results[0][0]))) if results else 0
        return coord_share(held, n_terms, self.fusion.coord)

    def _complete(self, dense_query: Any, sparse_query: Any, lists: list[Results]) -> list[Results]:
        """Dense scores of the BM25 candidates the dense list lacks, and BM25 scores of the
        dense candidates the BM25 list lacks (those holding no query term are left out)."""
        need_dense = _missing(lists[0], lists[1])
        need_sparse = _missing(lists[1], lists[0])
        dense = (
            self.dense.search(dense_query, len(need_dense), need_dense) if len(need_dense) else []
        )
        sparse = (
            self.sparse.search(sparse_query, len(need_sparse), need_sparse)
            if len(need_sparse)
            else []
        )
        return [list(dense), list(sparse)]


def _missing(results: Results, others: Results) -> np.ndarray:
    """Ids of ``others`` absent from ``results``, sorted."""
    have = {int(i) for i, _ in results}
    return np.asarray(sorted({int(i) for i, _ in others} - have), dtype=np.int64)


def _check_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0] * n
    weights = [float(w) for w in weights]
    if len(weights) != n:
        raise ConfigError(f"got {len(weights)} fusion weights for {n} result lists: pass one each")
    if any(not np.isfinite(w) or w < 0 for w in weights):
        raise ConfigError(f"fusion weights must be finite and >= 0, got {weights}")
    return weights


def _dedup(results: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Keep the first (best) occurrence of each id."""
    seen: set[int] = set()
    out = []
    for doc_id, score in results:
        doc_id = int(doc_id)
        if doc_id not in seen:
            seen.add(doc_id)
            out.append((doc_id, float(score)))
    return out


def _dedup_ids(results: Sequence[tuple[int, float]]) -> list[int]:
    return [doc_id for doc_id, _ in _dedup(results)]


def _top(fused: dict[int, float], k: int) -> Results:
    if k <= 0:
        return []
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
