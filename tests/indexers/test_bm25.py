"""BM25Index against rank-bm25 0.2.2 itself: same scores, incremental updates, persistence."""

from __future__ import annotations

import hashlib
import inspect
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import rank_bm25
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lcmem.errors import ConfigError, IndexCorruptError
from lcmem.indexers import bm25 as bm25_module
from lcmem.indexers.analyzer import Analyzer
from lcmem.indexers.bm25 import BM25Index
from lcmem.indexers.bm25_vocab import MappedVocabulary

REFERENCE = {"okapi": rank_bm25.BM25Okapi, "plus": rank_bm25.BM25Plus, "l": rank_bm25.BM25L}
VARIANTS = list(REFERENCE)
BACKENDS = ["numpy", "numba"]
ATOL = 1e-9
NUMBA = "needs numba, the optional compiled BM25 kernel (in lcmem[dev]): pip install numba"


def test_reference_is_rank_bm25_0_2_2() -> None:
    # BM25L of later rank-bm25 code differs (no tf factor); these tests pin 0.2.2's formulas.
    source = inspect.getsource(rank_bm25.BM25L.get_scores)
    assert "q_freq * (self.k1 + 1)" in source


def backend_param(backend: str) -> str:
    if backend == "numba":
        pytest.importorskip("numba", reason=NUMBA)
    return backend


def reference(
    variant: str, docs: list[list[str]], index: BM25Index | None = None
) -> rank_bm25.BM25:
    """rank-bm25's model of ``docs``, with ``index``'s parameters when given."""
    if index is None:
        return REFERENCE[variant](docs)
    p = index.params()
    extra = {"epsilon": p["epsilon"]} if variant == "okapi" else {"delta": p["delta"]}
    return REFERENCE[variant](docs, k1=p["k1"], b=p["b"], **extra)


def brute_top(
    ref_scores: np.ndarray,
    ids: list[int],
    docs: list[list[str]],
    query: list[str],
    k: int,
    allowed: set[int] | None = None,
) -> list[tuple[int, float]]:
    """Top k by rank-bm25 score among documents sharing a term with the query; ties: lower id."""
    terms = set(query)
    cands = [
        (i, float(s))
        for i, doc, s in zip(ids, docs, ref_scores, strict=True)
        if terms & set(doc) and (allowed is None or i in allowed)
    ]
    cands.sort(key=lambda x: (-x[1], x[0]))
    return cands[:k]


def assert_same_top(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert len(got) == len(want)
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=0, atol=ATOL)
    scores = [s for _, s in want]
    gaps = np.diff(scores) if len(scores) > 1 else np.array([])
    if np.all((gaps == 0) | (np.abs(gaps) > 1e-7)):  # no near-ties that rounding could flip
        assert [i for i, _ in got] == [i for i, _ in want]


def check_against_reference(
    index: BM25Index, docs: dict[int, list[str]], queries: list[list[str]], k: int = 5
) -> None:
    ids = list(docs)
    assert index.ids().tolist() == ids
    assert len(index) == len(ids)
    token_lists = list(docs.values())
    if not ids or not any(token_lists):  # rank-bm25 cannot score an empty corpus
        for q in queries:
            assert index.search(q, k=k) == []
        return
    ref = reference(index.variant, token_lists, index)
    for q in queries:
        want = ref.get_scores(q)
        np.testing.assert_allclose(index.get_scores(q), want, rtol=0, atol=ATOL)
        assert_same_top(index.search(q, k=k), brute_top(want, ids, token_lists, q, k))


# ---------------------------------------------------------------- random corpora (hypothesis)

WORDS = [f"w{i}" for i in range(12)]
doc_st = st.lists(st.sampled_from(WORDS), max_size=12)
query_st = st.lists(st.sampled_from([*WORDS, "unknown"]), min_size=1, max_size=5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(doc_st, min_size=1, max_size=25),
    queries=st.lists(query_st, min_size=1, max_size=4),
    k=st.integers(1, 8),
)
def test_random_corpus_scores_equal_rank_bm25(
    variant: str, backend: str, docs: list[list[str]], queries: list[list[str]], k: int
) -> None:
    index = BM25Index(variant=variant, backend=backend_param(backend))
    ids = [1000 - 7 * i for i in range(len(docs))]  # not sorted, not dense
    index.add(ids, docs)
    check_against_reference(index, dict(zip(ids, docs, strict=True)), queries, k)


