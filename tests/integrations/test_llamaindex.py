"""LcmemRetriever against the real llama-index-core package and a real library."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import pytest

from tests.extras import needs

needs("llama_index.core", extra="llamaindex")

from llama_index.core.retrievers import BaseRetriever  # noqa: E402
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode  # noqa: E402

from lcmem.errors import ConfigError  # noqa: E402
from lcmem.integrations.llamaindex import LcmemRetriever  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def no_network(monkeypatch):
    """Fail any connection attempt to a non-loopback address (nothing may download)."""
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"network access to {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def test_nodes_carry_text_span_and_score(library, no_network):
    retriever = LcmemRetriever(library, k=3)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve("print lines that match a pattern")
    hits = library.search("print lines that match a pattern", k=3)
    assert len(nodes) == 3 and all(isinstance(n, NodeWithScore) for n in nodes)
    for n, h in zip(nodes, hits, strict=True):
        node = n.node
        assert isinstance(node, TextNode)
        assert node.node_id == str(h.chunk.id) and node.text == h.text
        assert (node.start_char_idx, node.end_char_idx) == (h.chunk.start, h.chunk.end)
        assert n.score == pytest.approx(h.score)
        assert node.ref_doc_id == h.path
        meta = node.metadata
        assert meta["path"] == h.path and meta["chunk_id"] == h.chunk.id
        assert (meta["line_start"], meta["line_end"]) == (h.chunk.line_start, h.chunk.line_end)
        text = library.document_text(h.path)
        assert text[node.start_char_idx : node.end_char_idx] == node.text
    assert Path(nodes[0].node.metadata["path"]).name == "grep.txt"
    shown = nodes[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert "path: " in shown and "chunk_id" not in shown and nodes[0].node.text in shown


def test_query_bundle_mode_where_and_store(library, no_network):
    retriever = LcmemRetriever(store=library.location, k=2, mode="bm25", where={"kind": "markdown"})
    nodes = retriever.retrieve(QueryBundle("restore a snapshot"))
    assert nodes and all(n.node.metadata["path"].endswith("guide.md") for n in nodes)
    assert nodes[0].node.metadata["context"].startswith("Backup guide")
    retriever.library.close()
    with pytest.raises(ConfigError):
        LcmemRetriever()
    with pytest.raises(ConfigError):
        LcmemRetriever(library, mode="fuzzy")


QUERIES = ["print lines that match a pattern", "restore a snapshot", "copy files", "tar archive"]


def test_similarity_top_k_is_llamaindex_s_name_for_k(library, no_network):
    retriever = LcmemRetriever(library, similarity_top_k=2)
    assert retriever.similarity_top_k == retriever.k == 2
    assert len(retriever.retrieve("grep")) == 2
    assert LcmemRetriever(library, k=3).similarity_top_k == 3
    assert LcmemRetriever(library).similarity_top_k == 4
    with pytest.raises(ConfigError, match="disagree"):
        LcmemRetriever(library, similarity_top_k=2, k=3)


def test_aretrieve_searches_off_the_event_loop_and_matches_retrieve(
    library, no_network, monkeypatch
):
    retriever = LcmemRetriever(library, similarity_top_k=3)
    threads: list[int] = []
    real_search = library.search

    def recording(*args, **kwargs):
        threads.append(threading.get_ident())
        return real_search(*args, **kwargs)

    monkeypatch.setattr(library, "search", recording)

    async def concurrently():
        return threading.get_ident(), await asyncio.gather(
            *(retriever.aretrieve(q) for q in QUERIES)
        )

    loop_thread, results = asyncio.run(concurrently())
    assert len(threads) == len(QUERIES) and loop_thread not in threads
    sync = [retriever.retrieve(q) for q in QUERIES]
    assert [[n.node.node_id for n in r] for r in results] == [
        [n.node.node_id for n in r] for r in sync
    ]
    assert retriever.library is library  # opened once, reused
