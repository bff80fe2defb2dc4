"""End-to-end Library tests with the real packaged embedder on real text."""

from __future__ import annotations

import inspect
import os
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

import lcmem
from lcmem.embedders.base import Embedder
from lcmem.embedders.sentence import SentenceEmbedder
from lcmem.errors import ConfigError, EmbedderMismatchError, EmptyQueryError, PathNotFoundError
from tests.conftest import man_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A small folder of real documents: man pages, Markdown, Python source, HTML."""
    root = tmp_path_factory.mktemp("corpus")
    for name in ("ls", "grep", "tar"):
        text = man_text(name)
        assert len(text) > 1000, f"man page {name} missing"
        (root / f"{name}.txt").write_text(text)
    (root / "guide.md").write_text(
        textwrap.dedent("""\
        # Backup guide

        ## Schedule

        Run the nightly backup job at two in the morning with cron.

        ## Restore

        To restore a snapshot, stop the service and copy the archive back.

        ```sh
        tar -xzf snapshot.tar.gz -C /srv
        ```
        """)
    )
    src = Path(inspect.getfile(shutil))
    (root / "code").mkdir()
    (root / "code" / "shutil_copy.py").write_text(src.read_text()[:6000])
    (root / "page.html").write_text(
        "<html><head><title>Weather</title><script>var x=1;</script></head>"
        "<body><h1>Forecast</h1><p>Heavy rain and strong wind are expected on the coast "
        "tomorrow afternoon.</p></body></html>"
    )
    return root


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


@pytest.fixture(scope="module")
def seed_vectors(tmp_path_factory, corpus, embedder) -> dict[str, np.ndarray]:
    """The corpus embedded once, to pre-fill each test library's embedding cache."""
    lib = lcmem.open(tmp_path_factory.mktemp("seed") / "store", embedder=embedder)
    report = lib.index([corpus])
    assert report.embedded > 0 and report.embed_cache_hits == 0
    hashes = [row[3] for batch in lib.store.iter_chunk_texts() for row in batch]
    vectors = lib.store.get_embeddings(hashes, embedder.dim)
    lib.close()
    return vectors


@pytest.fixture
def lib_and_corpus(tmp_path, corpus, embedder, seed_vectors):
    work = tmp_path / "docs"
    shutil.copytree(corpus, work)
    lib = lcmem.open(tmp_path / "store", embedder=embedder)
    with lib.store.engine.begin() as conn:
        lib.store.put_embeddings(conn, seed_vectors)
    report = lib.index([work])
    yield lib, work, report
    lib.close()


def _top_paths(hits) -> list[str]:
    return [Path(h.path).name for h in hits]


def test_index_then_search_every_mode(lib_and_corpus):
    lib, _work, report = lib_and_corpus
    assert sorted(Path(p).name for p in report.added) == [
        "grep.txt",
        "guide.md",
        "ls.txt",
        "page.html",
        "shutil_copy.py",
        "tar.txt",
    ]
    assert report.ok and report.chunks_added > 10
    # the cache was pre-filled with this corpus: every chunk's vector came from it
    assert report.embedded == 0 and report.embed_cache_hits == report.chunks_added
    for mode in ("hybrid", "dense", "bm25"):
        hits = lib.search("list directory contents", k=3, mode=mode)
        assert _top_paths(hits)[0] == "ls.txt", (mode, _top_paths(hits))
        assert [h.rank for h in hits] == [1, 2, 3]
    hits = lib.search("print lines that match patterns", k=3)
    assert _top_paths(hits)[0] == "grep.txt"
    hits = lib.search("when is it going to rain", k=2, mode="dense")
    assert _top_paths(hits)[0] == "page.html"


def test_hits_cite_exact_spans_and_context(lib_and_corpus):
    lib, _work, _ = lib_and_corpus
    hits = lib.search("restore a snapshot archive", k=5, where={"kind": "markdown"})
    assert hits and all(Path(h.path).name == "guide.md" for h in hits)
    top = hits[0].chunk
    assert "Restore" in top.context or "Backup guide" in top.context
    for h in lib.search("tar archive", k=10):
        text = lib.document_text(h.path)
        assert text[h.chunk.start : h.chunk.end] == h.chunk.text
        lines = text.split("\n")
        first = text[: h.chunk.start].count("\n") + 1
        assert h.chunk.line_start == first
        assert h.chunk.line_end >= h.chunk.line_start and h.chunk.line_end <= len(lines)


