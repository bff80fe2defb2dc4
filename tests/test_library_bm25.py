"""The library's BM25 settings (issue 22): chosen defaults recorded in the manifest, kept by
libraries made before."""

from __future__ import annotations

import json
import shutil

import lcmem
from lcmem.indexers.bm25 import BM25Index
from lcmem.library import BM25_DEFAULTS
from tests.chunkers.checks import HashEmbedder


def _docs(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Otters hold hands while they sleep.\n\nA raft of otters.\n")
    (docs / "b.txt").write_text("The vault code of Ada Moreau is 48213.\n")
    return docs


def test_a_new_library_records_and_uses_the_bm25_defaults(tmp_path):
    docs = _docs(tmp_path)
    with lcmem.open(tmp_path / "s", embedder=HashEmbedder()) as lib:
        lib.index([docs])
        expected = BM25Index(**BM25_DEFAULTS).params()
        assert lib.manifest["bm25"] == expected
        assert lib._indices(need_dense=False)[1].params() == expected
        assert lib.search("vault code Ada", mode="bm25")[0].path.endswith("b.txt")
    on_disk = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert on_disk["bm25"] == expected
    with lcmem.open(tmp_path / "s", embedder=HashEmbedder()) as again:  # rebuilt from the store
        shutil.rmtree(tmp_path / "s" / "bm25")
        assert again._indices(need_dense=False)[1].params() == expected


def test_a_library_made_before_the_setting_keeps_plain_bm25(tmp_path):
    docs = _docs(tmp_path)
    with lcmem.open(tmp_path / "s", embedder=HashEmbedder()) as lib:
        lib.index([docs])
        del lib.manifest["bm25"]  # as written by lcmem before the manifest recorded it
        lib.store.set_meta("manifest", lib.manifest)
    shutil.rmtree(tmp_path / "s" / "bm25")
    with lcmem.open(tmp_path / "s", embedder=HashEmbedder()) as old:
        assert old._indices(need_dense=False)[1].params() == BM25Index().params()
