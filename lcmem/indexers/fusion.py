"""Fusion of a dense and a sparse ranking: the functions and the :class:`Fusion` setting.

Methods (``Fusion.method``):

- ``rrf``: reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009),
  ``sum_i w_i / (rrf_k + rank_i)``. Ranks only: a clear BM25 winner counts no more than a
  coin-toss dense ranking.
- ``minmax``, ``zscore``, ``tmm``: normalise each list's scores, then a convex combination
  ``w_dense * n_dense + (1 - w_dense) * n_sparse`` (Bruch, Gai & Ingber 2023, "An Analysis of
  Fusion Functions for Hybrid Retrieval"). ``minmax`` maps each list to [0, 1]; ``zscore``
  subtracts the list's mean and divides by its standard deviation, so a score that stands
  far out of its list (an exact name that only one chunk holds) keeps its lead; ``tmm``
  (theoretical min-max) divides by the top score with a fixed floor (0 for BM25 and cosine).
  An item missing from a list gets that list's lowest normalised value.

Ties are broken by ascending id, so results are deterministic. These are a few lines each,
written here rather than taken from a library because the libraries that offer them (ranx,
LangChain's EnsembleRetriever) bring large dependencies for it.

Example:
    >>> f = Fusion.parse("zscore:dense=0.5")
    >>> [i for i, _ in fuse([[(1, 0.9), (2, 0.5), (3, 0.4)], [(2, 9.0), (3, 1.0)]], 2, f)[0]]
    [2, 1]
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
            identifier, code or number (see :mod:`lcmem.indexers.query`); 1 disables it.

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
    boost: float = 2.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown fusion {self.method!r}: use one of {', '.join(METHODS)}")
        if not (0.0 <= self.dense <= 1.0) or not np.isfinite(self.dense):
            raise ConfigError(f"the dense fusion weight must be in [0, 1], got {self.dense}")
        if self.rrf_k < 0:
            raise ConfigError(f"rrf_k must be >= 0, got {self.rrf_k}")
        if self.candidates < 1:
            raise ConfigError(f"fusion candidates must be >= 1, got {self.candidates}")
        if not (self.boost >= 1.0) or not np.isfinite(self.boost):
            raise ConfigError(f"the fusion boost must be >= 1, got {self.boost}")

    def weights(self) -> tuple[float, float]:
        """``(dense weight, sparse weight)``."""
        return self.dense, 1.0 - self.dense

    def to_dict(self) -> dict[str, Any]:
        """For the manifest."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fusion:
        """From :meth:`to_dict` (unknown keys are a clear error)."""
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"bad fusion setting {data!r}: {exc}") from exc

    @classmethod
    def parse(
        cls, text: str | Fusion | dict[str, Any] | None, base: Fusion | None = None
    ) -> Fusion:
        """A setting from ``"method"`` or ``"method:key=value,..."`` (keys ``dense``, ``k``,
        ``candidates``, ``boost``); unspecified keys come from ``base`` when it has the same
        method, else from the defaults of ``method``.

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
        changes: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = part.partition("=")
            field = keys.get(key.strip().lower())
            if not eq or field is None:
                raise ConfigError(
                    f"bad fusion setting {part!r}: use key=value with key one of "
                    "dense, k, candidates, boost"
                )
            try:
                changes[field] = int(value) if field in ("rrf_k", "candidates") else float(value)
            except ValueError as exc:
                raise ConfigError(
                    f"bad fusion setting {part!r}: {value!r} is not a number"
                ) from exc
        return replace(start, **changes)

    def __str__(self) -> str:
        if self.method == "rrf":
            return f"rrf:k={self.rrf_k},dense={self.dense:g},boost={self.boost:g}"
        return f"{self.method}:dense={self.dense:g},boost={self.boost:g}"


#: Settings of each method when chosen by name alone (tuned on the dev splits of
#: ``benchmarks/bench_fusion.py``; see BENCHMARKS.md).
PRESETS: dict[str, Fusion] = {}
DEFAULT_FUSION = Fusion()
PRESETS.update(
    rrf=Fusion("rrf", dense=0.5, rrf_k=60, boost=2.0),
    minmax=Fusion("minmax", dense=0.5),
    zscore=DEFAULT_FUSION,
    tmm=Fusion("tmm", dense=0.5),
)


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
    lo, hi = float(s.min()), float(s.max())
    if method == "minmax":
        if hi > lo:
            return (s - lo) / (hi - lo), 0.0
        return np.ones_like(s), 0.0
    if method == "zscore":
        sd = float(s.std())
        if sd > 0:
            mean = float(s.mean())
            return (s - mean) / sd, (lo - mean) / sd
        return np.zeros_like(s), 0.0
    if method == "tmm":
        if hi > 0:
            return np.maximum(s, 0.0) / hi, 0.0
        return np.zeros_like(s), 0.0
    raise ConfigError(f"unknown score normalisation {method!r}: use minmax, zscore or tmm")


def fuse(
    result_lists: Sequence[Sequence[tuple[int, float]]],
    k: int,
    fusion: Fusion,
    weights: Sequence[float] | None = None,
) -> tuple[Results, list[dict[int, float]]]:
    """Fuse ranked ``(id, score)`` lists (best first) into the top ``k``.

    Args:
        result_lists: one ranking per retriever (dense first, then sparse, by convention).
        k: how many fused results to return.
        fusion: the method and its settings.
        weights: one weight per list (default: ``fusion.weights()`` for two lists, 1 each
            otherwise).

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
    for results, weight in zip(result_lists, weights, strict=True):
        ids, scores = _dedup(results)
        if fusion.method == "rrf":
            values = weight / (fusion.rrf_k + np.arange(1, len(ids) + 1, dtype=np.float64))
            missing = 0.0
        else:
            norm, missing = normalize(scores, fusion.method)
            values = weight * norm
            missing *= weight
        parts.append(dict(zip(ids, values.tolist(), strict=True)))
        floors.append(missing)
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
