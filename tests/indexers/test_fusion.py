"""Tests of the fusion functions, the Fusion setting and query hints (no model, no index)."""

from __future__ import annotations

import numpy as np
import pytest

from lcmem.errors import ConfigError
from lcmem.indexers.fusion import (
    DEFAULT_FUSION,
    Fusion,
    coord_share,
    coverage_weights,
    fuse,
    normalize,
)
from lcmem.indexers.hybrid import rrf_fuse
from lcmem.indexers.query import fusion_weights, query_hints

# Dense cosines are flat (no clear winner); one chunk, 40, alone holds the query's rare words.
DENSE = [(i, 0.62 - 0.002 * i) for i in range(1, 41)]
SPARSE = [(40, 30.0)] + [(i, 6.0 - 0.05 * i) for i in range(1, 39)] + [(99, 4.0)]


def test_normalize_each_method():
    s = np.array([4.0, 2.0, 0.0])
    assert normalize(s, "minmax")[0].tolist() == [1.0, 0.5, 0.0]
    z, missing = normalize(s, "zscore")
    assert z.mean() == pytest.approx(0.0) and z.std() == pytest.approx(1.0)
    assert missing == pytest.approx(z.min())
    assert normalize(s, "tmm")[0].tolist() == [1.0, 0.5, 0.0]
    assert normalize(np.array([3.0, 3.0]), "zscore")[0].tolist() == [0.0, 0.0]
    assert normalize(np.array([3.0, 3.0]), "minmax")[0].tolist() == [1.0, 1.0]
    assert normalize(np.array([]), "zscore")[0].size == 0
    with pytest.raises(ConfigError):
        normalize(s, "softmax")


def test_score_aware_fusion_keeps_a_clear_bm25_winner_that_rrf_loses():
    top_rrf = rrf_fuse([DENSE, SPARSE], k=1)[0][0]
    assert top_rrf == 1  # rank 1 in dense and 2 in BM25 beats rank 40 and 1
    for method in ("zscore", "tmm"):
        fused, _ = fuse([DENSE, SPARSE], 3, Fusion(method, dense=0.5))
        assert fused[0][0] == 40, method
    # min-max stretches the flat dense list to [0, 1]: its noise outweighs the clear winner
    assert fuse([DENSE, SPARSE], 3, Fusion("minmax", dense=0.5))[0][0][0] == 1


def test_fuse_contributions_add_up_and_missing_items_get_the_floor():
    fused, parts = fuse([DENSE, SPARSE], 10, Fusion("zscore", dense=0.3))
    for doc_id, score in fused:
        assert parts[0][doc_id] + parts[1][doc_id] == pytest.approx(score)
    # 99 is not in the dense list: without completion it gets the list's lowest normalised
    # value (min-max: 0; z-scores below the mean count as 0)
    fused, parts = fuse([DENSE, SPARSE], 50, Fusion("zscore", dense=0.3, complete=False))
    assert parts[0][99] == 0.0
    fused, parts = fuse([DENSE, SPARSE], 50, Fusion("minmax", dense=0.3), absent=[None, 2.0])
    assert parts[0][99] == 0.0
    # an id in no BM25 list gets the normalised value of the given absent raw score
    lo, hi = 4.0, 30.0
    assert parts[1][2] == pytest.approx(0.7 * (SPARSE[2][1] - lo) / (hi - lo))
    _, parts = fuse([DENSE, [(40, 30.0), (1, 4.0)]], 50, Fusion("minmax"), absent=[None, 2.0])
    assert parts[1][2] == pytest.approx(0.5 * (2.0 - 4.0) / 26.0)
    assert [s for _, s in fused] == sorted((s for _, s in fused), reverse=True)


def test_fuse_rrf_matches_rrf_fuse_and_ties_break_by_id():
    fused, _ = fuse([DENSE, SPARSE], 10, Fusion("rrf", dense=0.5, rrf_k=60))
    want = rrf_fuse([DENSE, SPARSE], k=10, weights=(0.5, 0.5))
    assert [i for i, _ in fused] == [i for i, _ in want]
    assert [s for _, s in fused] == pytest.approx([s for _, s in want])
    tie, _ = fuse([[(9, 1.0)], [(3, 1.0)]], 2, Fusion("rrf", dense=0.5))
    assert [i for i, _ in tie] == [3, 9]


