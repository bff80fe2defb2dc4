"""Where a pipeline's text comes from: a library, documents given directly, or both.

:func:`retrieve` searches a library, or a throwaway in-memory hybrid index of the documents
given (:class:`DocumentIndex`: the library's chunker, embedder, FAISS + BM25 and rank fusion,
nothing written to disk), so every retrieval pipeline also works on ``--doc`` files.

Example:
    >>> from lcmem.types import Document
    >>> index = DocumentIndex([Document("Cats purr. Dogs bark.", path="pets.txt")])
    >>> index.search("what do dogs do?", k=1)[0].path               # doctest: +SKIP
    'pets.txt'
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lcmem.errors import ConfigError, EmptyLibraryError
from lcmem.types import Chunk, Document, Hit, line_starts

if TYPE_CHECKING:
    from lcmem.embedders.base import Embedder
    from lcmem.library import Library


class DocumentIndex:
    """An in-memory hybrid (dense + BM25) index of a few documents, built on first search.

    Args:
        documents: what to index.
        embedder: default the packaged all-MiniLM-L6-v2.
        chunk_size: chunk budget in the embedder's tokens (default the library's, 200).
    """

    def __init__(
        self,
        documents: Sequence[Document],
        embedder: Embedder | None = None,
        chunk_size: int | None = None,
    ) -> None:
        self.documents = list(documents)
        self._embedder = embedder
        self.chunk_size = chunk_size
        self.chunks: list[Chunk] = []
        self._hybrid: Any = None
        self._analyzer: Any = None
        self._terms: list[list[str]] = []  # analyzed chunk texts (BM25 terms, phrase evidence)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = _default_embedder()
        return self._embedder

    def _build(self) -> None:
        from lcmem.chunkers import get_chunker
        from lcmem.indexers.analyzer import Analyzer
        from lcmem.indexers.bm25 import BM25Index
        from lcmem.indexers.faiss import FaissIndex
        from lcmem.indexers.hybrid import HybridIndex

        kwargs = {"chunk_size": self.chunk_size} if self.chunk_size else {}
        chunker = get_chunker("auto", **kwargs)
        for doc in self.documents:
            starts = line_starts(doc.text)
            for c in chunker.chunk(doc):
                c.doc_path = doc.path
                c.line_start = bisect.bisect_right(starts, c.start)
                c.line_end = bisect.bisect_right(starts, max(c.start, c.end - 1))
                c.id = len(self.chunks)
                self.chunks.append(c)
        self._analyzer = Analyzer()
        texts = [c.embedding_text() for c in self.chunks]
        vectors = self.embedder.embed(texts, kind="document")
        self._hybrid = HybridIndex(FaissIndex(self.embedder.dim), BM25Index())
        ids = list(range(len(self.chunks)))
        self._terms = self._analyzer.many(texts)
        self._hybrid.add(ids, vectors, self._terms)

    def search(self, query: str, k: int = 8) -> list[Hit]:
        """Best ``k`` chunks for ``query`` (dense and BM25, fused by lcmem's default fusion)."""
        if self._hybrid is None:
            self._build()
        if not self.chunks:
            return []
        found = self._hybrid.search(
            self.embedder.embed_query(query),
            self._analyzer(query),
            k,
            text=query,
            terms_of=lambda ids: {i: self._terms[i] for i in ids},  # phrase evidence
        )
        return [
            Hit(self.chunks[i], float(score), rank=r, scores=detail)
            for r, (i, score, detail) in enumerate(found, start=1)
        ]


@lru_cache(maxsize=1)
def _default_embedder() -> Embedder:
    """The packaged embedder, loaded once per process for every in-memory index."""
    from lcmem.embedders.auto import load_embedder

    return load_embedder()


class Sources:
    """The library and/or documents one ``ask`` reads, with a cached document index."""

    def __init__(self) -> None:
        self._index: DocumentIndex | None = None
        self._key: tuple[str, ...] = ()

    def retrieve(
        self,
        question: str,
        k: int,
        *,
        library: Library | None,
        documents: Sequence[Document] | None,
        mode: str = "hybrid",
        where: dict[str, Any] | None = None,
    ) -> list[Hit]:
        """Best ``k`` hits from the library, else from an in-memory index of ``documents``.

        Raises:
            ConfigError: neither a library nor documents were given.
            EmptyLibraryError: the library (or the documents) hold no text.
        """
        require_source(library, documents)
        if library is not None:
            require_filled(library)
            return library.search(question, k=k, mode=mode, where=where)  # type: ignore[arg-type]
        assert documents is not None
        key = tuple(d.hash + d.path for d in documents)
        if self._index is None or key != self._key:
            self._index, self._key = DocumentIndex(documents), key
        return self._index.search(question, k=k)


def require_source(library: Library | None, documents: Sequence[Document] | None) -> None:
    """Raise unless a filled library or at least one non-empty document was given.

    Pipelines call it first, so a bad source fails before any model is loaded.
    """
    if library is None and documents is None:
        raise ConfigError("nothing to read: pass library= (an lcmem library) or documents=")
    if documents is not None:
        if not any(d.text.strip() for d in documents):
            raise EmptyLibraryError("the documents given are empty: pass files that hold text")
    elif library is not None:
        require_filled(library)


def require_filled(library: Library) -> None:
    """Raise :class:`EmptyLibraryError` if ``library`` holds no chunks."""
    if library.store.chunk_count() == 0:
        raise EmptyLibraryError(
            f"the library at {library.location} is empty: run `lcmem index PATH` first "
            "(or pass --doc FILE)"
        )


def library_documents(library: Library, paths: Sequence[str] | None = None) -> list[Document]:
    """Documents of a library (all of them, or those at ``paths``) with their stored text."""
    require_filled(library)
    chosen = library.documents() if paths is None else list(paths)
    return [Document(text=library.document_text(p), path=p) for p in chosen]
