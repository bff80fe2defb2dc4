"""Tests of FaissIndex: exactness, recall, removal, filters, persistence, crash safety, errors."""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np
import pytest

from lcmem.errors import ConfigError, EmbedderMismatchError, IndexCorruptError, PathNotFoundError
from lcmem.indexers.faiss import FaissIndex, auto_nlist

DIM = 32
KINDS = ["flat", "ivf", "hnsw"]
# ivf with nlist=8 trains once 39 * 8 = 312 vectors are present
KIND_KW = {"flat": {}, "ivf": {"nlist": 8, "nprobe": 4}, "hnsw": {}}


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def clustered(rng: np.random.Generator, n: int, centers: np.ndarray) -> np.ndarray:
    """Unit vectors around a few centres, like real embeddings (uniform data defeats IVF)."""
    pick = rng.integers(0, len(centers), n)
    return unit(centers[pick] + 0.5 * rng.standard_normal((n, centers.shape[1])))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1234)
    centers = rng.standard_normal((40, DIM))
    ids = np.arange(1000, dtype=np.int64) * 3 + 7  # not 0..n-1, to catch id/position mixups
    return ids, clustered(rng, len(ids), centers), clustered(rng, 20, centers)


def brute_force(x: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[list[int]]:
    scores = unit(q) @ unit(x).T
    return [ids[np.argsort(-row, kind="stable")[:k]].tolist() for row in scores]


def build(kind: str, ids: np.ndarray, x: np.ndarray, **kw) -> FaissIndex:
    index = FaissIndex(DIM, kind=kind, **{**KIND_KW[kind], **kw})
    index.add(ids, x)
    return index


def top_ids(results: list[tuple[int, float]]) -> list[int]:
    return [i for i, _ in results]


# ---------------------------------------------------------------- exactness and recall


def test_flat_matches_numpy_brute_force(data):
    ids, x, q = data
    index = build("flat", ids, x * 3.0)  # not normalised on purpose: the index normalises
    got = index.search_many(q, k=10)
    assert [top_ids(r) for r in got] == brute_force(x, ids, q, 10)
    expected_scores = np.sort(unit(q) @ x.T, axis=1)[:, ::-1][:, :10]
    np.testing.assert_allclose([[s for _, s in r] for r in got], expected_scores, atol=1e-5)
    assert top_ids(index.search(q[3], k=10)) == brute_force(x, ids, q[3:4], 10)[0]
    assert top_ids(index.search(q[3:4], k=10)) == top_ids(got[3])


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_recall_at_10(kind):
    rng = np.random.default_rng(7)
    centers = rng.standard_normal((40, DIM))
    x, q = clustered(rng, 3000, centers), clustered(rng, 100, centers)
    ids = np.arange(3000, dtype=np.int64) + 100
    kw = {"nlist": 32, "nprobe": 4} if kind == "ivf" else {}
    index = FaissIndex(DIM, kind=kind, **kw)
    index.add(ids, x)
    assert index.structure == kind
    exact = brute_force(x, ids, q, 10)
    got = index.search_many(q, k=10)
    recall = np.mean([len(set(a) & set(top_ids(b))) / 10 for a, b in zip(exact, got, strict=True)])
    assert recall > 0.9


def test_hnsw_recall_on_uniform_random_vectors():
    rng = np.random.default_rng(3)
    x, q = unit(rng.standard_normal((2000, DIM))), unit(rng.standard_normal((50, DIM)))
    ids = np.arange(2000, dtype=np.int64)
    index = FaissIndex(DIM, kind="hnsw")
    index.add(ids, x)
    got = index.search_many(q, k=10)
    exact = brute_force(x, ids, q, 10)
    recall = np.mean([len(set(a) & set(top_ids(b))) / 10 for a, b in zip(exact, got, strict=True)])
    assert recall > 0.9


def test_ivf_stays_flat_until_enough_vectors_then_trains(data):
    ids, x, q = data
    index = FaissIndex(DIM, kind="ivf", nlist=8)
    index.add(ids[:300], x[:300])
    assert index.structure == "flat" and index.nlist is None
    assert top_ids(index.search(q[0], k=5)) == brute_force(x[:300], ids[:300], q[:1], 5)[0]
    index.add(ids[300:400], x[300:400])  # 400 >= 39 * 8
    assert index.structure == "ivf" and index.nlist == 8
    assert len(index) == 400
    np.testing.assert_array_equal(index.ids(), np.sort(ids[:400]))
    np.testing.assert_allclose(index.vectors(ids[:3]), x[:3], atol=1e-6)


def test_auto_nlist_training_threshold():
    assert auto_nlist(40_000) == 800
    index = FaissIndex(4, kind="ivf")
    rng = np.random.default_rng(0)
    index.add(np.arange(2000), unit(rng.standard_normal((2000, 4))))
    assert index.structure == "flat"  # 2000 < 39 * 4 * sqrt(2000)


# ---------------------------------------------------------------- remove


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mmap", [True, False])
def test_removed_ids_never_returned_even_after_reload(kind, mmap, data, tmp_path):
    ids, x, _ = data
    index = build(kind, ids, x)
    gone = ids[::10]
    assert index.remove(np.concatenate([gone, [999_999]])) == len(gone)
    assert index.remove(gone) == 0
    assert len(index) == len(ids) - len(gone)
    np.testing.assert_array_equal(index.ids(), np.setdiff1d(ids, gone))
    if kind == "hnsw":
        assert index.tombstones == len(gone)  # 10% < the 20% rebuild threshold
    # query with the removed vectors themselves: they would be the top hit if still there
    for idx in (index, _reload(index, tmp_path, mmap)):
        for row in idx.search_many(x[::10], k=20):
            assert not set(top_ids(row)) & set(gone.tolist())
            assert len(row) == 20
        assert len(idx) == len(ids) - len(gone)


def _reload(index: FaissIndex, tmp_path: Path, mmap: bool) -> FaissIndex:
    path = tmp_path / "faiss.index"
    index.save(path)
    return FaissIndex.load(path, mmap=mmap)


def test_hnsw_tombstones_are_filtered_by_the_faiss_search_itself(data, monkeypatch):
    ids, x, _ = data
    index = build("hnsw", ids, x)
    index.remove(ids[:100])
    monkeypatch.setattr(index, "_exact", no_exact_fallback)
    for row in index.search_many(x[:100], k=10):
        assert len(row) == 10 and not set(top_ids(row)) & set(ids[:100].tolist())


def test_hnsw_rebuilds_once_tombstones_exceed_fraction(data):
    ids, x, q = data
    index = build("hnsw", ids, x, tombstone_fraction=0.2)
    index.remove(ids[:150])
    assert index.tombstones == 150
    index.remove(ids[150:250])  # 250 / 1000 > 0.2
    assert index.tombstones == 0
    assert len(index) == 750
    assert top_ids(index.search(q[0], k=10)) == brute_force(x[250:], ids[250:], q[:1], 10)[0]


@pytest.mark.parametrize("kind", KINDS)
def test_readd_after_remove_uses_the_new_vector(kind, data):
    ids, x, _ = data
    index = build(kind, ids, x)
    target = int(ids[5])
    index.remove([target])
    new = -x[5:6]
    index.add([target], new)
    hits = index.search(new[0], k=len(ids))
    assert top_ids(hits).count(target) == 1
    assert hits[0][0] == target and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(index.vectors([target]), new, atol=1e-6)


def test_ivf_rebuild_returns_to_flat_when_too_small(data):
    ids, x, q = data
    index = build("ivf", ids, x)
    index.remove(ids[100:])
    index.rebuild()
    assert index.structure == "flat"
    assert top_ids(index.search(q[0], k=5)) == brute_force(x[:100], ids[:100], q[:1], 5)[0]


# ---------------------------------------------------------------- allowed filter


@pytest.mark.parametrize("kind", KINDS)
def test_allowed_small_set_is_exact(kind, data):
    ids, x, q = data
    index = build(kind, ids, x)
    rng = np.random.default_rng(5)
    allowed = rng.choice(ids, 30, replace=False)
    sub = np.isin(ids, allowed)
    for qi, row in zip(q, index.search_many(q, k=10, allowed=allowed), strict=True):
        assert top_ids(row) == brute_force(x[sub], ids[sub], qi[None], 10)[0]
    # ids not in the index are ignored; nothing allowed -> nothing returned
    assert top_ids(index.search(q[0], k=3, allowed=[123_456, int(ids[0])])) == [int(ids[0])]
    assert index.search(q[0], k=3, allowed=np.array([], dtype=np.int64)) == []


def no_exact_fallback(*args, **kwargs):
    raise AssertionError("the FAISS search alone should have answered")


@pytest.mark.parametrize("kind", KINDS)
def test_allowed_through_faiss_selector(kind, data, monkeypatch):
    ids, x, q = data
    index = build(kind, ids, x, exact_filter_max=0)  # force the IDSelector path
    monkeypatch.setattr(index, "_exact", no_exact_fallback)
    allowed = ids[ids % 2 == 1]
    for row in index.search_many(q, k=10, allowed=allowed):
        assert len(row) == 10
        assert set(top_ids(row)) <= set(allowed.tolist())
    if kind == "hnsw":  # filter and tombstones together
        index.remove(allowed[:50])
        rows = index.search_many(x[ids % 2 == 1][:50], k=10, allowed=allowed)
        for row in rows:
            assert set(top_ids(row)) <= set(allowed[50:].tolist())


def test_allowed_with_few_matches_in_probed_lists_falls_back_to_exact(data):
    ids, x, q = data
    # nprobe=1: most allowed ids sit in lists the query does not probe
    index = build("ivf", ids, x, nprobe=1, exact_filter_max=0)
    allowed = ids[::25]
    sub = np.isin(ids, allowed)
    for qi, row in zip(q, index.search_many(q, k=10, allowed=allowed), strict=True):
        assert top_ids(row) == brute_force(x[sub], ids[sub], qi[None], 10)[0]


# ---------------------------------------------------------------- persistence


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_mmap_then_mutate(kind, data, tmp_path):
    ids, x, q = data
    index = build(kind, ids[:900], x[:900])
    path = tmp_path / "lib" / "faiss.index"
    index.save(path)
    before = path.read_bytes()
    loaded = FaissIndex.load(path, mmap=True)
    assert loaded.mmapped and loaded.kind == kind and loaded.structure == index.structure
    assert loaded.search_many(q, k=10) == index.search_many(q, k=10)
    loaded.add(ids[900:], x[900:])
    assert not loaded.mmapped
    assert path.read_bytes() == before  # the mapped file is never written through
    assert loaded.remove(ids[:10]) == 10
    hit = loaded.search(x[950], k=1)[0]
    assert hit[0] == ids[950]
    loaded.save(path)
    again = FaissIndex.load(path, mmap=True)
    assert len(again) == len(ids) - 10
    assert again.search_many(q, k=10) == loaded.search_many(q, k=10)


@pytest.mark.parametrize("kind", KINDS)
def test_mmap_loaded_index_saved_elsewhere_is_self_contained(kind, data, tmp_path):
    ids, x, q = data
    build(kind, ids, x).save(tmp_path / "a.index")
    loaded = FaissIndex.load(tmp_path / "a.index", mmap=True)
    expected = loaded.search_many(q, k=5)
    loaded.save(tmp_path / "b.index")
    os.remove(tmp_path / "a.index")
    assert FaissIndex.load(tmp_path / "b.index", mmap=False).search_many(q, k=5) == expected


def test_parameters_survive_a_round_trip(tmp_path):
    index = FaissIndex(DIM, kind="hnsw", hnsw_m=8, ef_search=20, tombstone_fraction=0.5)
    index.save(tmp_path / "f.index")
    loaded = FaissIndex.load(tmp_path / "f.index")
    assert (loaded.dim, loaded.kind, len(loaded)) == (DIM, "hnsw", 0)
    assert loaded._ef_search == 20 and loaded._tombstone_fraction == 0.5


def test_failed_save_leaves_previous_file(data, tmp_path, monkeypatch):
    ids, x, _ = data
    path = tmp_path / "faiss.index"
    build("flat", ids[:10], x[:10]).save(path)
    before = path.read_bytes()

    def half_write(index, name):
        Path(name).write_bytes(b"IxMp partial garbage")
        raise RuntimeError("disk full")

    monkeypatch.setattr(faiss, "write_index", half_write)
    with pytest.raises(RuntimeError, match="disk full"):
        build("flat", ids, x).save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faiss.index"]  # no temporary left
    monkeypatch.undo()
    assert len(FaissIndex.load(path)) == 10


# ---------------------------------------------------------------- damaged files


@pytest.fixture()
def saved(data, tmp_path) -> Path:
    ids, x, _ = data
    path = tmp_path / "faiss.index"
    build("hnsw", ids[:200], x[:200]).save(path)
    return path


@pytest.mark.parametrize(
    "damage",
    ["truncate", "flip_data", "flip_header", "garbage", "empty", "future_version"],
)
def test_damaged_file_raises_index_corrupt(saved, damage):
    raw = bytearray(saved.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip_data":
        raw[len(raw) // 3] ^= 0xFF
    elif damage == "flip_header":
        raw[-40] ^= 0xFF
    elif damage == "garbage":
        raw = bytearray(os.urandom(5000))
    elif damage == "empty":
        raw = bytearray()
    else:
        raw[-16:-12] = (99).to_bytes(4, "little")
    saved.write_bytes(bytes(raw))
    with pytest.raises(IndexCorruptError):
        FaissIndex.load(saved)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(PathNotFoundError, match="no FAISS index"):
        FaissIndex.load(tmp_path / "nope.index")


# ---------------------------------------------------------------- misuse


def test_dimension_mismatch_is_embedder_mismatch(data):
    ids, x, _ = data
    index = build("flat", ids[:5], x[:5])
    with pytest.raises(EmbedderMismatchError, match=r"dimension 16 .* 32-dimensional"):
        index.add([1], np.ones((1, 16), np.float32))
    with pytest.raises(EmbedderMismatchError):
        index.search(np.ones(16, np.float32))
    with pytest.raises(EmbedderMismatchError):
        index.search_many(np.ones((2, 64), np.float32))


def test_bad_adds_are_clear_errors(data):
    ids, x, _ = data
    index = build("flat", ids[:5], x[:5])
    with pytest.raises(ValueError, match="already in the index"):
        index.add(ids[4:6], x[4:6])
    with pytest.raises(ValueError, match="duplicate ids"):
        index.add([1, 1], x[:2])
    with pytest.raises(ValueError, match="2 ids but 3 vectors"):
        index.add([1, 2], x[:3])
    with pytest.raises(ValueError, match=">= 0"):
        index.add([-5], x[:1])
    with pytest.raises(ValueError, match="NaN"):
        index.add([1], np.full((1, DIM), np.nan, np.float32))
    with pytest.raises(ValueError, match="integers"):
        index.add([1.5], x[:1])
    with pytest.raises(ValueError, match="search_many"):
        index.search(x[:2])
    with pytest.raises(KeyError):
        index.vectors([123_456])
    assert len(index) == 5  # nothing half-added


@pytest.mark.parametrize(
    "kw", [{"kind": "pq"}, {"dim": 0}, {"nlist": 0}, {"tombstone_fraction": 0}, {"nprobe": 0}]
)
def test_bad_settings_are_config_errors(kw):
    with pytest.raises(ConfigError):
        FaissIndex(**{"dim": 8, **kw})


@pytest.mark.parametrize("kind", KINDS)
def test_empty_index_and_edge_queries(kind):
    index = FaissIndex(DIM, kind=kind)
    assert index.search(np.ones(DIM, np.float32), k=5) == []
    assert len(index) == 0 and index.ids().dtype == np.int64
    index.add([], np.empty((0, DIM), np.float32))
    index.add([3], np.ones((1, DIM), np.float32))
    assert index.search(np.ones(DIM, np.float32), k=0) == []
    assert top_ids(index.search(np.ones(DIM, np.float32), k=5)) == [3]