def test_fuse_edge_cases():
    assert fuse([DENSE, SPARSE], 0, DEFAULT_FUSION)[0] == []
    assert fuse([[], []], 5, DEFAULT_FUSION)[0] == []
    one, _ = fuse([DENSE], 2, DEFAULT_FUSION)  # one list: weight 1
    assert [i for i, _ in one] == [1, 2]
    dup, _ = fuse([[(1, 0.9), (1, 0.1), (2, 0.5)], []], 2, Fusion("minmax"))
    assert [i for i, _ in dup] == [1, 2]
    with pytest.raises(ConfigError, match="2 fusion weights for 1"):
        fuse([DENSE], 2, DEFAULT_FUSION, weights=(0.5, 0.5))


def test_fusion_parse_and_round_trip():
    assert Fusion.parse(None) == DEFAULT_FUSION
    f = Fusion.parse("rrf:k=20,dense=0.3,candidates=80")
    assert (f.method, f.rrf_k, f.dense, f.candidates) == ("rrf", 20, 0.3, 80)
    assert Fusion.parse(str(f)) == replace_candidates(f, Fusion.parse("rrf").candidates)
    assert Fusion.from_dict(f.to_dict()) == f
    # keys left out come from the base when it has the same method
    base = Fusion("zscore", dense=0.35, boost=3.0)
    assert Fusion.parse("zscore:boost=1", base=base) == Fusion("zscore", dense=0.35, boost=1.0)
    assert Fusion.parse("minmax", base=base).dense == Fusion.parse("minmax").dense
    for bad in ("max", "rrf:k", "rrf:q=1", "zscore:dense=x", "zscore:dense=2", "rrf:k=-1"):
        with pytest.raises(ConfigError):
            Fusion.parse(bad)
    with pytest.raises(ConfigError):
        Fusion.from_dict({"method": "rrf", "colour": 1})
    with pytest.raises(ConfigError):
        Fusion("zscore", boost=0.5)


def replace_candidates(f: Fusion, n: int) -> Fusion:
    from dataclasses import replace

    return replace(f, candidates=n)


@pytest.mark.parametrize(
    ("query", "quoted", "identifiers", "names"),
    [
        ("What is the pass key for Marisa Veltran?", [], [], ["Marisa", "Veltran"]),
        ("list directory contents", [], [], []),
        ('find "exact phrase here" please', ["exact phrase here"], [], []),
        ("\u201ccurly quoted\u201d and `ticks`", ["curly quoted", "ticks"], [], []),
        ("error E1234 in parse_header", [], ["E1234", "parse_header"], []),
        ("HTTPServer and parseHeader", [], ["HTTPServer", "parseHeader"], []),
        ("os.path.join or std::vector", [], ["os.path.join", "std::vector"], []),
        ("kill with SIGTERM, exit 137", [], ["SIGTERM", "137"], []),
        ("use --dry-run to check", [], ["--dry-run"], []),
        ("The NASA rover", [], ["NASA"], []),
        # names: capitalised words inside a sentence, not at its start, not all capitals
        ("Which badge was issued to Fenna O'Brien?", [], [], ["Fenna", "O'Brien"]),
        ("Return the list. Then sort it", [], [], []),
        ("What color was the gate of Lisbon painted?", [], [], ["Lisbon"]),
        ("Émile? Zola wrote it", [], [], []),
        ("how does (Python) handle it", [], [], ["Python"]),
    ],
)
def test_query_hints(query, quoted, identifiers, names):
    hints = query_hints(query)
    assert hints.quoted == quoted
    assert hints.identifiers == identifiers
    assert hints.names == names
    assert bool(hints) == bool(quoted or identifiers or names)


