"""The SQL store on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import numpy as np
import pytest

from lcmem.errors import ConfigError, StoreError
from lcmem.stores.sql import NewChunk, SQLStore
from lcmem.types import Chunk


def _chunks(texts: list[str], meta: dict | None = None) -> list[NewChunk]:
    out, pos = [], 0
    for i, t in enumerate(texts):
        c = Chunk(
            text=t,
            start=pos,
            end=pos + len(t),
            context=f"Section {i}",
            token_count=3,
            metadata=dict(meta or {}),
        )
        out.append(NewChunk(c, i + 1, i + 1, c.hash))
        pos += len(t) + 1
    return out


def _fill(store: SQLStore) -> tuple[int, int, list[int], list[int]]:
    with store.transaction() as conn:
        a, _ = store.upsert_document(
            conn,
            path="/d/a.py",
            content_hash="h1",
            size=10,
            mtime_ns=1,
            text="alpha\nbeta",
            meta={"lang": "python"},
            existing_id=None,
        )
        ids_a = store.insert_chunks(
            conn, a, _chunks(["alpha", "beta"], {"lang": "python", "level": 2})
        )
        b, _ = store.upsert_document(
            conn,
            path="/d/sub/b.md",
            content_hash="h2",
            size=5,
            mtime_ns=2,
            text="gamma",
            meta={"kind": "markdown"},
            existing_id=None,
        )
        ids_b = store.insert_chunks(conn, b, _chunks(["gamma"], {"kind": "markdown"}))
    return a, b, ids_a, ids_b


def _exercise(store: SQLStore) -> None:
    g0 = store.generation
    a, b, ids_a, ids_b = _fill(store)
    assert store.generation == g0 + 1
    assert store.document_count() == 2 and store.chunk_count() == 3
    assert store.chunk_ids().tolist() == sorted(ids_a + ids_b)

    chunks = store.get_chunks(ids_a)
    assert chunks[ids_a[0]].text == "alpha" and chunks[ids_a[0]].doc_path == "/d/a.py"
    assert chunks[ids_a[1]].context == "Section 1" and chunks[ids_a[1]].line_start == 2

    # metadata filters: equality, lists, integers, path globs
    assert store.filter_chunk_ids({"lang": "python"}).tolist() == ids_a
    assert store.filter_chunk_ids({"kind": ["markdown", "rst"]}).tolist() == ids_b
    assert store.filter_chunk_ids({"level": 2}).tolist() == ids_a
    assert store.filter_chunk_ids({"level": 3}).tolist() == []
    assert store.filter_chunk_ids({"path": "*.md"}).tolist() == ids_b
    assert store.filter_chunk_ids({"path": "sub/"}).tolist() == ids_b
    assert store.filter_chunk_ids({"path": "/d/*", "lang": "python"}).tolist() == ids_a

    under = store.documents_under([__import__("pathlib").Path("/d/sub")])
    assert list(under) == ["/d/sub/b.md"]

    # replacing a document deletes its old chunks, ids are never reused
    with store.transaction() as conn:
        same, replaced = store.upsert_document(
            conn,
            path="/d/a.py",
            content_hash="h3",
            size=11,
            mtime_ns=3,
            text="alpha2",
            meta={},
            existing_id=a,
        )
        new_ids = store.insert_chunks(conn, same, _chunks(["alpha2"]))
    assert same == a and sorted(replaced) == sorted(ids_a)
    assert min(new_ids) > max(ids_a + ids_b)
    assert store.chunk_count() == 2

    with store.transaction() as conn:
        removed = store.delete_documents(conn, [b])
    assert removed == ids_b and store.document_count() == 1

    # embedding cache
    v = np.arange(4, dtype=np.float32)
    with store.transaction() as conn:
        store.put_embeddings(conn, {"k1": v})
        store.put_embeddings(conn, {"k1": v * 2, "k2": v})  # k1 kept as it was
    got = store.get_embeddings(["k1", "k2", "nope"], dim=4)
    assert set(got) == {"k1", "k2"} and np.array_equal(got["k1"], v)
    assert store.get_embeddings(["k1"], dim=8) == {}  # other dimension: not a hit

    store.set_meta("manifest", {"embedder": {"name": "x", "dim": 4}})
    assert store.get_meta("manifest")["embedder"]["dim"] == 4


def test_sqlite_store(tmp_path):
    store = SQLStore(f"sqlite:///{tmp_path / 'lcmem.db'}")
    _exercise(store)
    store.close()
    reopened = SQLStore(f"sqlite:///{tmp_path / 'lcmem.db'}")
    assert reopened.document_count() == 1
    mode = reopened.engine.connect().exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"


@pytest.mark.postgres
def test_postgres_store(fresh_postgres_url):
    store = SQLStore(fresh_postgres_url)
    assert store.dialect == "postgresql"
    _exercise(store)
    store.close()
    assert SQLStore(fresh_postgres_url).document_count() == 1


@pytest.mark.postgres
def test_first_opens_of_one_postgres_database_at_once(fresh_postgres_url):
    # an index run and a reader (or two workers) opening a new database together: both used
    # to create the meta rows, and the second failed on a duplicate key
    from concurrent.futures import ThreadPoolExecutor

    def open_store(_: int) -> int:
        store = SQLStore(fresh_postgres_url)
        try:
            return store.document_count()
        finally:
            store.close()

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(open_store, range(8))) == [0] * 8
    store = SQLStore(fresh_postgres_url)
    assert store.generation == 0
    store.close()


def test_rollback_leaves_nothing(tmp_path):
    store = SQLStore(f"sqlite:///{tmp_path / 'x.db'}")
    g = store.generation
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.upsert_document(
            conn,
            path="/x",
            content_hash="h",
            size=1,
            mtime_ns=1,
            text="x",
            meta={},
            existing_id=None,
        )
        raise RuntimeError("crash in the middle")
    assert store.document_count() == 0 and store.generation == g


def test_bad_urls(tmp_path):
    with pytest.raises(ConfigError, match="unsupported database URL"):
        SQLStore("nosuchdb://x")
    (tmp_path / "notadb.db").write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError, match="cannot open"):
        SQLStore(f"sqlite:///{tmp_path / 'notadb.db'}")