@pytest.mark.parametrize("variant", VARIANTS)
def test_duplicate_and_unknown_query_terms_follow_rank_bm25(variant: str) -> None:
    docs = [["a", "b", "b"], ["b", "c"], ["c", "c", "d"], ["e"]]
    index = BM25Index(variant=variant)
    index.add(range(4), docs)
    ref = reference(variant, docs)
    for q in (["b", "b"], ["c", "nope", "c", "c"], ["nope"], ["a", "b", "a"]):
        np.testing.assert_allclose(index.get_scores(q), ref.get_scores(q), rtol=0, atol=ATOL)
    once, twice = index.get_scores(["c"]), index.get_scores(["c", "c"])
    np.testing.assert_allclose(twice, 2 * once, rtol=1e-12)


def test_okapi_idf_floor_uses_epsilon_times_mean_raw_idf() -> None:
    # "x" is in every document: its raw idf is negative and gets the floor.
    docs = [["x", "a"], ["x", "b"], ["x", "c", "a"], ["x"]]
    for epsilon in (0.25, 0.5, 0.0):
        index = BM25Index(epsilon=epsilon)
        index.add(range(4), docs)
        ref = rank_bm25.BM25Okapi(docs, epsilon=epsilon)
        np.testing.assert_allclose(index.get_scores(["x"]), ref.get_scores(["x"]), atol=ATOL)
        np.testing.assert_allclose(index._current().idf[0], ref.idf["x"], atol=ATOL)


@pytest.mark.parametrize(
    ("variant", "kwargs"),
    [
        ("okapi", {"k1": 0.9, "b": 0.4, "epsilon": 0.1}),
        ("plus", {"k1": 2.0, "b": 0.3, "delta": 0.7}),
        ("l", {"k1": 1.2, "b": 1.0, "delta": 0.2}),
    ],
)
def test_parameters_are_passed_like_rank_bm25(variant: str, kwargs: dict) -> None:
    docs = [["a", "b"], ["a", "a", "c", "d"], ["b", "e", "e", "e", "f"], ["g"]]
    index = BM25Index(variant=variant, **kwargs)
    index.add(range(4), docs)
    ref = REFERENCE[variant](docs, **kwargs)
    for q in (["a"], ["e", "b"], ["g", "a", "a"]):
        np.testing.assert_allclose(index.get_scores(q), ref.get_scores(q), rtol=0, atol=ATOL)


def test_default_deltas_are_rank_bm25s() -> None:
    assert BM25Index(variant="plus").delta == 1.0
    assert BM25Index(variant="l").delta == 0.5
    assert BM25Index().delta is None


# ---------------------------------------------------------------- incremental updates

op_st = st.one_of(
    st.tuples(st.just("add"), st.lists(doc_st, min_size=1, max_size=4)),
    st.tuples(st.just("remove"), st.lists(st.integers(0, 40), max_size=4)),
    st.tuples(st.just("fold"), st.none()),
)


@pytest.mark.parametrize("pending_limit", [3, 4096])
@pytest.mark.parametrize("variant", VARIANTS)
@settings(
    max_examples=35,
    deadline=None,
    # monkeypatch sets the same value for every example, so sharing it is fine
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(op_st, max_size=12), queries=st.lists(query_st, min_size=1, max_size=3))
def test_any_sequence_of_adds_and_removes_equals_rank_bm25_from_scratch(
    variant: str,
    pending_limit: int,
    ops: list,
    queries: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bm25_module, "_PENDING_LIMIT", pending_limit)
    index = BM25Index(variant=variant)
    model: dict[int, list[str]] = {}  # id -> tokens, in insertion order
    next_id = 0
    for op, arg in ops:
        if op == "add":
            new_ids = list(range(next_id, next_id + len(arg)))
            next_id += len(arg)
            index.add(new_ids, arg)
            model.update(zip(new_ids, arg, strict=True))
        elif op == "remove":
            expected = len(set(arg) & set(model))
            assert index.remove(arg) == expected
            for i in arg:
                model.pop(i, None)
        else:
            index.search(["w1"])  # folds pending changes in
        assert len(index) == len(model)
    check_against_reference(index, model, queries)