def test_fusion_weights_boost_only_with_hints():
    f = Fusion("zscore", dense=0.5, boost=3.0)
    assert fusion_weights(f, "plain words here")[0] == (0.5, 0.5)
    assert fusion_weights(f, None)[0] == (0.5, 0.5)
    (wd, ws), hints = fusion_weights(f, 'the "pass key" of doc42')
    assert (wd, ws) == pytest.approx((0.25, 0.75)) and hints.quoted == ["pass key"]
    assert fusion_weights(Fusion("zscore", dense=0.5, boost=1.0), "doc42")[0] == (0.5, 0.5)


# ---------------------------------------------------------------- BM25 coverage weights


def test_coverage_weights_scale_the_sparse_side_and_sum_to_one():
    f = Fusion("zscore", dense=0.5, coverage=3.0)
    assert coverage_weights([0.5, 0.5], 1.0, f) == [0.5, 0.5]
    assert coverage_weights([0.5, 0.5], None, f) == [0.5, 0.5]  # the index cannot tell
    assert coverage_weights([0.5, 0.5], 0.2, Fusion(coverage=0.0)) == [0.5, 0.5]
    wd, ws = coverage_weights([0.5, 0.5], 0.5, f)
    assert ws / wd == pytest.approx(0.125) and wd + ws == pytest.approx(1.0)
    # no match at all: the 0.01 floor keeps the weight positive
    wd, ws = coverage_weights([0.5, 0.5], 0.0, f)
    assert 0 < ws < 1e-5 and wd + ws == pytest.approx(1.0)
    # lower coverage never raises the BM25 weight
    shares = [0.0, 0.1, 0.3, 0.6, 0.9, 1.0]
    sparse = [coverage_weights([0.3, 0.7], s, f)[1] for s in shares]
    assert sparse == sorted(sparse)


def test_fusion_coverage_setting_parse_and_old_manifests():
    assert DEFAULT_FUSION.coverage == 1.0 and DEFAULT_FUSION.adaptive == 0.0
    # a library recorded with round 3's exponent keeps it
    round3 = {**DEFAULT_FUSION.to_dict(), "coverage": 3.0}
    assert Fusion.from_dict(round3).coverage == 3.0
    assert Fusion.parse("zscore:coverage=2").coverage == 2.0
    assert Fusion.parse(str(DEFAULT_FUSION)) == DEFAULT_FUSION
    with pytest.raises(ConfigError, match="coverage"):
        Fusion.parse("zscore:coverage=-1")
    # a setting recorded before ``coverage`` existed fused without it
    old = {k: v for k, v in DEFAULT_FUSION.to_dict().items() if k != "coverage"}
    assert Fusion.from_dict(old).coverage == 0.0
    # the presets other than the default keep their first-round settings
    assert Fusion.parse("rrf").coverage == 0.0 and Fusion.parse("rrf").boost == 1.0


@pytest.mark.parametrize("method", ["rrf", "minmax", "zscore", "tmm"])
def test_fusing_a_list_with_itself_keeps_its_order(method):
    ranked = [(7, 9.0), (3, 6.5), (12, 6.4), (1, 2.0), (5, 1.5), (9, 0.5)]
    for weights in ([0.5, 0.5], [0.9, 0.1], [0.02, 0.98]):
        fused, _ = fuse([ranked, ranked], 6, Fusion(method), weights=weights)
        ids = [i for i, _ in fused]
        if method == "zscore":
            # items above the list's mean keep their order; those below count 0 (ties: by id)
            scores = np.array([s for _, s in ranked])
            above = [i for i, s in ranked if s > scores.mean()]
            assert ids[: len(above)] == above
            assert ids[len(above) :] == sorted(i for i, s in ranked if s <= scores.mean())
        else:
            assert ids == [i for i, _ in ranked], (method, weights)


def test_default_weights_follow_coverage_and_hints_end_to_end():
    # the chain HybridIndex.search runs: boost for hints, then BM25 coverage
    (wd, ws), hints = fusion_weights(DEFAULT_FUSION, "which badge was issued to Fenna Petrakis?")
    assert hints.names == ["Fenna", "Petrakis"] and ws / wd == pytest.approx(8.0)
    full = coverage_weights([wd, ws], 1.0, DEFAULT_FUSION)
    part = coverage_weights([wd, ws], 0.6, DEFAULT_FUSION)
    assert full[1] > part[1] > 0.5  # a name query still leans on BM25 at 0.6 coverage
    (wd, ws), _ = fusion_weights(DEFAULT_FUSION, "enumerate folder")
    assert (wd, ws) == (0.5, 0.5)
    assert coverage_weights([wd, ws], 0.4, DEFAULT_FUSION)[0] > 0.7  # worded unlike the text
    # BM25's best chunk lacking a question's framing words (coverage 0.6): BM25 keeps a say
    assert 0.3 < coverage_weights([wd, ws], 0.6, DEFAULT_FUSION)[1] < 0.5


