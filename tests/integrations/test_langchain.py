"""LcmemRetriever against the real langchain-core package and a real library."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import anyio
import pytest

from tests.extras import needs

needs("langchain_core", extra="langchain")

from langchain_core.documents import Document  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402

from lcmem.errors import ConfigError, StoreError  # noqa: E402
from lcmem.integrations.langchain import LcmemRetriever  # noqa: E402

pytestmark = pytest.mark.slow


def test_documents_carry_text_span_and_score(library):
    retriever = LcmemRetriever(library=library, k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("extract files from an archive")
    hits = library.search("extract files from an archive", k=3)
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    assert [d.page_content for d in docs] == [h.text for h in hits]
    top, hit = docs[0], hits[0]
    meta = top.metadata
    assert Path(meta["path"]).name == "tar.txt" and meta["source"] == meta["path"]
    assert library.document_text(meta["path"])[meta["start"] : meta["end"]] == top.page_content
    assert (meta["line_start"], meta["line_end"]) == (hit.chunk.line_start, hit.chunk.line_end)
    assert meta["chunk_id"] == hit.chunk.id and top.id == str(hit.chunk.id)
    assert meta["score"] == pytest.approx(hit.score) and meta["rank"] == 1
    assert meta["kind"] == "text"  # the chunk's own metadata comes along
    assert [d.metadata["score"] for d in docs] == sorted(
        (d.metadata["score"] for d in docs), reverse=True
    )


def test_mode_where_and_async(library):
    retriever = LcmemRetriever(library=library, k=2, mode="bm25", where={"kind": "markdown"})
    docs = retriever.invoke("restore a snapshot")
    assert docs and all(d.metadata["path"].endswith("guide.md") for d in docs)
    assert docs[0].metadata["context"].startswith("Backup guide")
    again = anyio.run(retriever.ainvoke, "restore a snapshot")
    assert [d.id for d in again] == [d.id for d in docs]
    # runtime overrides through LangChain's own config mechanism still work
    assert len(retriever.with_config(run_name="lcmem").invoke("tar")) <= 2


def test_store_path_and_bad_settings(library, tmp_path):
    retriever = LcmemRetriever(store=library.location, k=1, mode="bm25")
    assert len(retriever.invoke("grep patterns")) == 1
    retriever.library.close()
    with pytest.raises(ConfigError):
        LcmemRetriever(k=2)
    with pytest.raises(StoreError, match="no library at"):
        LcmemRetriever(store=tmp_path / "missing")
    assert not (tmp_path / "missing").exists()  # nothing created
    with pytest.raises(ValueError):
        LcmemRetriever(library=library, mode="fuzzy")


def test_ainvoke_searches_off_the_event_loop_and_matches_invoke(library, monkeypatch):
    retriever = LcmemRetriever(library=library, k=3)
    queries = ["print lines that match a pattern", "restore a snapshot", "copy files"]
    threads: list[int] = []
    real_search = library.search

    def recording(*args, **kwargs):
        threads.append(threading.get_ident())
        return real_search(*args, **kwargs)

    monkeypatch.setattr(library, "search", recording)

    async def concurrently():
        return threading.get_ident(), await asyncio.gather(*(retriever.ainvoke(q) for q in queries))

    loop_thread, results = asyncio.run(concurrently())
    assert len(threads) == len(queries) and loop_thread not in threads
    assert [[d.id for d in r] for r in results] == [
        [d.id for d in retriever.invoke(q)] for q in queries
    ]
    assert retriever.library is library  # opened once, reused
