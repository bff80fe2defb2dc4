"""The in-memory DocumentIndex passes chunk terms to the hybrid search: phrase evidence works
there as in a library (a constant-vector embedder double, so only BM25 decides)."""

from __future__ import annotations

import numpy as np

from lcmem.pipelines.sources import DocumentIndex
from lcmem.types import Document


class Flat:
    """Embedder double: the same unit vector for every text (the dense side ties everything)."""

    dim = 4

    def embed(self, texts, kind="document"):
        return np.tile(np.array([1.0, 0.0, 0.0, 0.0], np.float32), (len(texts), 1))

    def embed_query(self, text):
        return np.array([1.0, 0.0, 0.0, 0.0], np.float32)


def test_document_index_ranks_the_whole_phrase_first():
    docs = [
        Document("The north gate of Lisbon was painted teal. The old tower stood by.", "a.txt"),
        Document("The old gate of Porto was painted navy, near Lisbon harbour.", "b.txt"),
        Document("Long ago the old gate of Lisbon was painted crimson by the guild.", "c.txt"),
    ] + [
        Document(f"Ships leave harbour {n} at dawn with bread and fish.", f"f{n}.txt")
        for n in range(6)
    ]
    index = DocumentIndex(docs, embedder=Flat())  # type: ignore[arg-type]
    hits = index.search("What color was the old gate of Lisbon painted?", k=3)
    assert hits[0].path == "c.txt"
    assert hits[0].scores["bm25_phrase"] > max(h.scores.get("bm25_phrase", 0.0) for h in hits[1:])
