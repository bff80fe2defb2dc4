"""Fusion of a dense and a sparse ranking: the functions and the :class:`Fusion` setting.

Methods (``Fusion.method``):

- ``rrf``: reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009),
  ``sum_i w_i / (rrf_k + rank_i)``. Ranks only: a clear BM25 winner counts no more than a
  coin-toss dense ranking.
- ``minmax``, ``zscore``, ``tmm``: normalise each list's scores, then a convex combination
  ``w_dense * n_dense + (1 - w_dense) * n_sparse`` (Bruch, Gai & Ingber 2023, "An Analysis of
  Fusion Functions for Hybrid Retrieval"). ``minmax`` maps each list to [0, 1]; ``zscore``
  subtracts the list's mean and divides by its standard deviation, so a score that stands
  far out of its list (an exact name that only one chunk holds) keeps its lead, and z-scores
  below 0 count as 0 (a list adds evidence only where it is above its own average); ``tmm``
  (theoretical min-max) divides by the top score with a fixed floor (0 for BM25 and cosine).
  With score completion (``Fusion.complete``) an item outside one list's candidates gets its
  exact score in that index; otherwise it gets that list's lowest normalised value.

Per-query weights (the default,
``zscore:dense=0.5,boost=8,coverage=1,phrase=5,coord=3,near=4``): the BM25 weight is multiplied
by ``boost`` when the query quotes a phrase or holds an identifier or a name (the user expects
those exact words), and by ``coverage_share``, the part of the query's idf mass that BM25's best
chunk holds (a query worded unlike the text: BM25's best chunk matches a few common words only,
and the dense list gains). The exponent was 3 until round 4 of issue 16: that handed 80-94 % of
the weight to the dense list when BM25's best chunk was right but lacked a question's framing
words (``Which manual says ...``). The coverage counts as 1 when BM25's best chunk holds at
least ``near`` (4) of the query's words within a run of at most ``near_width`` (2) times as many
analyzed terms (round 5e: a question's words found together, as in the sentence it was asked
about, so the framing words it lacks do not cut the weight). The weight is also multiplied by
``coord_share`` (round 5): the share of the query's distinct terms, counted up to ``coord`` (3),
that BM25's best chunk holds. A best chunk that holds one word of a three-word query is weak
evidence however rare that word is, while a chunk holding three words of a long question, or
every word of a short one, keeps the weight (the idea of Lucene's ``minimum_should_match``, as a
weight rather than a filter). Before that, the BM25 score of each of BM25's best 5 chunks is
raised by ``1 + 5 * share``, ``share`` the part of the query's adjacent word pairs the chunk
holds side by side (:mod:`lcmem.indexers.phrase`: the whole name or phrase over a part of it).
``adaptive`` (z-score of each list's top) is the first round's signal, kept selectable.

Ties are broken by ascending id, so results are deterministic. These are a few lines each,
written here rather than taken from a library because the libraries that offer them (ranx,
LangChain's EnsembleRetriever) bring large dependencies for it.

Example:
    >>> f = Fusion.parse("zscore:dense=0.5")
    >>> [i for i, _ in fuse([[(1, 0.9), (2, 0.5), (3, 0.4)], [(2, 9.0), (3, 1.0)]], 2, f)[0]]
    [1, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from lcmem.errors import ConfigError

METHODS = ("rrf", "minmax", "zscore", "tmm")

Results = list[tuple[int, float]]


@dataclass(frozen=True)
class Fusion:
    """How the two rankings of a hybrid search are fused.

    Attributes:
        method: ``zscore`` (the default, chosen by ``benchmarks/bench_fusion.py``), ``minmax``,
            ``tmm`` or ``rrf``.
        dense: weight of the dense list in [0, 1]; the sparse (BM25) list gets ``1 - dense``.
        rrf_k: the RRF constant (``rrf`` only).
        candidates: results taken from each index before fusing (at least ``4 k``).
        boost: factor on the BM25 weight when the query quotes a phrase or holds an
            identifier, code, number or name (see :mod:`lcmem.indexers.query`); 1 disables it.
        adaptive: query-adaptive weights from the lists' own scores when > 0: each list's
            weight is multiplied by how far its top score stands out of it (its z-score)
            beyond this threshold, ``max(z_top - adaptive, 0.05)``, then rescaled to sum
            to 1. A BM25 list whose best chunk is far ahead of the rest (an exact name that only
            one chunk holds) takes over; one of scattered weak matches (none of the query's
            words in the relevant text) steps back. 0 disables it.
        complete: score completion: look up the exact dense score of every BM25 candidate and
            the BM25 score of every dense candidate, instead of giving an item missing from a
            list that list's lowest score (score methods only; two small filtered searches).
        coverage: exponent of the BM25 list's coverage when > 0: the BM25 weight is multiplied
            by ``max(share, 0.01) ** coverage``, where ``share`` is the part of the query's
            idf mass that BM25's best chunk holds (:meth:`~lcmem.indexers.bm25.BM25Index.
            coverage`). A best chunk holding all the query's words, rare ones included, keeps
            the weight; one that matches a few common words (a query worded differently from
            the text) hands the ranking to the dense list. 0 disables it.
        phrase: weight of phrase evidence when > 0: the BM25 score of each of BM25's best
            :data:`~lcmem.indexers.phrase.PHRASE_DEPTH` chunks is multiplied by
            ``1 + phrase * share``, ``share`` the part of the query's adjacent term pairs the
            chunk holds side by side (:func:`~lcmem.indexers.phrase.pair_share`: ``old gate of
            Lisbon`` over ``north gate of Lisbon``, ``Fenna Petrakis`` over ``Fenna Okafor``),
            before normalising and before the coverage is taken. Needs the chunks' terms
            (``HybridIndex.search(terms_of=...)``, which ``Library.search`` passes). 0 disables it.
        coord: how many of the query's distinct terms BM25's best chunk must hold for the BM25
            list to keep its weight (a query of fewer terms: all of them); with fewer, the weight
            is multiplied by :func:`coord_share` ``** coord_power``. 0 disables it.
        coord_power: the exponent of that factor.
        near: when BM25's best chunk holds at least this many of the query's distinct terms
            within a run of at most ``near_width`` times as many of its analyzed terms
            (:func:`~lcmem.indexers.phrase.min_window`), its coverage counts as 1. Needs the
            chunks' terms, like ``phrase``. 0 disables it.
        near_width: see ``near``.

    Example:
        >>> Fusion.parse("rrf:k=20").rrf_k
        20
        >>> Fusion.parse("minmax:dense=0.3").weights()
        (0.3, 0.7)
    """

    method: str = "zscore"
    dense: float = 0.5
    rrf_k: int = 60
    candidates: int = 100
    boost: float = 8.0
    complete: bool = False
    adaptive: float = 0.0
    coverage: float = 1.0
    phrase: float = 5.0
    coord: int = 3
    coord_power: float = 1.0
    near: int = 4
    near_width: float = 2.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown fusion {self.method!r}: use one of {', '.join(METHODS)}")
        if not (0.0 <= self.dense <= 1.0) or not np.isfinite(self.dense):
            raise ConfigError(f"the dense fusion weight must be in [0, 1], got {self.dense}")
        if self.rrf_k < 0:
            raise ConfigError(f"rrf_k must be >= 0, got {self.rrf_k}")
        if self.candidates < 1:
            raise ConfigError(f"fusion candidates must be >= 1, got {self.candidates}")
        if not (self.adaptive >= 0.0) or not np.isfinite(self.adaptive):
            raise ConfigError(f"the adaptive threshold must be >= 0, got {self.adaptive}")
        if not (self.boost >= 1.0) or not np.isfinite(self.boost):
            raise ConfigError(f"the fusion boost must be >= 1, got {self.boost}")
        if not (self.coverage >= 0.0) or not np.isfinite(self.coverage):
            raise ConfigError(f"the fusion coverage exponent must be >= 0, got {self.coverage}")
        if not (self.phrase >= 0.0) or not np.isfinite(self.phrase):
            raise ConfigError(f"the fusion phrase weight must be >= 0, got {self.phrase}")
        if self.coord < 0:
            raise ConfigError(f"the fusion coord (terms to hold) must be >= 0, got {self.coord}")
        if not (self.coord_power >= 0.0) or not np.isfinite(self.coord_power):
            raise ConfigError(f"the fusion coord_power must be >= 0, got {self.coord_power}")
        if self.near < 0:
            raise ConfigError(
                f"the fusion near (terms found together) must be >= 0, got {self.near}"
            )
        if not (self.near_width >= 1.0) or not np.isfinite(self.near_width):
            raise ConfigError(f"the fusion near_width must be >= 1, got {self.near_width}")

    def near_enough(self, held: int, width: int) -> bool:
        """Whether a chunk holding ``held`` of the query's distinct terms within a run of
        ``width`` analyzed terms (:func:`~lcmem.indexers.phrase.min_window`) has them close
        enough together for its BM25 coverage to count as 1 (``near``, ``near_width``).

        Example:
            >>> Fusion().near_enough(4, 8), Fusion().near_enough(4, 9), Fusion().near_enough(3, 3)
            (True, False, False)
        """
        return 0 < self.near <= held and width <= self.near_width * held

    def weights(self) -> tuple[float, float]:
        """``(dense weight, sparse weight)``."""
        return self.dense, 1.0 - self.dense

    def to_dict(self) -> dict[str, Any]:
        """For the manifest."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fusion:
        """From :meth:`to_dict` (unknown keys are a clear error). A setting recorded before
        ``coverage`` (or ``phrase``, ``coord``) existed fused without it, so it reads as 0."""
        try:
            return cls(**{"coverage": 0.0, "phrase": 0.0, "coord": 0, "near": 0, **data})
        except TypeError as exc:
            raise ConfigError(f"bad fusion setting {data!r}: {exc}") from exc

    @classmethod
    def parse(
        cls, text: str | Fusion | dict[str, Any] | None, base: Fusion | None = None
    ) -> Fusion:
        """A setting from ``"method"`` or ``"method:key=value,..."`` (keys ``dense``, ``k``,
        ``candidates``, ``boost``, ``complete``, ``adaptive``, ``coverage``, ``phrase``,
        ``coord``, ``coord_power``, ``near``, ``near_width``);
        unspecified keys come from ``base`` when it has the same method, else from the
        defaults of ``method``.

        Example:
            >>> Fusion.parse("zscore:dense=0.4,boost=1").boost
            1.0
        """
        if isinstance(text, Fusion):
            return text
        if isinstance(text, dict):
            return cls.from_dict(text)
        if text is None or not text.strip():
            return base or DEFAULT_FUSION
        method, _, rest = text.strip().partition(":")
        method = method.strip().lower()
        if method not in METHODS:
            raise ConfigError(
                f"unknown fusion {method!r}: use one of {', '.join(METHODS)} "
                "(optionally with settings, e.g. zscore:dense=0.4 or rrf:k=60)"
            )
        start = base if base is not None and base.method == method else PRESETS[method]
        keys = {"dense": "dense", "k": "rrf_k", "rrf_k": "rrf_k", "candidates": "candidates"}
        keys["boost"] = "boost"
        keys["complete"] = "complete"
        keys["adaptive"] = "adaptive"
        keys["coverage"] = "coverage"
        keys["phrase"] = "phrase"
        keys["coord"] = "coord"
        keys["coord_power"] = "coord_power"
        keys["near"] = "near"
        keys["near_width"] = "near_width"
        changes: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = part.partition("=")
            field = keys.get(key.strip().lower())
            if not eq or field is None:
                raise ConfigError(
                    f"bad fusion setting {part!r}: use key=value with key one of "
                    "dense, k, candidates, boost, complete, adaptive, coverage, phrase, coord, "
                    "coord_power, near, near_width"
                )
            try:
                if field == "complete":
                    if value.strip().lower() not in ("0", "1", "true", "false"):
                        raise ValueError(value)
                    changes[field] = value.strip().lower() in ("1", "true")
                elif field in ("rrf_k", "candidates", "coord", "near"):
                    changes[field] = int(value)
                else:
                    changes[field] = float(value)
            except ValueError as exc:
                raise ConfigError(
                    f"bad fusion setting {part!r}: {value!r} is not a number"
                ) from exc
        return replace(start, **changes)

    def __str__(self) -> str:
        if self.method == "rrf":
            phrase = f",phrase={self.phrase:g}" if self.phrase else ""
            coord = f",coord={self.coord},coord_power={self.coord_power:g}" if self.coord else ""
            coord += f",near={self.near},near_width={self.near_width:g}" if self.near else ""
            return f"rrf:k={self.rrf_k},dense={self.dense:g},boost={self.boost:g}{phrase}{coord}"
        return (
            f"{self.method}:dense={self.dense:g},boost={self.boost:g},"
            f"complete={int(self.complete)},adaptive={self.adaptive:g},coverage={self.coverage:g}"
            f",phrase={self.phrase:g},coord={self.coord},coord_power={self.coord_power:g}"
            f",near={self.near},near_width={self.near_width:g}"
        )


#: Settings of each method when chosen by name alone (tuned on the dev splits of
#: ``benchmarks/bench_fusion.py``; see BENCHMARKS.md).
PRESETS: dict[str, Fusion] = {}
DEFAULT_FUSION = Fusion()
PRESETS.update(
    # the default before issue 16
    rrf=Fusion(
        "rrf",
        dense=0.5,
        rrf_k=60,
        candidates=50,
        boost=1.0,
        coverage=0.0,
        phrase=0.0,
        coord=0,
        near=0,
    ),
    minmax=Fusion("minmax", dense=0.3, boost=1.0, coverage=0.0, phrase=0.0, coord=0, near=0),
    zscore=DEFAULT_FUSION,
    tmm=Fusion("tmm", dense=0.5, boost=1.0, coverage=0.0, phrase=0.0, coord=0, near=0),
)


def adaptive_weights(
    result_lists: Sequence[Sequence[tuple[int, float]]],
    weights: Sequence[float],
    fusion: Fusion,
) -> list[float]:
    """``weights`` scaled by each list's confidence, ``max(z_top - fusion.adaptive, 0.05)``,
    where ``z_top`` is the z-score of the list's best score among its own scores; rescaled to
    sum to 1. Unchanged when ``fusion.adaptive`` is 0 or a list is empty.

    Example:
        >>> flat = [(i, 1.0 - 0.01 * i) for i in range(50)]
        >>> peaked = [(99, 30.0)] + [(i, 5.0 - 0.01 * i) for i in range(49)]
        >>> [round(w, 2) for w in adaptive_weights([flat, peaked], [0.5, 0.5], Fusion(adaptive=2))]
        [0.01, 0.99]
    """
    if fusion.adaptive <= 0 or any(len(r) < 2 for r in result_lists):
        return list(weights)
    conf = []
    for results in result_lists:
        s = np.asarray([score for _, score in results], dtype=np.float64)
        sd = float(s.std())
        z_top = (float(s.max()) - float(s.mean())) / sd if sd > 0 else 0.0
        conf.append(max(z_top - fusion.adaptive, 0.05))
    scaled = [w * c for w, c in zip(weights, conf, strict=True)]
    total = sum(scaled)
    return [w / total for w in scaled] if total > 0 else list(weights)


def coord_share(held: int, n_terms: int, cap: int) -> float:
    """The share of ``min(cap, n_terms)`` query terms that a chunk holding ``held`` of the
    query's ``n_terms`` distinct terms covers, in [0, 1] (1 for a query without terms).

    Example:
        >>> coord_share(1, 3, 4), coord_share(4, 9, 4), coord_share(2, 2, 4)
        (0.3333333333333333, 1.0, 1.0)
    """
    need = min(cap, n_terms)
    return 1.0 if need <= 0 else min(held / need, 1.0)


def coverage_weights(
    weights: Sequence[float],
    share: float | None,
    fusion: Fusion,
    coord: float | None = None,
) -> list[float]:
    """``(dense, sparse)`` ``weights`` with the sparse one multiplied by
    ``max(share, 0.01) ** fusion.coverage`` and by ``max(coord, 0.01) ** fusion.coord_power``,
    rescaled to sum to 1. ``share``: the part of the query's idf mass that the sparse list's
    best item holds; ``coord``: its :func:`coord_share` (``None``: unknown, no change; each
    factor only when its setting, ``coverage`` or ``coord``, is above 0).

    Example:
        >>> f = Fusion(coverage=3)
        >>> [round(w, 3) for w in coverage_weights([0.5, 0.5], 1.0, f)]
        [0.5, 0.5]
        >>> [round(w, 3) for w in coverage_weights([0.5, 0.5], 0.5, f)]
        [0.889, 0.111]
        >>> [round(w, 3) for w in coverage_weights([0.5, 0.5], 1.0, Fusion(), coord=0.5)]
        [0.667, 0.333]
    """
    if len(weights) != 2:
        return list(weights)
    dense, sparse = weights
    if fusion.coverage > 0 and share is not None:
        sparse *= max(float(share), 0.01) ** fusion.coverage
    if fusion.coord > 0 and coord is not None:
        sparse *= max(float(coord), 0.01) ** fusion.coord_power
    total = dense + sparse
    return [dense / total, sparse / total] if total > 0 else list(weights)


def _affine(scores: np.ndarray, method: str) -> tuple[float, float]:
    """``(shift, scale)`` with normalised = ``(raw - shift) / scale`` for one list's scores."""
    lo, hi = float(scores.min()), float(scores.max())
    if method == "minmax":
        return (lo, hi - lo) if hi > lo else (lo - 1.0, 1.0)  # all equal -> 1
    if method == "zscore":
        sd = float(scores.std())
        return (float(scores.mean()), sd) if sd > 0 else (lo, 1.0)  # all equal -> 0
    if method == "tmm":
        return (0.0, hi) if hi > 0 else (0.0, 1.0)
    raise ConfigError(f"unknown score normalisation {method!r}: use minmax, zscore or tmm")


def normalize(scores: np.ndarray, method: str) -> tuple[np.ndarray, float]:
    """Normalised ``scores`` (one list, any order) and the value of an item missing from it.

    Example:
        >>> n, missing = normalize(np.array([3.0, 2.0, 1.0]), "zscore")
        >>> [round(float(x), 3) for x in n], round(missing, 3)
        ([1.225, 0.0, -1.225], -1.225)
    """
    if len(scores) == 0:
        return scores.astype(np.float64), 0.0
    s = scores.astype(np.float64)
    shift, scale = _affine(s, method)
    norm = (s - shift) / scale
    if method == "tmm":
        return np.maximum(norm, 0.0), 0.0
    return norm, float(norm.min())


def fuse(
    result_lists: Sequence[Sequence[tuple[int, float]]],
    k: int,
    fusion: Fusion,
    weights: Sequence[float] | None = None,
    extra: Sequence[Sequence[tuple[int, float]] | None] | None = None,
    absent: Sequence[float | None] | None = None,
) -> tuple[Results, list[dict[int, float]]]:
    """Fuse ranked ``(id, score)`` lists (best first) into the top ``k``.

    Args:
        result_lists: one ranking per retriever (dense first, then sparse, by convention).
        k: how many fused results to return.
        fusion: the method and its settings.
        weights: one weight per list (default: ``fusion.weights()`` for two lists, 1 each
            otherwise).
        extra: per list, raw scores of items outside its ranking (score completion: the
            exact score of the other lists' candidates), normalised with the ranking's own
            statistics. Ignored by ``rrf``.
        absent: per list, the raw score of an item found nowhere in it (0 for BM25 once
            completed: the item holds no query term); ``None``: the ranking's lowest
            normalised value.

    Returns:
        ``(fused, contributions)``: the fused ``(id, score)`` list and, per input list, each
        returned id's weighted contribution to its score.
    """
    if weights is None:
        weights = fusion.weights() if len(result_lists) == 2 else [1.0] * len(result_lists)
    if len(weights) != len(result_lists):
        raise ConfigError(f"got {len(weights)} fusion weights for {len(result_lists)} lists")
    if k <= 0:
        return [], [{} for _ in result_lists]
    parts: list[dict[int, float]] = []
    floors: list[float] = []
    for n, (results, weight) in enumerate(zip(result_lists, weights, strict=True)):
        ids, scores = _dedup(results)
        if fusion.method == "rrf":
            values = weight / (fusion.rrf_k + np.arange(1, len(ids) + 1, dtype=np.float64))
            parts.append(dict(zip(ids, values.tolist(), strict=True)))
            floors.append(0.0)
            continue
        if not ids:
            parts.append({})
            floors.append(0.0)
            continue
        shift, scale = _affine(scores, fusion.method)
        ranked = set(ids)
        more = [(int(i), float(s)) for i, s in (extra[n] or [])] if extra else []
        more = [(i, s) for i, s in more if i not in ranked]
        all_ids = ids + [i for i, _ in more]
        raw = np.concatenate([scores, np.asarray([s for _, s in more], dtype=np.float64)])
        norm = (raw - shift) / scale
        raw_absent = absent[n] if absent else None
        if raw_absent is not None:
            missing = (raw_absent - shift) / scale
        else:
            missing = float(norm[: len(ids)].min())
        if fusion.method in ("tmm", "zscore"):  # only evidence above the floor / mean adds
            norm = np.maximum(norm, 0.0)
            missing = max(missing, 0.0)
        parts.append(dict(zip(all_ids, (weight * norm).tolist(), strict=True)))
        floors.append(weight * missing)
    fused: dict[int, float] = {}
    for i in {i for part in parts for i in part}:
        fused[i] = sum(part.get(i, floor) for part, floor in zip(parts, floors, strict=True))
    top = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
    contributions = [
        {i: part.get(i, floor) for i, _ in top} for part, floor in zip(parts, floors, strict=True)
    ]
    return top, contributions


def _dedup(results: Sequence[tuple[int, float]]) -> tuple[list[int], np.ndarray]:
    """Ids and scores, keeping the first (best) occurrence of each id."""
    seen: set[int] = set()
    ids: list[int] = []
    scores: list[float] = []
    for doc_id, score in results:
        doc_id = int(doc_id)
        if doc_id not in seen:
            seen.add(doc_id)
            ids.append(doc_id)
            scores.append(float(score))
    return ids, np.asarray(scores, dtype=np.float64)