# ---------------------------------------------------------------- coordination (round 5)


def test_coord_share_counts_held_terms_up_to_the_cap():
    assert coord_share(1, 3, 4) == pytest.approx(1 / 3)  # one word of a three-word query
    assert coord_share(3, 3, 4) == 1.0  # every word of a short query
    assert coord_share(4, 9, 4) == 1.0 and coord_share(2, 9, 4) == 0.5  # long: up to 4
    assert coord_share(0, 0, 4) == 1.0  # no terms: nothing to say
    assert coord_share(0, 5, 4) == 0.0


def test_coverage_weights_with_coord():
    f = Fusion(coverage=0.0, coord=4, coord_power=2.0)
    assert coverage_weights([0.5, 0.5], None, f, coord=1.0) == [0.5, 0.5]
    wd, ws = coverage_weights([0.5, 0.5], None, f, coord=0.5)
    assert ws / wd == pytest.approx(0.25) and wd + ws == pytest.approx(1.0)
    # both factors multiply
    wd, ws = coverage_weights([0.5, 0.5], 0.5, Fusion(coverage=1.0, coord_power=2), coord=0.5)
    assert ws / wd == pytest.approx(0.5 * 0.25)
    # coord 0 (off) or unknown: no change
    assert coverage_weights([0.5, 0.5], None, Fusion(coord=0), coord=0.1) == [0.5, 0.5]
    assert coverage_weights([0.5, 0.5], None, Fusion(coverage=0.0), coord=None) == [0.5, 0.5]


def test_fusion_coord_setting_parse_and_old_manifests():
    assert (DEFAULT_FUSION.coord, DEFAULT_FUSION.coord_power) == (3, 1.0)
    f = Fusion.parse("zscore:coord=3,coord_power=1")
    assert (f.coord, f.coord_power) == (3, 1.0)
    assert Fusion.parse(str(f)) == f and Fusion.from_dict(f.to_dict()) == f
    rrf = Fusion.parse("rrf:coord=4")
    assert rrf.coord == 4 and Fusion.parse(str(rrf)) == rrf
    for bad in ("zscore:coord=-1", "zscore:coord=x", "zscore:coord_power=-2"):
        with pytest.raises(ConfigError, match="coord"):
            Fusion.parse(bad)
    # a setting recorded before ``coord`` existed (round 4) fused without it
    old = {k: v for k, v in DEFAULT_FUSION.to_dict().items() if k not in ("coord", "coord_power")}
    assert Fusion.from_dict(old).coord == 0
    assert Fusion.parse("rrf").coord == 0 and Fusion.parse("minmax").coord == 0


# ---------------------------------------------------------------- near (round 5e)


def test_fusion_near_setting_parse_and_old_manifests():
    assert (DEFAULT_FUSION.near, DEFAULT_FUSION.near_width) == (4, 2.0)
    f = Fusion.parse("zscore:near=5,near_width=3")
    assert (f.near, f.near_width) == (5, 3.0)
    assert Fusion.parse(str(f)) == f and Fusion.from_dict(f.to_dict()) == f
    for bad in ("zscore:near=-1", "zscore:near=x", "zscore:near_width=0.5"):
        with pytest.raises(ConfigError, match="near"):
            Fusion.parse(bad)
    # a setting recorded before ``near`` existed (round 5b) fused without it
    old = {k: v for k, v in DEFAULT_FUSION.to_dict().items() if k not in ("near", "near_width")}
    assert Fusion.from_dict(old).near == 0
    assert Fusion.parse("rrf").near == 0 and Fusion.parse("tmm").near == 0