def test_readding_a_removed_id_before_and_after_folding() -> None:
    index = BM25Index()
    index.add([1, 2, 3], [["a"], ["b"], ["a", "b"]])
    assert index.remove([2]) == 1  # still pending
    index.add([2], [["c", "c"]])
    index.search(["a"])
    assert index.remove([3]) == 1  # committed: tombstoned
    index.add([3], [["a", "c"]])
    check_against_reference(index, {1: ["a"], 2: ["c", "c"], 3: ["a", "c"]}, [["a", "c"]])


def test_removed_terms_leave_the_vocabulary_and_scores() -> None:
    index = BM25Index()
    index.add([1, 2, 3], [["rare", "x"], ["x", "y"], ["y", "z"]])
    assert index.vocabulary_size == 4
    index.remove([1])
    assert index.vocabulary_size == 3
    assert index.search(["rare"]) == []
    check_against_reference(index, {2: ["x", "y"], 3: ["y", "z"]}, [["x", "rare"], ["y"]])


def test_remove_unknown_and_repeated_ids() -> None:
    index = BM25Index()
    index.add([5, 6], [["a"], ["b"]])
    assert index.remove([]) == 0
    assert index.remove([7, 8]) == 0
    assert index.remove([5, 5, 7]) == 1
    assert index.remove(np.array([5], np.int64)) == 0
    assert 6 in index and 5 not in index and "6" not in index
    assert index.ids().tolist() == [6]


def test_removing_everything_then_adding_again() -> None:
    index = BM25Index()
    index.add([1, 2], [["a"], ["a", "b"]])
    index.search(["a"])
    assert index.remove([1, 2]) == 2
    assert len(index) == 0 and index.search(["a"]) == [] and index.vocabulary_size == 0
    assert index.get_scores(["a"]).shape == (0,)
    index.add([3], [["b", "c"]])
    check_against_reference(index, {3: ["b", "c"]}, [["b"], ["a"]])


# ---------------------------------------------------------------- search semantics


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_search_only_returns_documents_sharing_a_query_term(variant: str, backend: str) -> None:
    # BM25+ gives every document a score, and Okapi's floor can make scores negative; still
    # only documents containing a query term are results, even when k asks for more.
    docs = [["x", "a"], ["x", "b"], ["x", "c"], ["d"], ["e", "e"], []]
    index = BM25Index(variant=variant, backend=backend_param(backend))
    index.add([10, 11, 12, 13, 14, 15], docs)
    assert {i for i, _ in index.search(["x"], k=10)} == {10, 11, 12}
    assert {i for i, _ in index.search(["a", "d"], k=10)} == {10, 13}
    assert index.search(["zzz"], k=10) == []
    assert index.search([], k=10) == []
    assert index.search(["x"], k=0) == []


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(doc_st, min_size=1, max_size=25),
    query=query_st,
    allowed=st.lists(st.integers(0, 30), max_size=10),
    k=st.integers(1, 6),
)
def test_allowed_restricts_results(
    variant: str, backend: str, docs: list[list[str]], query: list[str], allowed: list, k: int
) -> None:
    index = BM25Index(variant=variant, backend=backend_param(backend))
    ids = list(range(len(docs)))
    index.add(ids, docs)
    got = index.search(query, k=k, allowed=np.array(allowed, dtype=np.int64))
    if not any(docs):
        assert got == []
        return
    ref = reference(variant, docs).get_scores(query)
    assert_same_top(got, brute_top(ref, ids, docs, query, k, set(allowed)))
    assert index.search(query, k=k, allowed=[]) == []


def test_ties_are_broken_by_smaller_id() -> None:
    index = BM25Index()
    index.add([9, 3, 7, 5], [["a", "b"], ["a", "b"], ["a", "b"], ["c"]])
    assert [i for i, _ in index.search(["a"], k=2)] == [3, 7]


