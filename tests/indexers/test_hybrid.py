"""Tests of rank fusion and HybridIndex (real FaissIndex and BM25Index, plus a scripted double)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lcmem.errors import ConfigError, EmptyQueryError
from lcmem.indexers.base import Index
from lcmem.indexers.bm25 import BM25Index
from lcmem.indexers.faiss import FaissIndex
from lcmem.indexers.hybrid import HybridIndex, rrf_fuse, weighted_fuse


class Scripted(Index):
    """Returns a fixed ranking (filtered by ``allowed``) and records every call."""

    def __init__(self, results: list[tuple[int, float]]) -> None:
        self.results = results
        self.calls: list[tuple[Any, int, Any]] = []

    def add(self, ids: Sequence[int] | np.ndarray, data: Any) -> None:
        raise NotImplementedError

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        raise NotImplementedError

    def ids(self) -> np.ndarray:
        return np.array(sorted(i for i, _ in self.results), dtype=np.int64)

    def save(self, path: str | Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | Path, mmap: bool = True) -> Scripted:
        raise NotImplementedError

    def search(self, query: Any, k: int = 10, allowed: Any = None) -> list[tuple[int, float]]:
        self.calls.append((query, k, allowed))
        rows = [r for r in self.results if allowed is None or r[0] in set(np.asarray(allowed))]
        return rows[:k]


A = [(10, 0.9), (20, 0.8), (30, 0.7)]
B = [(30, 5.0), (40, 4.0), (10, 3.0)]


# ---------------------------------------------------------------- rrf_fuse


def test_rrf_hand_computed():
    # 10: ranks 1 and 3; 30: ranks 3 and 1; 20 and 40: rank 2 once each
    expected = [
        (10, 1 / 61 + 1 / 63),
        (30, 1 / 61 + 1 / 63),  # same score as 10: the smaller id comes first
        (20, 1 / 62),
        (40, 1 / 62),
    ]
    got = rrf_fuse([A, B], k=10)
    assert [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-12)
    assert rrf_fuse([A, B], k=2) == got[:2]
    assert rrf_fuse([B, A], k=10) == got  # the order of the lists does not matter


def test_rrf_weights_and_constant():
    got = dict(rrf_fuse([A, B], k=10, rrf_k=0, weights=(2.0, 1.0)))
    assert got == pytest.approx({10: 2 / 1 + 1 / 3, 20: 2 / 2, 30: 2 / 3 + 1 / 1, 40: 1 / 2})
    assert [i for i, _ in rrf_fuse([A, B], k=4, rrf_k=0, weights=(2.0, 1.0))] == [10, 30, 20, 40]


def test_rrf_uses_ranks_not_scores_and_first_occurrence():
    assert rrf_fuse([[(1, 1000.0), (2, -5.0)]], k=2, rrf_k=0) == [(1, 1.0), (2, 0.5)]
    assert rrf_fuse([[(7, 0.9), (7, 0.8), (8, 0.7)]], k=3, rrf_k=0) == [(7, 1.0), (8, 0.5)]
    assert rrf_fuse([[], []], k=5) == []
    assert rrf_fuse([A], k=0) == []


@pytest.mark.parametrize("kw", [{"weights": (1.0,)}, {"weights": (1.0, -1.0)}, {"rrf_k": -1}])
def test_rrf_bad_arguments(kw):
    with pytest.raises(ConfigError):
        rrf_fuse([A, B], k=3, **kw)


# ---------------------------------------------------------------- weighted_fuse


def test_weighted_minmax_hand_computed():
    # A normalised: 10 -> 1, 20 -> 0.5, 30 -> 0; B: 30 -> 1, 40 -> 0.5, 10 -> 0
    got = weighted_fuse([A, B], k=10, weights=(0.7, 0.3))
    expected = {10: 0.7, 20: 0.35, 30: 0.3, 40: 0.15}
    assert [i for i, _ in got] == [10, 20, 30, 40]
    assert dict(got) == pytest.approx(expected)


def test_weighted_raw_scores_and_constant_lists():
    got = weighted_fuse([A, B], k=2, weights=(1.0, 1.0), normalize="none")
    assert [i for i, _ in got] == [30, 40]
    assert dict(got) == pytest.approx({30: 5.7, 40: 4.0})
    # a list whose scores are all equal normalises to 1 for each item
    assert weighted_fuse([[(3, 2.0), (1, 2.0)]], k=5, weights=(1.0,)) == [(1, 1.0), (3, 1.0)]


def test_weighted_bad_arguments():
    with pytest.raises(ConfigError, match="normalisation"):
        weighted_fuse([A], k=3, weights=(1.0,), normalize="softmax")
    with pytest.raises(ConfigError, match="2 fusion weights for 1"):
        weighted_fuse([A], k=3, weights=(1.0, 1.0))


# ---------------------------------------------------------------- HybridIndex, scripted sparse


@pytest.fixture()
def dense() -> FaissIndex:
    # ids 10, 20, 30, 40 along directions making the ranking for query e0 be 10, 20, 30, 40
    vecs = np.array(
        [[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]], np.float32
    )
    index = FaissIndex(dim=3)
    index.add([10, 20, 30, 40], vecs)
    return index


E0 = np.array([1.0, 0.0, 0.0], np.float32)


def test_hybrid_rrf_and_details(dense):
    sparse = Scripted([(30, 5.0), (50, 4.0), (10, 3.0)])
    hybrid = HybridIndex(dense, sparse, fusion="rrf", candidates=50)
    got = hybrid.search(E0, ["q"], k=3)
    dense_rank = {10: 1, 20: 2, 30: 3, 40: 4}
    fused = dict(rrf_fuse([dense.search(E0, 50), sparse.results], k=10))
    assert [i for i, _, _ in got] == [10, 30, 20]  # 10 and 30 tie on RRF: smaller id first
    for doc_id, score, details in got:
        assert score == pytest.approx(0.5 * fused[doc_id])  # default weights (0.5, 0.5)
        assert details["dense_rank"] == dense_rank[doc_id]
    assert {k: got[0][2][k] for k in ("dense", "dense_rank", "bm25", "bm25_rank")} == (
        pytest.approx({"dense": 1.0, "dense_rank": 1, "bm25": 3.0, "bm25_rank": 3})
    )
    assert got[0][2]["dense_weight"] == got[0][2]["bm25_weight"] == 0.5
    assert got[0][2]["dense_part"] + got[0][2]["bm25_part"] == pytest.approx(got[0][1])
    assert "bm25" not in got[2][2] and got[2][2]["bm25_part"] == 0.0  # not in sparse results
    assert sparse.calls == [(["q"], 50, None)]


def test_hybrid_candidates_default_and_override(dense):
    sparse = Scripted([])
    HybridIndex(dense, sparse).search(E0, ["q"], k=20)
    HybridIndex(dense, sparse).search(E0, ["q"], k=30)
    HybridIndex(dense, sparse, candidates=7).search(E0, ["q"], k=3)
    # at least 4 k (calls with ``allowed`` are score completion)
    assert [k for _, k, a in sparse.calls if a is None] == [100, 120, 12]


def test_hybrid_allowed_reaches_both_indices(dense):
    sparse = Scripted([(30, 5.0), (50, 4.0), (10, 3.0)])
    got = HybridIndex(dense, sparse).search(E0, ["q"], k=10, allowed=np.array([20, 30]))
    assert sorted(i for i, _, _ in got) == [20, 30]
    assert list(sparse.calls[0][2]) == [20, 30]


def test_hybrid_weighted_fusion(dense):
    sparse = Scripted([(40, 9.0), (30, 1.0)])
    hybrid = HybridIndex(dense, sparse, fusion="weighted", weights=(0.2, 0.8))
    got = hybrid.search(E0, ["q"], k=2)
    # dense minmax over cosines 1, .8, .6, 0 -> 40 gets 0; sparse: 40 -> 1, 30 -> 0
    assert [(i, round(s, 6)) for i, s, _ in got] == [(40, 0.8), (10, 0.2)]


def test_hybrid_one_sided_queries_and_errors(dense):
    sparse = Scripted([(30, 5.0)])
    hybrid = HybridIndex(dense, sparse)
    only_dense = hybrid.search(E0, None, k=2)
    assert [i for i, _, _ in only_dense] == [10, 20] and sparse.calls == []
    assert "bm25" not in only_dense[0][2]
    assert [i for i, _, _ in hybrid.search(None, ["q"], k=2)] == [30]
    assert hybrid.search(E0, ["q"], k=0) == []
    with pytest.raises(EmptyQueryError):
        hybrid.search(None, None)
    with pytest.raises(ConfigError, match="unknown fusion"):
        HybridIndex(dense, sparse, fusion="max")
    with pytest.raises(ConfigError):
        HybridIndex(dense, sparse, weights=(1.0,))


# ---------------------------------------------------------------- HybridIndex, real BM25


def test_hybrid_score_completion(dense):
    # 40 is BM25's only candidate; completion looks up its exact cosine (0.0) and the BM25
    # scores of the dense candidates (none hold the term: absent, raw 0)
    sparse = Scripted([(40, 9.0)])
    got = HybridIndex(dense, sparse, fusion="zscore:complete=1").search(E0, ["q"], k=4)
    by_id = {i: d for i, _, d in got}
    assert by_id[40]["dense"] == pytest.approx(0.0) and "dense_rank" in by_id[40]
    assert [list(a) for _, _, a in sparse.calls if a is not None] == [[10, 20, 30]]
    off = HybridIndex(dense, sparse, fusion="zscore:complete=0").search(E0, ["q"], k=4)
    assert len(sparse.calls) == 3  # no completion call the second time
    assert {i for i, _, _ in off} == {10, 20, 30, 40}


def test_hybrid_with_real_faiss_and_bm25():
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "omega"]
    ids = np.arange(100, 140, dtype=np.int64)
    tokens = [[words[i % 5], words[(i * 3) % 5], f"w{i}"] for i in range(len(ids))]
    vecs = rng.standard_normal((len(ids), 8)).astype(np.float32)
    hybrid = HybridIndex(FaissIndex(dim=8, kind="hnsw"), BM25Index())
    hybrid.add(ids, vecs, tokens)
    assert len(hybrid) == 40

    # item 117 is both the nearest vector and the only one with the rare word "w17"
    got = hybrid.search(vecs[17], ["w17", "alpha"], k=5)
    assert got[0][0] == 117
    assert got[0][2]["dense_rank"] == 1 and got[0][2]["bm25_rank"] == 1
    assert [s for _, s, _ in got] == sorted((s for _, s, _ in got), reverse=True)

    allowed = ids[ids % 2 == 0]
    for doc_id, _, details in hybrid.search(vecs[17], ["w17", "alpha"], k=10, allowed=allowed):
        assert doc_id in set(allowed.tolist())
        assert "dense" in details or "bm25" in details

    assert hybrid.remove([117]) == 1
    assert 117 not in [i for i, _, _ in hybrid.search(vecs[17], ["w17"], k=40)]


def test_hybrid_weighs_bm25_by_its_best_chunks_coverage(dense):
    sparse = BM25Index(idf="lucene")
    sparse.add([10, 20, 30, 40], [["disk", "full"], ["disk"], ["quota"], ["full", "quota", "x"]])
    hybrid = HybridIndex(dense, sparse, fusion="zscore:boost=1,coverage=3,coord=0")
    full = hybrid.search(E0, ["disk", "full"], k=4)
    assert full[0][2]["bm25_coverage"] == pytest.approx(1.0)  # chunk 10 holds both words
    assert full[0][2]["dense_weight"] == pytest.approx(0.5)
    # BM25's best chunk holds one of three words: the dense side leads
    part = hybrid.search(E0, ["disk", "unseen", "words"], k=4)
    share = part[0][2]["bm25_coverage"]
    assert 0 < share < 0.5
    assert part[0][2]["dense_weight"] == pytest.approx(1 / (1 + share**3))
    # no BM25 match at all: coverage 0, the dense order stands
    none = hybrid.search(E0, ["nothing"], k=4)
    assert none[0][2]["bm25_coverage"] == 0.0 and [i for i, _, _ in none] == [10, 20, 30, 40]
    # coverage off, or a sparse index that cannot tell: no coverage in the details
    off = HybridIndex(dense, sparse, fusion="zscore:coverage=0").search(E0, ["disk"], k=2)
    assert "bm25_coverage" not in off[0][2]
    scripted = HybridIndex(dense, Scripted([(30, 5.0)])).search(E0, ["q"], k=2)
    assert "bm25_coverage" not in scripted[0][2]


def test_hybrid_weighs_bm25_by_the_query_terms_its_best_chunk_holds(dense):
    sparse = BM25Index(idf="lucene")
    docs = [["disk", "full", "quota"], ["disk"], ["quota"], ["a", "b", "c", "d", "e"]]
    sparse.add([10, 20, 30, 40], docs)
    hybrid = HybridIndex(dense, sparse, fusion="zscore:boost=1,coverage=0,coord=4,coord_power=2")
    every = hybrid.search(E0, ["disk", "full", "quota"], k=4)  # a short query, all held
    assert every[0][2]["bm25_coord"] == 1.0 and every[0][2]["dense_weight"] == pytest.approx(0.5)
    # the best chunk holds one of three words, however rare: the dense side leads
    one = hybrid.search(E0, ["disk", "unseen", "words"], k=4)
    assert one[0][2]["bm25_coord"] == pytest.approx(1 / 3)
    assert one[0][2]["dense_weight"] == pytest.approx(1 / (1 + (1 / 3) ** 2))
    # a long query: holding 4 of its terms is enough (the cap), 2 of them is half
    long = hybrid.search(E0, ["a", "b", "c", "d", "x", "y", "z"], k=4)
    assert long[0][2]["bm25_coord"] == 1.0  # chunk 40, BM25's best, holds a-d
    half = hybrid.search(E0, ["a", "b", "x", "y", "z", "w"], k=4)
    assert half[0][2]["bm25_coord"] == pytest.approx(0.5)
    # no BM25 match: 0 (the weight keeps its 0.01 floor), the dense order stands
    none = hybrid.search(E0, ["nothing"], k=4)
    assert none[0][2]["bm25_coord"] == 0.0 and [i for i, _, _ in none] == [10, 20, 30, 40]
    # off, or a sparse index that cannot tell: nothing in the details
    off = HybridIndex(dense, sparse, fusion="zscore:coord=0").search(E0, ["disk"], k=2)
    assert "bm25_coord" not in off[0][2]
    scripted = HybridIndex(dense, Scripted([(30, 5.0)])).search(E0, ["q"], k=2)
    assert "bm25_coord" not in scripted[0][2]


def test_hybrid_counts_coverage_as_1_when_the_question_words_are_close_together(dense):
    docs = {
        10: ["the", "daemon", "reread", "config", "file", "signal"],
        20: ["daemon", "a", "b", "c", "d", "reread", "e", "f", "g", "h", "config", "i", "file"],
        30: ["quota"],
        40: ["signal", "handler"],
    }
    sparse = BM25Index(idf="lucene")
    sparse.add(list(docs), list(docs.values()))
    terms_of = lambda ids: {i: docs[i] for i in ids if i in docs}  # noqa: E731
    # four words of the text and two framing words no chunk holds: coverage below 1
    query = ["where", "explain", "daemon", "reread", "config", "file"]
    fusion = "zscore:boost=1,coverage=1,coord=0,phrase=0,near=4,near_width=2"
    hit = HybridIndex(dense, sparse, fusion=fusion).search(E0, query, k=4, terms_of=terms_of)
    assert hit[0][2]["bm25_near"] == 1.0 and hit[0][2]["bm25_coverage"] == 1.0
    plain = HybridIndex(dense, sparse, fusion=fusion.replace("near=4", "near=0"))
    without = plain.search(E0, query, k=4, terms_of=terms_of)
    assert "bm25_near" not in without[0][2] and without[0][2]["bm25_coverage"] < 1.0
    # the same words spread over a long run (chunk 20 alone): no raise
    sparse.remove([10])
    spread = HybridIndex(dense, sparse, fusion=fusion).search(E0, query, k=4, terms_of=terms_of)
    assert "bm25_near" not in spread[0][2]
    # without the chunks' terms it cannot tell
    blind = HybridIndex(dense, sparse, fusion=fusion).search(E0, query, k=4)
    assert "bm25_near" not in blind[0][2]