def test_where_filter_applies_in_every_mode(lib_and_corpus):
    lib, _, _ = lib_and_corpus
    for mode in ("hybrid", "dense", "bm25"):
        hits = lib.search("copy file", k=5, mode=mode, where={"lang": "python"})
        assert hits, mode
        assert {Path(h.path).name for h in hits} == {"shutil_copy.py"}, mode
        hits = lib.search("list directory", k=5, mode=mode, where={"path": "*/ls.txt"})
        assert {Path(h.path).name for h in hits} == {"ls.txt"}
    assert lib.search("anything", where={"lang": "cobol"}) == []


def test_reindex_unchanged_does_no_chunking_or_embedding(lib_and_corpus, monkeypatch):
    lib, work, first = lib_and_corpus
    calls = {"chunk": 0, "embed": 0}
    real_chunk, real_embed = lib.chunker.chunk, lib.embedder.embed

    def count_chunk(*a, **kw):
        calls["chunk"] += 1
        return real_chunk(*a, **kw)

    def count_embed(*a, **kw):
        calls["embed"] += 1
        return real_embed(*a, **kw)

    monkeypatch.setattr(lib.chunker, "chunk", count_chunk)
    monkeypatch.setattr(lib.embedder, "embed", count_embed)
    again = lib.index([work])
    assert len(again.unchanged) == len(first.added)
    assert (again.added, again.updated, again.removed) == ([], [], [])
    assert calls == {"chunk": 0, "embed": 0}

    # touched but identical content: still no work
    for p in work.rglob("*"):
        if p.is_file():
            os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))
    touched = lib.index([work])
    assert len(touched.unchanged) == len(first.added) and calls == {"chunk": 0, "embed": 0}


def test_changed_and_deleted_files(lib_and_corpus):
    lib, work, _ = lib_and_corpus
    before = set(lib._indices()[0].ids().tolist())
    guide = work / "guide.md"
    guide.write_text(guide.read_text() + "\n## Verify\n\nCompare checksums of the zebra files.\n")
    (work / "tar.txt").unlink()
    report = lib.index([work])
    assert [Path(p).name for p in report.updated] == ["guide.md"]
    assert [Path(p).name for p in report.removed] == ["tar.txt"]
    # unchanged sections of guide.md reuse cached embeddings
    assert report.embed_cache_hits >= 1 and report.embedded >= 1
    dense, sparse = lib._indices()
    store_ids = lib.store.chunk_ids()
    assert np.array_equal(np.sort(dense.ids()), store_ids)
    assert np.array_equal(np.sort(sparse.ids()), store_ids)
    assert before - set(store_ids.tolist())  # old ids are gone
    assert all(Path(h.path).name != "tar.txt" for h in lib.search("tar archive", k=10))
    hits = lib.search("zebra checksums", k=1, mode="bm25")
    assert Path(hits[0].path).name == "guide.md" and "Verify" in hits[0].chunk.context


def test_reopen_and_rebuild_indices_without_embedding(lib_and_corpus, embedder, monkeypatch):
    lib, _work, _ = lib_and_corpus
    expected = [h.chunk.id for h in lib.search("regular expression", k=5)]
    folder = lib.folder
    lib.close()
    # lose both index files: they are rebuilt from the store, with no embedding at all
    shutil.rmtree(folder / "bm25")
    p = folder / "faiss.index"
    shutil.rmtree(p) if p.is_dir() else p.unlink()

    def no_embed(*a, **kw):
        raise AssertionError("documents must not be embedded again")

    monkeypatch.setattr(embedder, "embed", no_embed)
    reopened = lcmem.open(folder)
    monkeypatch.setattr(reopened.embedder, "embed", no_embed)
    got = [h.chunk.id for h in reopened.search("regular expression", k=5, mode="bm25")]
    assert got
    monkeypatch.undo()
    assert [h.chunk.id for h in reopened.search("regular expression", k=5)] == expected
    reopened.close()


class _OtherEmbedder(Embedder):
    """A unit-test double with another name and dimension."""

    name = "other-model"
    dim = 8
    max_tokens = 64

    def embed(self, texts, kind="document", progress=None):
        return np.ones((len(texts), 8), dtype=np.float32) / np.sqrt(8)


def test_other_embedder_is_a_clear_error(lib_and_corpus):
    lib, _, _ = lib_and_corpus
    lib.close()
    with pytest.raises(EmbedderMismatchError, match="built with embedder"):
        lcmem.open(lib.folder, embedder=_OtherEmbedder())