def test_get_scores_for_given_ids_in_their_order() -> None:
    index = BM25Index()
    index.add([4, 8, 15], [["a"], ["b", "a"], ["c"]])
    full = index.get_scores(["a"])
    assert index.get_scores(["a"], ids=[15, 4]).tolist() == [full[2], full[0]]
    with pytest.raises(ConfigError, match="not in the BM25 index"):
        index.get_scores(["a"], ids=[16])


# ---------------------------------------------------------------- real text


@pytest.fixture(scope="module")
def stdlib_paragraphs() -> list[list[str]]:
    """Token lists of the docstring paragraphs of a few standard library modules."""
    import argparse
    import collections
    import json as json_module
    import logging
    import pathlib
    import subprocess
    import textwrap
    import zipfile

    paragraphs = []
    for module in (argparse, collections, json_module, logging, pathlib, subprocess, textwrap):
        for _, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj) if inspect.isclass(obj) or inspect.isfunction(obj) else None
            if doc:
                paragraphs += [p for p in doc.split("\n\n") if len(p.split()) >= 4]
    paragraphs += [p for p in (inspect.getdoc(zipfile.ZipFile) or "").split("\n\n") if p]
    return Analyzer().many(paragraphs)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_real_text_equals_rank_bm25_after_updates_and_reload(
    variant: str, backend: str, stdlib_paragraphs: list[list[str]], tmp_path: Path
) -> None:
    docs = stdlib_paragraphs
    assert len(docs) > 300
    rng = np.random.default_rng(0)
    analyzer = Analyzer()
    queries = [analyzer(q) for q in ("read the file", "subprocess pipe", "json decode error")]
    queries += [list(rng.choice(docs[i], size=3)) for i in rng.choice(len(docs), 12) if docs[i]]
    index = BM25Index(variant=variant, backend=backend_param(backend))
    half = len(docs) // 2
    index.add(range(half), docs[:half])
    model = dict(enumerate(docs[:half]))
    check_against_reference(index, model, queries, k=10)
    index.add(range(half, len(docs)), docs[half:])
    model.update(enumerate(docs[half:], start=half))
    gone = rng.choice(len(docs), 80, replace=False).tolist()
    index.remove(gone)
    for i in gone:
        del model[i]
    check_against_reference(index, model, queries, k=10)
    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    loaded.backend = backend
    check_against_reference(loaded, model, queries, k=10)


def test_backends_agree(stdlib_paragraphs: list[list[str]]) -> None:
    pytest.importorskip("numba", reason=NUMBA)
    docs = stdlib_paragraphs
    fast, plain = BM25Index(backend="numba"), BM25Index(backend="numpy")
    for index in (fast, plain):
        index.add(range(len(docs)), docs)
    allowed = np.arange(0, len(docs), 3)
    for doc in docs[:60]:
        q = doc[:4]
        assert fast.search(q, k=7) == plain.search(q, k=7)
        assert fast.search(q, k=3, allowed=allowed) == plain.search(q, k=3, allowed=allowed)


def test_concurrent_searches_match_sequential_ones(stdlib_paragraphs: list[list[str]]) -> None:
    docs = stdlib_paragraphs
    index = BM25Index()
    index.add(range(len(docs)), docs)
    queries = [d[:3] for d in docs[:80] if d]
    expected = [index.search(q) for q in queries]
    results: dict[int, list] = {}

    def work(t: int) -> None:
        results[t] = [index.search(q) for q in queries]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results.values())


# ---------------------------------------------------------------- persistence


