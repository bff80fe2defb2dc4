"""The automatic flat -> approximate dense index switch (issue 18): small thresholds here."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import lcmem
from lcmem.indexers import dense_policy
from lcmem.indexers.faiss import FaissIndex, index_file_info
from tests.chunkers.checks import HashEmbedder

WORDS = [
    "otter",
    "badger",
    "heron",
    "falcon",
    "marten",
    "weasel",
    "ferret",
    "beaver",
    "osprey",
    "plover",
]


def _write_docs(folder, start: int, n: int) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(start, start + n):
        words = [WORDS[(i * 7 + j) % len(WORDS)] for j in range(5)]
        (folder / f"d{i:03d}.txt").write_text(f"note {i} {' '.join(words)} token{i}\n")


@pytest.fixture
def small_switch(monkeypatch):
    monkeypatch.setattr(dense_policy, "SWITCH_AT", 80)
    monkeypatch.setattr(dense_policy, "APPROXIMATE", {"kind": "ivf", "nlist": 2, "nprobe": 2})


def test_auto_library_switches_at_the_threshold_and_records_it(tmp_path, small_switch):
    docs = tmp_path / "docs"
    _write_docs(docs, 0, 50)
    store = tmp_path / "lib"
    with lcmem.open(store, embedder=HashEmbedder()) as lib:
        lib.index([docs])
        setting = lib.manifest["faiss"]
        assert setting["kind"] == "auto" and setting["structure"] == "flat"
        assert setting["switch_at"] == 80
        assert lib.status()["dense"]["index_file"]["structure"] == "flat"
        assert "flat (exact) until 80 chunks" in lib.status()["dense"]["summary"]
        _write_docs(docs, 50, 50)
        lib.index([docs])
        setting = lib.manifest["faiss"]
        assert setting["structure"] == "ivf"
        assert setting["params"] == {"nlist": 2, "nprobe": 2}
        assert setting["switched_at_chunks"] == 100
        assert lib._dense.structure == "ivf" and len(lib._dense) == 100
        top = lib.search("note 77 token77", k=1, mode="dense")[0]
        assert top.path.endswith("d077.txt")
    on_disk = json.loads((store / "manifest.json").read_text())
    assert on_disk["faiss"]["structure"] == "ivf"
    info = index_file_info(store / "faiss.index")
    assert info is not None and info["structure"] == "ivf" and info["ntotal"] == 100
    # a rebuild from the store (index file lost) makes the recorded index again
    (store / "faiss.index").unlink()
    with lcmem.open(store, embedder=HashEmbedder()) as again:
        dense, _ = again._indices()
        assert dense.structure == "ivf" and dense.nlist == 2 and len(dense) == 100
        assert again.search("note 12 token12", k=1, mode="hybrid")[0].path.endswith("d012.txt")
        # later runs add to the approximate index; removals leave it
        (docs / "d012.txt").unlink()
        report = again.index([docs])
        assert report.chunks_removed == 1 and len(again._dense) == 99
        assert again.manifest["faiss"]["switched_at_chunks"] == 100


def test_status_shows_the_switch(tmp_path, small_switch):
    from lcmem.cli import cli

    docs = tmp_path / "docs"
    _write_docs(docs, 0, 90)
    store = tmp_path / "lib"
    with lcmem.open(store, embedder=HashEmbedder()) as lib:
        lib.index([docs])
    runner = CliRunner()
    out = runner.invoke(cli, ["status", "--store", str(store)])
    assert out.exit_code == 0, out.output
    assert "auto: ivf (nlist 2, nprobe 2), switched at 90 chunks" in out.output
    assert "index file: ivf, 90 vectors" in out.output
    out = runner.invoke(cli, ["status", "--store", str(store), "--json"])
    dense = json.loads(out.output)["dense"]
    assert dense["setting"]["structure"] == "ivf" and dense["index_file"]["ntotal"] == 90


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_an_explicit_kind_is_never_switched(tmp_path, small_switch, kind):
    docs = tmp_path / "docs"
    _write_docs(docs, 0, 100)
    with lcmem.open(tmp_path / "lib", embedder=HashEmbedder(), faiss_kind=kind) as lib:
        lib.index([docs])
        assert lib.manifest["faiss"] == {"kind": kind}
        assert lib._dense.structure == kind
        assert lib.status()["dense"]["summary"] == kind


def test_a_library_made_before_the_switch_stays_flat(tmp_path, small_switch):
    docs = tmp_path / "docs"
    _write_docs(docs, 0, 50)
    store = tmp_path / "lib"
    with lcmem.open(store, embedder=HashEmbedder()) as lib:
        lib.index([docs])
        old = {**lib.manifest, "faiss": {"kind": "flat"}}  # what earlier versions recorded
        lib.store.set_meta("manifest", old)
    _write_docs(docs, 50, 50)
    with lcmem.open(store, embedder=HashEmbedder()) as lib:
        lib.index([docs])
        assert lib.manifest["faiss"] == {"kind": "flat"}
        assert lib._dense.structure == "flat" and len(lib._dense) == 100


def test_convert_keeps_ids_and_vectors():
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((200, 8)).astype(np.float32)
    ids = np.arange(1000, 1200)
    flat = FaissIndex(8)
    flat.add(ids, vecs)
    flat.remove([1000, 1001])
    ivf = flat.convert("ivf", nlist=4, nprobe=4)  # every list probed: exact
    assert ivf.structure == "ivf" and ivf.nlist == 4
    assert np.array_equal(ivf.ids(), flat.ids())
    assert np.allclose(ivf.vectors(ivf.ids()), flat.vectors(flat.ids()))
    q = rng.standard_normal((5, 8)).astype(np.float32)
    assert [[i for i, _ in r] for r in ivf.search_many(q, 10)] == [
        [i for i, _ in r] for r in flat.search_many(q, 10)
    ]
    few = FaissIndex(8)
    few.add(ids[:10], vecs[:10])
    waiting = few.convert("ivf", nlist=4)  # too few to train: stays flat until it grows
    assert waiting.kind == "ivf" and waiting.structure == "flat" and len(waiting) == 10


def test_policy_rejects_unknown_kinds(tmp_path):
    from lcmem.errors import ConfigError

    with pytest.raises(ConfigError):
        dense_policy.new_setting("annoy")
    with pytest.raises(ConfigError):
        lcmem.open(tmp_path / "lib", faiss_kind="annoy")


def test_an_auto_ivf_index_is_trained_again_as_the_library_grows(monkeypatch):
    monkeypatch.setattr(dense_policy, "RETRAIN_GROWTH", 4)
    setting = dense_policy.switched(
        dense_policy.new_setting("auto", switch_at=100, approximate={"kind": "ivf", "nprobe": 2}),
        "ivf",
        {"nlist": 10, "nprobe": 2},
        100,
    )
    assert dense_policy.switch(setting, 399) is None
    assert dense_policy.switch(setting, 400) == ("ivf", {"nprobe": 2, "nlist": 20})
    again = dense_policy.switched(setting, "ivf", {"nprobe": 2, "nlist": 20}, 400)
    assert again["switched_at_chunks"] == 100 and again["trained_at_chunks"] == 400
    assert dense_policy.switch(again, 1599) is None
    assert (
        dense_policy.switch({"kind": "auto", "structure": "hnsw", "switched_at_chunks": 1}, 10**6)
        is None
    )
