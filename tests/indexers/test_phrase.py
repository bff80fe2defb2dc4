"""Tests of phrase evidence (lcmem.indexers.phrase) and its use in HybridIndex (real indices)."""

from __future__ import annotations

import numpy as np
import pytest

from lcmem.errors import ConfigError
from lcmem.indexers.analyzer import Analyzer
from lcmem.indexers.bm25 import BM25Index
from lcmem.indexers.faiss import FaissIndex
from lcmem.indexers.fusion import DEFAULT_FUSION, Fusion
from lcmem.indexers.hybrid import HybridIndex
from lcmem.indexers.phrase import PHRASE_DEPTH, pair_share, phrase_rescore, query_pairs


def test_query_pairs_skip_repeats_and_short_queries():
    assert query_pairs(["a"]) == set()
    assert query_pairs([]) == set()
    assert query_pairs(["a", "a", "b"]) == {("a", "b")}
    assert query_pairs(["x", "y", "z"]) == {("x", "y"), ("y", "z")}


def test_pair_share_counts_adjacent_pairs_in_query_order():
    q = ["fenna", "petraki"]
    assert pair_share(q, ["badg", "issu", "fenna", "petraki", "archiv"]) == 1.0
    assert pair_share(q, ["fenna", "okafor", "petraki"]) == 0.0  # both words, not side by side
    assert pair_share(q, ["petraki", "fenna"]) == 0.0  # reversed order is another phrase
    assert pair_share(["one"], ["one", "two"]) == 0.0
    # a pair found twice counts once: the share never exceeds 1
    assert pair_share(["a", "b", "c"], ["a", "b", "x", "a", "b"]) == 0.5


def test_phrase_rescore_reorders_and_leaves_others():
    got = phrase_rescore([(1, 10.0), (2, 9.0), (3, 8.0)], {2: 1.0, 3: 0.0}, 0.5)
    assert got == [(2, 13.5), (1, 10.0), (3, 8.0)]
    assert phrase_rescore([(5, 2.0), (4, 2.0)], {}, 3.0) == [(4, 2.0), (5, 2.0)]  # ties by id
    # a negative score (Okapi idf in a tiny corpus) rises with the evidence too
    assert phrase_rescore([(1, -1.0), (2, -1.0)], {2: 0.5}, 2.0) == [(2, 0.0), (1, -1.0)]


def test_fusion_phrase_setting_parse_and_old_manifests():
    assert Fusion.parse("zscore:phrase=2").phrase == 2.0
    assert "phrase=" in str(Fusion.parse("zscore:phrase=2"))
    assert Fusion.parse(str(DEFAULT_FUSION)) == DEFAULT_FUSION
    with pytest.raises(ConfigError, match="phrase"):
        Fusion.parse("zscore:phrase=-1")
    # a setting recorded before ``phrase`` existed fused without it
    old = {k: v for k, v in DEFAULT_FUSION.to_dict().items() if k != "phrase"}
    assert Fusion.from_dict(old).phrase == 0.0
    assert Fusion.parse("rrf").phrase == 0.0  # RRF keeps its first-round meaning
    rrf = Fusion.parse("rrf:phrase=2")
    assert Fusion.parse(str(rrf)) == rrf
    assert str(Fusion.parse("rrf")) == "rrf:k=60,dense=0.5,boost=1"
    assert DEFAULT_FUSION.phrase == 5.0 and DEFAULT_FUSION.boost == 8.0  # chosen on dev, round 3


@pytest.fixture()
def lookup() -> tuple[HybridIndex, Analyzer, dict[int, list[str]]]:
    """Three chunks of near-identical words: only chunk 3 holds "old gate of Lisbon" in order."""
    analyzer = Analyzer()
    texts = {
        1: "The north gate of Lisbon was painted teal. The old tower stood by.",
        2: "The old gate of Porto was painted navy, near Lisbon harbour.",
        3: "Long ago the old gate of Lisbon was painted crimson by the guild.",
    }
    filler = ["ships leave the harbour at dawn", "a tram runs by the river", "bread and fish"] * 3
    texts |= {10 + n: t for n, t in enumerate(filler)}  # so that no query word is everywhere
    terms = {i: analyzer(t) for i, t in texts.items()}
    sparse = BM25Index(idf="lucene", b=0.5, length_floor=0.5)
    sparse.add(list(terms), list(terms.values()))
    dense = FaissIndex(dim=2)  # the dense side prefers the decoys
    vecs = [[1.0, 0.0], [0.9, 0.44], [0.0, 1.0]] + [[-1.0, 0.0]] * len(filler)
    dense.add(list(texts), np.array(vecs, np.float32))
    return HybridIndex(dense, sparse, fusion="zscore:phrase=3"), analyzer, terms


def test_hybrid_phrase_evidence_ranks_the_whole_phrase_first(lookup):
    hybrid, analyzer, terms = lookup
    query = "What color was the old gate of Lisbon painted?"
    q = analyzer(query)
    plain = hybrid.sparse.search(q, 6)
    assert plain[0][0] != 3  # bag of words alone puts a decoy first

    def terms_of(ids: list[int]) -> dict[int, list[str]]:
        return {i: terms[i] for i in ids}

    e0 = np.array([1.0, 0.0], np.float32)
    got = hybrid.search(e0, q, k=3, text=query, terms_of=terms_of)
    assert got[0][0] == 3
    top = got[0][2]
    assert top["bm25_phrase"] == pytest.approx(pair_share(q, terms[3]))
    assert top["bm25"] == pytest.approx(dict(plain)[3])  # the raw BM25 score, not the raised one
    # without the chunks' terms, or with phrase evidence off, nothing changes
    bare = hybrid.search(e0, q, k=3, text=query)
    assert all("bm25_phrase" not in d for _, _, d in bare)
    off = HybridIndex(hybrid.dense, hybrid.sparse, fusion="zscore:phrase=0")
    assert [i for i, _, _ in off.search(e0, q, k=3, text=query, terms_of=terms_of)] == [
        i for i, _, _ in bare
    ]


def test_hybrid_phrase_asks_only_for_the_head_and_skips_one_word_queries(lookup):
    hybrid, analyzer, terms = lookup
    asked: list[list[int]] = []

    def terms_of(ids: list[int]) -> dict[int, list[str]]:
        asked.append(list(ids))
        return {i: terms[i] for i in ids}

    e0 = np.array([1.0, 0.0], np.float32)
    hybrid.search(e0, analyzer("Lisbon"), k=3, text="Lisbon", terms_of=terms_of)
    assert asked == []  # one term: no pairs to look for
    hybrid.search(e0, analyzer("gate of Lisbon"), k=3, terms_of=terms_of)
    assert len(asked) == 1 and 0 < len(asked[0]) <= PHRASE_DEPTH


def test_min_window_is_the_shortest_run_holding_every_held_query_term():
    from lcmem.indexers.phrase import min_window

    assert min_window(["a", "b", "c"], ["a", "x", "b", "x", "x", "a", "b"]) == (2, 2)
    assert min_window(["a", "b"], ["x", "y"]) == (0, 0)
    assert min_window(["a"], ["x", "a"]) == (1, 1)
    assert min_window(["a", "b", "a"], ["b", "y", "y", "a"]) == (2, 4)  # repeats count once
