"""The Ray executor against the local one, on a local Ray cluster and a real PostgreSQL.

Ray starts with ``ray.init(num_cpus=2)`` (the CI machine's size); PostgreSQL is the throwaway
server of ``tests/conftest.py``. Everything here uses the real packaged embedder on man pages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import lcmem
from lcmem.errors import ConfigError
from tests.conftest import man_text
from tests.extras import needs

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PAGES = ("cp", "mv", "ln", "rm", "chmod", "touch")
QUERIES = (
    "copy a file and keep its permissions",
    "remove a directory recursively",
    "symbolic link",
    "change the modification time",
)


@pytest.fixture(scope="module")
def ray_cluster():
    needs("ray", extra="ray")
    import ray

    from lcmem.indexing.ray import same_priority_workers

    same_priority_workers()  # actors at nice +15 crawl on a loaded machine
    for _ in range(3):  # a raylet gives up on its agents after ~30 s on a loaded machine
        if ray.is_initialized():
            break
        try:
            ray.init(
                num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING"
            )
        except Exception:
            ray.shutdown()
    if not ray.is_initialized():
        pytest.fail("could not start a local Ray cluster (ray.init(num_cpus=2))")
    yield ray
    ray.shutdown()


def _pages(root: Path, names=PAGES, cut: int = 6000) -> Path:
    """Man pages (the first ``cut`` characters: small files, several chunks each)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        text = man_text(name)
        assert len(text) > 1000, f"man page {name} missing"
        (root / f"{name}.txt").write_text(text[:cut])
    return root


def _doc_chunk_counts(lib) -> dict[str, int]:
    """Chunks per stored document, read in one statement (one snapshot of the database)."""
    with lib.store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT d.path, COUNT(c.id) FROM lcmem_documents d LEFT JOIN "
            "lcmem_chunks c ON c.document_id = d.id GROUP BY d.path"
        ).fetchall()
    return {path: int(n) for path, n in rows}


def _chunks(lib) -> dict[tuple[str, int, int], tuple[str, str, str]]:
    """(file name, start, end) -> (context, text, embed hash) for every stored chunk."""
    out = {}
    for batch in lib.store.iter_chunk_texts():
        ids = [r[0] for r in batch]
        by_id = lib.store.get_chunks(ids)
        for cid, context, text, embed_hash in batch:
            c = by_id[cid]
            out[(Path(c.doc_path).name, c.start, c.end)] = (context, text, embed_hash)
    return out


def _same_library(local, remote) -> None:
    """Same chunks, vectors (cosine >= 0.99999) and search results in every mode."""
    a, b = _chunks(local), _chunks(remote)
    assert a.keys() == b.keys() and a == b
    dim = local.embedder.dim
    hashes = sorted({v[2] for v in a.values()})
    va, vb = local.store.get_embeddings(hashes, dim), remote.store.get_embeddings(hashes, dim)
    assert va.keys() == vb.keys() == set(hashes)
    cos = [float(np.dot(va[h], vb[h])) for h in hashes]
    assert min(cos) >= 0.99999, min(cos)
    for q in QUERIES:
        for mode in ("dense", "bm25", "hybrid"):
            ha = [(Path(h.path).name, h.chunk.start) for h in local.search(q, k=5, mode=mode)]
            hb = [(Path(h.path).name, h.chunk.start) for h in remote.search(q, k=5, mode=mode)]
            assert ha == hb, (q, mode)