def _digest(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


@pytest.mark.parametrize("variant", VARIANTS)
def test_save_load_mmap_then_mutate_without_touching_files(variant: str, tmp_path: Path) -> None:
    docs = {1: ["a", "b"], 2: ["b", "c", "c"], 3: ["d"], 4: ["a", "d", "d"]}
    index = BM25Index(variant=variant, k1=1.2, b=0.5)
    index.add(list(docs), list(docs.values()))
    folder = tmp_path / "bm25"
    index.save(folder)
    before = _digest(folder)
    assert "bm25.json" in before and all(not name.endswith(".pkl") for name in before)

    loaded = BM25Index.load(folder)
    assert isinstance(loaded._state.weights, np.memmap)
    assert loaded.params() == index.params()
    check_against_reference(loaded, docs, [["a"], ["c", "d"]])
    loaded.remove([2])
    loaded.add([9], [["c", "e"]])
    del docs[2]
    docs[9] = ["c", "e"]
    check_against_reference(loaded, docs, [["a"], ["c", "d"], ["e"]])
    assert _digest(folder) == before

    in_memory = BM25Index.load(folder, mmap=False)
    assert not isinstance(in_memory._state.weights, np.memmap)
    assert in_memory.ids().tolist() == [1, 2, 3, 4]


def test_saved_files_load_without_pickle(tmp_path: Path) -> None:
    index = BM25Index()
    index.add([1, 2], [["a"], ["b", "a"]])
    index.save(tmp_path / "bm25")
    for f in (tmp_path / "bm25").glob("*.npy"):
        np.load(f, allow_pickle=False)
    meta = json.loads((tmp_path / "bm25" / "bm25.json").read_text())
    assert meta["format_version"] == bm25_module.FORMAT_VERSION
    assert "vocabulary" not in meta and meta["n_terms"] == 2
    vocab = MappedVocabulary.open(tmp_path / "bm25")
    assert sorted(vocab) == ["a", "b"] and vocab.get("a") is not None


def test_loaded_vocabulary_is_mapped_and_a_writer_gets_a_dict(tmp_path: Path) -> None:
    index = BM25Index()
    index.add([1, 2, 3], [["ünïcode", "a"], ["b", "a"], ["zeta"]])
    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    assert isinstance(loaded._vocab, MappedVocabulary)
    for q in (["ünïcode"], ["a"], ["zeta", "b"], ["missing"]):
        assert loaded.search(q) == index.search(q)
    loaded.add([4], [["zeta", "new"]])
    index.add([4], [["zeta", "new"]])
    assert isinstance(loaded._vocab, dict)
    assert loaded.search(["new", "zeta"]) == index.search(["new", "zeta"])
    loaded.save(tmp_path / "again")
    assert BM25Index.load(tmp_path / "again").search(["new"]) == index.search(["new"])


def test_format_version_1_files_still_load(tmp_path: Path) -> None:
    index = BM25Index()
    index.add([1, 2], [["a"], ["b", "a"]])
    folder = tmp_path / "bm25"
    index.save(folder)
    meta = json.loads((folder / "bm25.json").read_text())
    terms = MappedVocabulary.open(folder).terms_by_id()
    for name in ("vocab.bin", "vocab_offsets.npy", "vocab_ids.npy"):
        (folder / name).unlink()
    meta.update(format_version=1, vocabulary=terms)
    (folder / "bm25.json").write_text(json.dumps(meta))
    assert BM25Index.load(folder).search(["a"]) == index.search(["a"])


def test_save_replaces_previous_and_recovers_interrupted_swap(tmp_path: Path) -> None:
    folder = tmp_path / "bm25"
    first = BM25Index()
    first.add([1], [["old"]])
    first.save(folder)
    second = BM25Index()
    second.add([2], [["new"]])
    second.save(folder)
    assert BM25Index.load(folder).ids().tolist() == [2]
    # A crash between the two renames of atomic_dir leaves only the backup.
    folder.rename(tmp_path / ".bm25.old")
    assert BM25Index.load(folder).ids().tolist() == [2]


def test_empty_index_round_trips(tmp_path: Path) -> None:
    BM25Index(variant="plus").save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    assert len(loaded) == 0 and loaded.search(["a"]) == [] and loaded.variant == "plus"


@pytest.mark.parametrize(
    "damage",
    ["no_json", "bad_json", "foreign", "version", "truncated", "missing_array", "wrong_dtype"],
)
def test_damaged_folder_is_index_corrupt_error(damage: str, tmp_path: Path) -> None:
    folder = tmp_path / "bm25"
    index = BM25Index()
    index.add(range(50), [[f"t{i % 7}", f"u{i % 3}"] for i in range(50)])
    index.save(folder)
    meta_file = folder / "bm25.json"
    meta = json.loads(meta_file.read_text())
    if damage == "no_json":
        meta_file.unlink()
    elif damage == "bad_json":
        meta_file.write_text("{not json")
    elif damage == "foreign":
        meta_file.write_text(json.dumps({**meta, "format": "something-else"}))
    elif damage == "version":
        meta_file.write_text(json.dumps({**meta, "format_version": 999}))
    elif damage == "truncated":
        data = (folder / "weights.npy").read_bytes()
        (folder / "weights.npy").write_bytes(data[: len(data) // 2])
    elif damage == "missing_array":
        (folder / "rows.npy").unlink()
    elif damage == "wrong_dtype":
        np.save(folder / "rows.npy", np.zeros(3, np.float32))
    with pytest.raises(IndexCorruptError, match="rebuild"):
        BM25Index.load(folder)


def test_loading_a_missing_folder_is_index_corrupt_error(tmp_path: Path) -> None:
    with pytest.raises(IndexCorruptError):
        BM25Index.load(tmp_path / "nothing")


# ---------------------------------------------------------------- errors


def test_adding_an_existing_id_is_an_error_saying_what_to_do() -> None:
    index = BM25Index()
    index.add([1, 2], [["a"], ["b"]])  # pending
    with pytest.raises(ConfigError, match=r"already in the BM25 index: \[2\].*remove"):
        index.add([3, 2], [["c"], ["d"]])
    index.search(["a"])  # committed
    with pytest.raises(ConfigError, match="already in the BM25 index"):
        index.add([1], [["c"]])
    with pytest.raises(ConfigError, match="same id more than once"):
        index.add([7, 7], [["c"], ["d"]])
    assert index.ids().tolist() == [1, 2]  # failed adds changed nothing


@pytest.mark.parametrize(
    ("ids", "data", "match"),
    [
        ([1, 2], [["a"]], "2 ids but 1 token lists"),
        ([1], ["some text"], "token lists, not strings"),
        ([1.5], [["a"]], "integers"),
        (["x"], [["a"]], "integers"),
    ],
)
def test_bad_add_arguments(ids: list, data: list, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        BM25Index().add(ids, data)


def test_bad_constructor_and_search_arguments() -> None:
    with pytest.raises(ConfigError, match="variant"):
        BM25Index(variant="bm42")
    with pytest.raises(ConfigError, match="k1"):
        BM25Index(k1=float("nan"))
    with pytest.raises(ConfigError, match="backend"):
        BM25Index(backend="gpu")
    index = BM25Index()
    index.add([1], [["a"]])
    with pytest.raises(ConfigError, match="k must be"):
        index.search(["a"], k=-1)
    with pytest.raises(ConfigError, match="token lists, not strings"):
        index.search("a")


def test_non_string_tokens_index_but_cannot_be_saved(tmp_path: Path) -> None:
    index = BM25Index()
    index.add([1, 2], [[1, 2], [2, 3]])
    assert [i for i, _ in index.search([1])] == [1]
    with pytest.raises(ConfigError, match="string tokens"):
        index.save(tmp_path / "bm25")


def test_numba_is_imported_only_when_used() -> None:
    code = (
        "import sys\n"
        "from lcmem.indexers.bm25 import BM25Index\n"
        "from lcmem.indexers.analyzer import Analyzer\n"
        "index = BM25Index()\n"
        "index.add(range(3), Analyzer().many(['a cat', 'a dog', 'cats and dogs']))\n"
        "assert index.search(['cat', 'dog'])\n"
        "assert 'numba' not in sys.modules, 'numba imported for a small index'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


# ---------------------------------------------------------------- the Lucene idf


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(doc_st, min_size=1, max_size=25),
    queries=st.lists(query_st, min_size=1, max_size=4),
)
def test_lucene_idf_scores_equal_bm25s_lucene(
    backend: str, docs: list[list[str]], queries: list[list[str]]
) -> None:
    bm25s = pytest.importorskip("bm25s")
    if not any(docs):
        return  # bm25s cannot index an empty vocabulary
    index = BM25Index(idf="lucene", k1=1.2, b=0.6, backend=backend_param(backend))
    index.add(range(len(docs)), docs)
    peer = bm25s.BM25(method="lucene", k1=1.2, b=0.6)
    peer.index(docs, show_progress=False)
    for q in queries:
        known = [t for t in q if t in peer.vocab_dict]
        # bm25s drops Lucene's constant (k1 + 1) factor and computes in float32
        want = (1.2 + 1) * peer.get_scores(known) if known else np.zeros(len(docs))
        np.testing.assert_allclose(index.get_scores(q), want, rtol=2e-6, atol=1e-6)


def test_lucene_idf_formula_and_no_negative_idf() -> None:
    docs = [["common", "rare"], ["common"], ["common", "x"], ["common"]]
    index = BM25Index(idf="lucene")
    index.add(range(4), docs)
    n = 4
    for term, df in (("common", 4), ("rare", 1)):
        want = np.log(1 + (n - df + 0.5) / (df + 0.5))
        assert index._current().idf[index._vocab[term]] == pytest.approx(want, rel=1e-12)
    assert index.get_scores(["common"]).min() > 0  # rank-bm25's okapi floors it at epsilon
    okapi = BM25Index()
    okapi.add(range(4), docs)
    assert (
        okapi._current().idf[okapi._vocab["common"]] != index._current().idf[index._vocab["common"]]
    )


def test_idf_choice_is_saved_and_old_files_keep_rank_bm25(tmp_path: Path) -> None:
    index = BM25Index(idf="lucene")
    index.add([1, 2], [["a", "b"], ["b"]])
    index.save(tmp_path / "new")
    meta = json.loads((tmp_path / "new" / "bm25.json").read_text())
    assert meta["params"]["idf"] == "lucene"
    loaded = BM25Index.load(tmp_path / "new")
    assert loaded.idf == "lucene" and "idf='lucene'" in repr(loaded)
    np.testing.assert_allclose(loaded.get_scores(["b", "a"]), index.get_scores(["b", "a"]))
    # a folder saved before the option existed has no "idf" param: it stays rank-bm25
    old = BM25Index()
    old.add([1, 2], [["a", "b"], ["b"]])
    old.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "bm25.json").read_text())
    del meta["params"]["idf"]
    (tmp_path / "old" / "bm25.json").write_text(json.dumps(meta))
    assert BM25Index.load(tmp_path / "old").idf == "rank-bm25"
    with pytest.raises(ConfigError, match="idf"):
        BM25Index(idf="bm42")


def test_auto_backend_switches_to_numba_once_numpy_has_spent_its_load_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import lcmem.indexers.bm25 as bm25

    asked: list[bool] = []
    monkeypatch.setattr(bm25, "numba_kernel", lambda required=False: asked.append(required))
    monkeypatch.setattr(bm25, "_NUMBA_MIN_POSTINGS", 3)  # "dog": 3, "cat": 2
    index = BM25Index()
    index.add(range(4), Analyzer().many(["a cat", "a dog", "cats and dogs", "dog days"]))
    monkeypatch.setattr(bm25, "_NUMBA_AFTER_SECONDS", 3600.0)
    first = index.search(["dog"], k=2)
    assert asked == []  # a one-shot search never loads numba
    monkeypatch.setattr(bm25, "_NUMBA_AFTER_SECONDS", 0.0)
    assert index.search(["dog"], k=2) == first  # the spy gives no kernel: numpy again
    assert asked == [False]
    assert index.search(["cat"], k=2)  # two postings: below the minimum, numba not asked
    assert asked == [False]


def test_coverage_is_the_share_of_the_query_idf_mass_a_document_holds():
    index = BM25Index(idf="lucene")
    docs = [["pass", "key", "ada", "moreau"], ["pass", "key", "ada"], ["pass", "key"], ["key"]]
    index.add([1, 2, 3, 4], docs)
    idf = dict(
        zip(
            ["pass", "key", "ada", "moreau"],
            np.log1p((4 - np.array([3, 4, 2, 1]) + 0.5) / (np.array([3, 4, 2, 1]) + 0.5)),
            strict=True,
        )
    )
    query = ["pass", "key", "ada", "moreau"]
    assert index.coverage(query, 1) == pytest.approx(1.0)
    total = sum(idf.values())
    assert index.coverage(query, 2) == pytest.approx(
        (idf["pass"] + idf["key"] + idf["ada"]) / total
    )
    assert index.coverage(query, 3) == pytest.approx((idf["pass"] + idf["key"]) / total)
    # the rare name weighs more than the common words: 2 holds more than 3
    assert index.coverage(query, 2) > index.coverage(query, 3) > index.coverage(query, 4)
    # a repeated query term counts twice; a term no document holds counts as the rarest one
    assert index.coverage(["ada", "ada", "key"], 2) == pytest.approx(1.0)
    rare = max(idf.values())
    assert index.coverage(["key", "zzz"], 4) == pytest.approx(idf["key"] / (idf["key"] + rare))
    # ... or not at all with unknown="ignore" (a question word the text never uses)
    assert index.coverage(["key", "zzz"], 4, unknown="ignore") == pytest.approx(1.0)
    assert index.coverage(["zzz"], 4, unknown="ignore") == 0.0
    # terms="rare": only the query's rarer half counts (the common word "key" drops out)
    assert index.coverage(["key", "ada"], 2, terms="rare") == pytest.approx(1.0)
    assert index.coverage(["key", "ada"], 3, terms="rare") == 0.0
    with pytest.raises(ConfigError, match="terms"):
        index.coverage(["key"], 4, terms="some")
    with pytest.raises(ConfigError, match="unknown"):
        index.coverage(["key"], 4, unknown="drop")
    # unknown id, empty query, removed document: 0
    assert index.coverage(query, 99) == 0.0
    assert index.coverage([], 1) == 0.0
    index.remove([1])
    assert index.coverage(query, 1) == 0.0


def test_length_floor_counts_short_documents_as_floor_times_the_average(tmp_path: Path) -> None:
    docs = [["key", "x"], ["key"] + ["y"] * 9, ["z"] * 30]  # lengths 2, 10, 30: average 14
    plain, floored = BM25Index(), BM25Index(length_floor=0.5)
    plain.add([0, 1, 2], docs)
    floored.add([0, 1, 2], docs)
    st = floored._current()
    k1, b, avgdl = 1.5, 0.75, 14.0
    idf = st.idf[floored._vocab["key"]]

    def okapi(length: float) -> float:
        return idf * (2.5 / (1 + k1 * (1 - b + b * length / avgdl)))

    # the 2-token document counts as 7 tokens long; the 10-token one keeps its length
    np.testing.assert_allclose(floored.get_scores(["key"])[:2], [okapi(7.0), okapi(10.0)])
    np.testing.assert_allclose(plain.get_scores(["key"])[:2], [okapi(2.0), okapi(10.0)])
    assert floored.search(["key"])[0][0] == 0 and plain.get_scores(["key"])[0] > okapi(7.0)
    floored.save(tmp_path / "f")
    loaded = BM25Index.load(tmp_path / "f")
    assert loaded.length_floor == 0.5 and "length_floor=0.5" in repr(loaded)
    np.testing.assert_allclose(loaded.get_scores(["key"]), floored.get_scores(["key"]))
    assert BM25Index(length_floor=0.0).params() == {**BM25Index().params(), "length_floor": 0.0}
    with pytest.raises(ConfigError, match="length_floor"):
        BM25Index(length_floor=-1)


def test_held_terms_counts_distinct_query_terms_a_document_holds():
    index = BM25Index()
    index.add([1, 2, 3], [["pass", "key", "ada"], ["key", "key"], ["moreau"]])
    assert index.held_terms(["pass", "key", "ada", "moreau"], 1) == 3
    assert index.held_terms(["key", "key", "key"], 2) == 1  # repeats count once
    assert index.held_terms(["unseen", "key"], 2) == 1  # a term no document holds: not held
    assert index.held_terms(["key"], 99) == 0  # unknown id
    index.remove([2])
    assert index.held_terms(["key"], 2) == 0