def test_bad_input(tmp_path, embedder):
    lib = lcmem.open(tmp_path / "store", embedder=embedder)
    with pytest.raises(PathNotFoundError, match="does not exist"):
        lib.index([tmp_path / "nope"])
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Title\n\nThe lighthouse keeper lit the lamp at dusk.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    report = lib.index([docs, tmp_path / "missing-too"])
    assert [Path(p).name for p in report.added] == ["good.md"]
    names = {Path(p).name for p, _ in report.errors}
    assert names == {"broken.pdf", "missing-too"}
    assert not report.ok
    with pytest.raises(EmptyQueryError):
        lib.search("   ")
    with pytest.raises(ConfigError, match="mode"):
        lib.search("lamp", mode="fuzzy")  # type: ignore[arg-type]
    assert Path(lib.search("lamp")[0].path).name == "good.md"
    lib.close()


def test_empty_library_search_returns_nothing(tmp_path, embedder):
    lib = lcmem.open(tmp_path / "empty", embedder=embedder)
    assert lib.search("anything") == []
    assert lib.status()["documents"] == 0


@pytest.mark.postgres
def test_library_on_postgresql(tmp_path, corpus, embedder, fresh_postgres_url):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("ls.txt", "guide.md"):
        shutil.copy(corpus / name, docs / name)
    lib = lcmem.open(url=fresh_postgres_url, embedder=embedder, index_dir=tmp_path / "idx")
    report = lib.index([docs])
    assert len(report.added) == 2 and report.ok
    assert lib.status()["database"] == "postgresql"
    hits = lib.search("restore a snapshot", k=3, where={"kind": "markdown"})
    assert hits and Path(hits[0].path).name == "guide.md"
    for mode in ("bm25", "dense", "hybrid"):
        assert Path(lib.search("list directory contents", mode=mode)[0].path).name == "ls.txt"
    (docs / "ls.txt").unlink()
    assert [Path(p).name for p in lib.index([docs]).removed] == ["ls.txt"]
    lib.close()
    # a second process sees the same library; its index files are rebuilt from the database
    again = lcmem.open(url=fresh_postgres_url, index_dir=tmp_path / "other-idx")
    assert again.documents() == [str((docs / "guide.md").resolve())]
    assert Path(again.search("nightly backup", mode="bm25")[0].path).name == "guide.md"
    again.close()


def test_other_chunker_settings_are_a_clear_error(lib_and_corpus):
    lib, work, _ = lib_and_corpus
    lib.close()
    other = lcmem.open(lib.folder, chunk_size=64)
    with pytest.raises(ConfigError, match=r"chunked with auto \(size 200, overlap 20\)"):
        other.index([work])
    other.close()
    same = lcmem.open(lib.folder, chunker="auto")  # the same settings, spelled out, are fine
    assert len(same.index([work]).unchanged) == 6
    same.close()


def test_a_failing_chunker_loses_only_that_file(tmp_path, embedder):
    from lcmem.chunkers import RecursiveChunker

    class Fragile(RecursiveChunker):
        def _chunk(self, doc):
            if "BOOM" in doc.text:
                raise RuntimeError("cannot split this")
            return super()._chunk(doc)

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("Otters hold hands while they sleep.\n")
    (docs / "bad.txt").write_text("BOOM goes the dynamite.\n")
    lib = lcmem.open(tmp_path / "s", embedder=embedder, chunker=Fragile())
    report = lib.index([docs])
    assert [Path(p).name for p in report.added] == ["ok.txt"]
    assert [(Path(p).name, "RuntimeError" in m) for p, m in report.errors] == [("bad.txt", True)]
    assert Path(lib.search("otters sleeping")[0].path).name == "ok.txt"
    lib.close()