def _no_duplicates(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    dsn = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    with psycopg.connect(dsn) as conn:
        dup_docs = conn.execute(
            "SELECT path FROM lcmem_documents GROUP BY path HAVING COUNT(*) > 1"
        ).fetchall()
        dup_chunks = conn.execute(
            "SELECT document_id, ordinal FROM lcmem_chunks GROUP BY document_id, ordinal "
            "HAVING COUNT(*) > 1"
        ).fetchall()
    assert dup_docs == [] and dup_chunks == []


def test_ray_index_equals_local_and_stays_incremental(ray_cluster, tmp_path, fresh_postgres_url):
    docs = _pages(tmp_path / "docs")
    local = lcmem.open(tmp_path / "local")
    remote = lcmem.open(url=fresh_postgres_url, index_dir=tmp_path / "idx")
    ra = local.index([docs])
    rb = remote.index([docs], executor="ray", ray_batch_docs=2)
    assert sorted(rb.added) == sorted(ra.added) and len(rb.added) == len(PAGES)
    assert rb.chunks_added == ra.chunks_added and rb.embedded == ra.embedded
    assert rb.errors == [] and remote.status()["indices_current"]
    _same_library(local, remote)

    # incremental: unchanged skipped, changed replaced, deleted removed, new added
    (docs / "cp.txt").write_text(man_text("cp")[:3000])
    (docs / "rm.txt").unlink()
    _pages(docs, ("mkdir",))
    ra2 = local.index([docs])
    # two actors on two CPUs: they must leave room for the read tasks
    rb2 = remote.index([docs], executor="ray", ray_batch_docs=2, ray_actors=2)
    for r in (ra2, rb2):
        assert r.updated == [str((docs / "cp.txt").resolve())]
        assert r.removed == [str((docs / "rm.txt").resolve())]
        assert [Path(p).name for p in r.added] == ["mkdir.txt"]
        assert len(r.unchanged) == len(PAGES) - 2
    assert rb2.chunks_removed == ra2.chunks_removed
    _same_library(local, remote)
    rb3 = remote.index([docs], executor="ray")
    assert rb3.embedded == 0 and len(rb3.unchanged) == len(PAGES)
    _no_duplicates(fresh_postgres_url)
    # another process (a new store object, its own index folder) sees the same library
    other = lcmem.open(url=fresh_postgres_url, index_dir=tmp_path / "idx2")
    _same_library(local, other)


def _embed_actor_pids() -> set[int]:
    import psutil

    out = set()
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "EmbedWriter" in cmd:
            out.add(p.info["pid"])
    return out


def _count(url: str, sql: str) -> int:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    dsn = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_a_killed_embedder_actor_loses_and_duplicates_nothing(
    ray_cluster, tmp_path, fresh_postgres_url
):
    names = ("ls", "cp", "mv", "rm", "cat", "grep", "sed", "find", "tar", "chmod", "ln", "sort")
    docs = _pages(tmp_path / "docs", names, cut=4000)
    remote = lcmem.open(url=fresh_postgres_url, index_dir=tmp_path / "idx")
    result: dict = {}

    def index() -> None:
        try:
            result["report"] = remote.index([docs], executor="ray", ray_actors=1, ray_batch_docs=1)
        except BaseException as exc:  # surfaced by the main thread
            result["error"] = exc

    worker = threading.Thread(target=index)
    worker.start()
    killed: set[int] = set()
    deadline = time.time() + 300
    while time.time() < deadline and worker.is_alive():
        try:
            done = _count(fresh_postgres_url, "SELECT COUNT(*) FROM lcmem_documents")
        except Exception:
            done = 0
        pids = _embed_actor_pids()
        if done >= 2 and pids:
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            killed = pids
            break
        time.sleep(0.05)
    assert killed, "the run ended before an embedder actor could be killed"
    assert done < len(names), "every document was written before the kill"
    worker.join(600)
    assert "error" not in result, result.get("error")
    report = result["report"]
    assert not (_embed_actor_pids() & killed)
    assert report.errors == [] and len(report.added) == len(names)

    _no_duplicates(fresh_postgres_url)
    local = lcmem.open(tmp_path / "local")
    local.index([docs])
    assert _count(fresh_postgres_url, "SELECT COUNT(*) FROM lcmem_chunks") == (
        local.store.chunk_count()
    )
    _same_library(local, lcmem.open(url=fresh_postgres_url, index_dir=tmp_path / "idx2"))


def test_a_reader_never_sees_a_half_written_document(ray_cluster, tmp_path, fresh_postgres_url):
    """One process indexes on Ray (the CLI, joining this cluster); this one searches
    throughout, from a second store on the same database."""
    names = ("ls", "cp", "mv", "rm", "cat", "grep", "sed", "find", "chmod", "ln")
    docs = _pages(tmp_path / "docs", names, cut=4000)
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    log = tmp_path / "writer.log"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lcmem.cli",
            "index",
            str(docs),
            "--store",
            fresh_postgres_url,
            "--ray",
            "auto",
            "--ray-actors",
            "1",
            "--ray-batch-docs",
            "1",
            "--quiet",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    seen: list[dict[str, int]] = []
    searches = 0
    try:
        while writer.poll() is None:
            reader = lcmem.open(url=fresh_postgres_url, index_dir=tmp_path / "reader")
            try:
                counts = _doc_chunk_counts(reader)
                seen.append(counts)
                if counts:
                    for hit in reader.search("copy files", k=5):
                        text = reader.document_text(hit.path)
                        assert text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
                    searches += 1
            finally:
                reader.close()
            time.sleep(0.1)
    finally:
        if writer.poll() is None:
            writer.kill()
    writer.wait()
    assert writer.returncode == 0, log.read_text()[-2000:]
    final = lcmem.open(url=fresh_postgres_url, index_dir=tmp_path / "final")
    complete = _doc_chunk_counts(final)
    assert len(complete) == len(names)
    partial = [c for c in seen if 0 < len(c) < len(names)]
    assert partial, "the reader never ran while the writer was half way"
    assert searches >= 1
    for counts in seen:  # every document seen was whole: all of its chunks, never some
        assert all(complete[p] == n for p, n in counts.items()), counts


def test_missing_ray_is_a_one_line_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    (tmp_path / "a.txt").write_text("hello")
    lib = lcmem.open(tmp_path / "lib")
    with pytest.raises(ConfigError, match=r"lcmem\[ray\]"):
        lib.index([tmp_path / "a.txt"], executor="ray")
