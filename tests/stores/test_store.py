"""The store facade: its SQLite reader agrees with SQLStore, and a search needs no SQLAlchemy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lcmem.errors import StoreError
from lcmem.stores.sql import SQLStore
from lcmem.stores.sqlite_read import SQLiteReader
from lcmem.stores.store import Store
from tests.stores.test_sql import _fill

REPO = Path(__file__).resolve().parents[2]


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'lcmem.db'}"


def test_reader_agrees_with_sqlstore(tmp_path: Path) -> None:
    full = SQLStore(_url(tmp_path))
    _, _, ids_a, ids_b = _fill(full)
    full.set_meta("manifest", {"embedder": {"dim": 384}, "ratio": 0.5, "name": "x"})
    full.set_meta("plain", "text")
    reader = SQLiteReader.open(_url(tmp_path))
    assert reader is not None
    for key in ("manifest", "plain", "generation", "schema_version", "missing"):
        assert reader.get_meta(key, "dflt") == full.get_meta(key, "dflt")
    assert reader.generation == full.generation > 0
    assert reader.chunk_count() == full.chunk_count() == 3
    assert reader.document_count() == full.document_count() == 2
    ids = [*ids_a, *ids_b, 999_999]
    assert reader.get_chunks(ids) == full.get_chunks(ids)
    assert reader.get_chunks(ids)[ids_a[0]].metadata == {"lang": "python", "level": 2}


def test_store_reads_see_writes_made_through_it(tmp_path: Path) -> None:
    SQLStore(_url(tmp_path))  # creates the tables
    store = Store(_url(tmp_path))
    assert store._reader is not None and store._sql is None
    g0 = store.generation
    _, _, ids_a, _ = _fill(store)  # transaction(), upsert_document(), ... go to SQLStore
    assert store._sql is not None
    assert store.generation == g0 + 1
    assert store.chunk_count() == 3
    assert store.get_chunks(ids_a)[ids_a[1]].text == "beta"
    store.close()


def test_store_creates_a_new_library_and_rejects_a_foreign_file(tmp_path: Path) -> None:
    fresh = Store(_url(tmp_path))  # no file yet: SQLStore creates it
    assert fresh.chunk_count() == 0 and fresh.dialect == "sqlite"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "lcmem.db").write_text("not a database")
    with pytest.raises(StoreError, match="cannot open the library database"):
        Store(f"sqlite:///{bad / 'lcmem.db'}")


@pytest.mark.slow
def test_search_and_status_import_no_sqlalchemy(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("gzip compresses files with Lempel-Ziv coding.\n" * 3)
    (docs / "b.txt").write_text("tar collects many files into one archive.\n" * 3)
    store = str(tmp_path / "lib")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cli = [sys.executable, "-m", "lcmem.cli"]
    subprocess.run([*cli, "index", str(docs), "--store", store, "--quiet"], env=env, check=True)
    probe = (
        "import sys, lcmem\n"
        f"lib = lcmem.open({store!r})\n"
        "hits = lib.search('compress files', k=2, mode='bm25')\n"
        "status = lib.status()\n"
        "print(hits[0].path.endswith('a.txt'), status['chunks'], 'sqlalchemy' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["True", "2", "False"]
