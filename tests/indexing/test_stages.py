"""Unit tests of the pipeline stages that need no model: idempotent commit, line ranges."""

from __future__ import annotations

import numpy as np

from lcmem.indexing import stages
from lcmem.indexing.plan import unchanged_by_stat
from lcmem.indexing.stages import Pending
from lcmem.stores.sql import SQLStore, StoredDocument
from lcmem.types import Chunk, Document


def _pending(path: str, text: str, raw_hash: str) -> Pending:
    doc = Document(text, path=path)
    half = len(text) // 2
    chunks = stages.with_lines(
        doc, [Chunk(text[:half], 0, half), Chunk(text[half:], half, len(text))]
    )
    return Pending(doc, raw_hash, len(text), 1, None, chunks)


def _vectors(p: Pending) -> dict[str, np.ndarray]:
    return {n.embed_hash: np.ones(4, dtype=np.float32) / 2 for n in p.chunks}


def test_commit_idempotent_writes_once_and_replaces_on_change(tmp_path):
    store = SQLStore(f"sqlite:///{tmp_path / 'db'}")
    a = _pending("/d/a.txt", "alpha line\nbeta line\n", "h1")
    b = _pending("/d/b.txt", "gamma\ndelta\n", "h2")
    assert stages.commit_idempotent(store, [a, b], _vectors(a) | _vectors(b)) == [
        ("added", 2, 0),
        ("added", 2, 0),
    ]
    ids = store.chunk_ids()
    # a retried batch (same documents, same content) changes nothing
    assert stages.commit_idempotent(store, [a, b], _vectors(a) | _vectors(b)) == [
        ("already", 2, 0),
        ("already", 2, 0),
    ]
    assert np.array_equal(store.chunk_ids(), ids) and store.document_count() == 2
    # new content at a path replaces the document's chunks
    a2 = _pending("/d/a.txt", "alpha changed\n", "h3")
    assert stages.commit_idempotent(store, [a2], _vectors(a2)) == [("updated", 2, 2)]
    assert store.chunk_count() == 4 and store.document_count() == 2
    assert store.document_text("/d/a.txt") == "alpha changed\n"


def test_duplicate_vectors_from_parallel_writers_are_ignored(tmp_path):
    store = SQLStore(f"sqlite:///{tmp_path / 'db'}")
    vec = {"k": np.ones(4, dtype=np.float32)}
    with store.engine.begin() as conn:
        store.put_embeddings(conn, vec)
    with store.engine.begin() as conn:  # as if a second writer had checked before the first
        from lcmem.stores.sql import EmbeddingRow, _insert_ignoring_duplicates

        conn.execute(
            _insert_ignoring_duplicates(conn, EmbeddingRow),
            [{"hash": "k", "vector": vec["k"].tobytes()}],
        )
    assert list(store.get_embeddings(["k"], 4)) == ["k"]


def test_unchanged_by_stat():
    doc = StoredDocument(1, "/a", "h", 10, 5)
    assert unchanged_by_stat(doc, 10, 5)
    assert not unchanged_by_stat(doc, 10, 6) and not unchanged_by_stat(None, 10, 5)