def test_fusion_setting_override_and_document_groups(lib_and_corpus):
    from lcmem.indexers.fusion import DEFAULT_FUSION, Fusion

    lib, _, _ = lib_and_corpus
    assert Fusion.from_dict(lib.manifest["fusion"]) == DEFAULT_FUSION == lib.fusion
    hits = lib.search("tar archive", k=30)
    top = hits[0].scores
    assert top["dense_weight"] + top["bm25_weight"] == pytest.approx(1.0)
    assert top["dense_part"] + top["bm25_part"] == pytest.approx(hits[0].score)
    assert 0.0 <= top["bm25_coverage"] <= 1.0  # the default weighs BM25 by its coverage
    rrf = lib.search("tar archive", k=5, fusion="rrf:k=60")
    assert rrf[0].score <= 2 / 61  # an RRF score, not a z-score sum
    # quoted words and identifiers raise the BM25 weight; the hit says so
    boosted = lib.search('"copyfileobj"', k=3, fusion="zscore:boost=2,adaptive=0")
    assert Path(boosted[0].path).name == "shutil_copy.py"
    assert boosted[0].scores["boost"] == 2.0
    assert boosted[0].scores["bm25_weight"] > boosted[0].scores["dense_weight"]
    # phrase evidence: chunks holding "tar archive" side by side say so (Library passes terms)
    phrased = lib.search("tar archive", k=10, fusion="zscore:phrase=3")
    shares = [h.scores.get("bm25_phrase", 0.0) for h in phrased]
    assert max(shares) == 1.0 and all(0.0 <= x <= 1.0 for x in shares)
    plain = {h.chunk.id: h.scores.get("bm25") for h in hits}
    for h in phrased:  # Hit.scores keeps the raw BM25 score
        if h.chunk.id in plain and plain[h.chunk.id] is not None:
            assert h.scores["bm25"] == pytest.approx(plain[h.chunk.id])
    # one hit per document: the best chunk first, the document's other matching chunks attached
    docs = lib.search("tar archive", k=3, group="document")
    paths = [h.path for h in docs]
    assert len(docs) == 3 and len(set(paths)) == 3 and [h.rank for h in docs] == [1, 2, 3]
    assert docs[0].chunk.id == hits[0].chunk.id
    for d in docs:
        assert all(o.path == d.path and o.score <= d.score for o in d.others)
    assert sum(len(d.others) for d in docs) > 0
    assert docs[0].to_dict()["others"][0]["path"] == docs[0].path
    with pytest.raises(ConfigError, match="unknown fusion"):
        lib.search("tar", fusion="nope")
    with pytest.raises(ConfigError, match="group"):
        lib.search("tar", group="file")  # type: ignore[arg-type]


def test_a_second_writer_is_refused_while_one_indexes(tmp_path, embedder):
    import subprocess
    import sys

    from lcmem.errors import StoreError

    lib = lcmem.open(tmp_path / "store", embedder=embedder)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nThe lighthouse keeper lit the lamp at dusk.\n")
    holder = subprocess.Popen(  # another process holds the writer lock until told to stop
        [
            sys.executable,
            "-c",
            "import sys, filelock; lock = filelock.FileLock(sys.argv[1]); lock.acquire(); "
            "print('held', flush=True); sys.stdin.read()",
            str(lib.folder / "lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match=r"another process is indexing.*wait"):
            lib.index([docs])
    finally:
        holder.communicate("", timeout=30)
    assert [Path(p).name for p in lib.index([docs]).added] == ["a.md"]  # free again
    lib.close()


def test_an_open_reader_follows_another_writers_commits(lib_and_corpus, embedder, tmp_path):
    """Issue 18: a long-lived reader with its own index folder (as ``lcmem serve`` on another
    machine) sees what another Library commits to the same store, at its next search: added
    and changed documents are found, removed ones are gone, as for a fresh open."""
    writer, work, _ = lib_and_corpus
    url = f"sqlite:///{writer.folder / 'lcmem.db'}"
    reader = lcmem.open(url=url, index_dir=tmp_path / "reader", embedder=embedder)
    assert "tar.txt" in _top_paths(reader.search("tar archive", k=5))
    assert "cron.md" not in _top_paths(reader.search("nightly backup with cron", k=5))

    (work / "tar.txt").unlink()
    (work / "cron.md").write_text("# Cron\n\nSchedule the nightly backup job with crontab -e.\n")
    with (work / "grep.txt").open("a") as f:
        f.write("\nZEBRA-CHECKSUM: grep can verify zebra checksums too.\n")
    report = writer.index([work])
    assert report.removed and report.added and report.updated

    fresh = lcmem.open(url=url, index_dir=tmp_path / "fresh", embedder=embedder)
    for query in ("tar archive", "nightly backup with cron", "zebra checksums", "grep"):
        for mode in ("dense", "bm25", "hybrid"):
            got = [h.chunk.id for h in reader.search(query, k=5, mode=mode)]
            assert got == [h.chunk.id for h in fresh.search(query, k=5, mode=mode)], (query, mode)
    assert "tar.txt" not in _top_paths(reader.search("tar archive", k=10))
    assert _top_paths(reader.search("zebra checksums", k=1, mode="bm25")) == ["grep.txt"]
    assert len(reader._sparse) == len(reader._dense) == writer.store.chunk_count()
    reader.close()
    fresh.close()
