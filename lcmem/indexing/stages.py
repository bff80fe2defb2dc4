"""The stages of an index run, each a plain function over one file or one batch.

read -> chunk -> embed -> commit -> update indices. A stage returns what happened
(:class:`Pending`, :class:`Unchanged`, :class:`Failed`...) instead of writing to a report, so
that the local executor and the Ray executor (where stages run in other processes) share it.

Example:
    >>> from lcmem.types import Chunk, Document
    >>> doc = Document("one\\ntwo\\n", path="a.txt")
    >>> [(n.line_start, n.line_end) for n in with_lines(doc, [Chunk("two", 4, 7)])]
    [(2, 2)]
"""

from __future__ import annotations

import bisect
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lcmem.chunkers.base import Chunker
from lcmem.embedders.base import Embedder
from lcmem.errors import LoadError
from lcmem.stores.sql import NewChunk, SQLStore, StoredDocument
from lcmem.stores.store import Store
from lcmem.types import Chunk, Document, content_hash, line_starts

DOC_ONLY_METADATA = frozenset({"pages"})  # per-document lists not copied onto chunks


@dataclass
class Pending:
    """A document read (and, once chunked, with its chunks) waiting to be embedded and
    committed."""

    doc: Document
    raw_hash: str
    size: int
    mtime_ns: int
    existing: StoredDocument | None
    chunks: list[NewChunk] = field(default_factory=list)


@dataclass
class Unchanged:
    """A file whose content hash is the stored one: only its size and mtime are recorded."""

    path: str
    doc_id: int
    size: int
    mtime_ns: int


@dataclass
class Failed:
    """A file that could not be read, loaded or chunked (its previous version is kept)."""

    path: str
    message: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class Embedded:
    """Vectors of a batch: ``vectors`` for every chunk hash, ``fresh`` the ones computed now."""

    vectors: dict[str, np.ndarray]
    fresh: dict[str, np.ndarray]
    cache_hits: int
    seconds: float
    truncated: dict[str, int]  # document path -> tokens the embedder cut


def read(f: Any, existing: StoredDocument | None) -> Pending | Unchanged | Failed:
    """Read a ``SourceFile``: unchanged content (same hash as stored), a failure, or a
    :class:`Pending` document to chunk."""
    from lcmem.loaders import read_document

    path = str(f.path)
    try:
        data = f.path.read_bytes()
    except OSError as exc:
        return Failed(path, f"cannot read: {exc.strerror or exc}")
    raw_hash = hashlib.blake2b(data, digest_size=16).hexdigest()
    if existing and existing.content_hash == raw_hash:
        return Unchanged(path, existing.id, f.size, f.mtime_ns)
    try:
        doc = read_document(f.path, data, root=f.root)
    except LoadError as exc:
        return Failed(path, str(exc))
    return Pending(doc, raw_hash, f.size, f.mtime_ns, existing)


def chunk(chunker: Chunker, items: list[Pending]) -> list[Pending | Failed]:
    """Chunk documents together (one call for chunkers that batch); a document whose chunking
    fails becomes a :class:`Failed` and the others go on. Order is kept."""
    try:
        groups = chunker.chunk_many([p.doc for p in items]) if len(items) > 1 else None
    except Exception:  # find the culprit one document at a time
        groups = None
    out: list[Pending | Failed] = []
    for i, item in enumerate(items):
        try:
            item.chunks = with_lines(
                item.doc, groups[i] if groups is not None else chunker.chunk(item.doc)
            )
        except Exception as exc:  # a chunker bug must not stop the run or lose the rest
            message = f"chunking failed ({type(exc).__name__}: {exc})"
            out.append(Failed(item.doc.path, message, list(item.doc.warnings)))
            continue
        out.append(item)
    return out


def with_lines(doc: Document, chunks: list[Chunk]) -> list[NewChunk]:
    """Each chunk gets its line range, the document's metadata and its embedding key."""
    lines = line_starts(doc.text)
    pages = doc.metadata.get("pages")
    shared = {k: v for k, v in doc.metadata.items() if k not in DOC_ONLY_METADATA}
    out = []
    for c in chunks:
        first = bisect.bisect_right(lines, c.start)
        last = bisect.bisect_right(lines, max(c.start, c.end - 1))
        c.metadata = {**shared, **c.metadata}
        if isinstance(pages, list) and pages:
            c.metadata["page"] = bisect.bisect_right(pages, c.start)
        out.append(NewChunk(c, first, last, content_hash(c.embedding_text())))
    return out


def embed(
    embedder: Embedder,
    store: SQLStore | Store,
    pending: Sequence[Pending],
    progress: Callable[[int], Any] | None = None,
) -> Embedded:
    """Vectors for every chunk of ``pending``: from the store's cache by content hash, the
    rest embedded (each distinct text once)."""
    all_chunks = [n for p in pending for n in p.chunks]
    dim = embedder.dim
    vectors = store.get_embeddings([n.embed_hash for n in all_chunks], dim)
    todo: dict[str, str] = {}
    owner: dict[str, str] = {}
    for p in pending:
        for n in p.chunks:
            if n.embed_hash not in vectors and n.embed_hash not in todo:
                todo[n.embed_hash] = n.chunk.embedding_text()
                owner[n.embed_hash] = p.doc.path
    hits = len(all_chunks) - len(todo)
    if hits and progress is not None:
        progress(hits)
    fresh: dict[str, np.ndarray] = {}
    seconds = 0.0
    if todo:
        t0 = time.perf_counter()
        vecs = embedder.embed(list(todo.values()), kind="document", progress=progress)
        seconds = time.perf_counter() - t0
        fresh = dict(zip(todo, vecs, strict=True))
        vectors.update(fresh)
    return Embedded(vectors, fresh, hits, seconds, truncated(embedder, todo, owner))


def truncated(embedder: Embedder, todo: dict[str, str], owner: dict[str, str]) -> dict[str, int]:
    """Tokens ``embedder`` cut from the texts of ``todo``, summed per document path."""
    lost: dict[str, int] = {}
    if not todo:
        return lost
    for h, n in zip(todo, embedder.lost_tokens(list(todo.values())), strict=True):
        if n:
            lost[owner[h]] = lost.get(owner[h], 0) + n
    return lost


def commit(
    store: SQLStore | Store, pending: Sequence[Pending], fresh: dict[str, np.ndarray]
) -> tuple[list[int], list[int]]:
    """Write documents, chunks and new vectors in one transaction; returns the new chunk ids
    (in chunk order) and the ids of the chunks they replaced."""
    new_ids: list[int] = []
    old_ids: list[int] = []
    with store.transaction() as conn:
        store.put_embeddings(conn, fresh)
        for p in pending:
            added, replaced = _write_document(store, conn, p, p.existing.id if p.existing else None)
            old_ids += replaced
            new_ids += added
    return new_ids, old_ids


def _write_document(
    store: SQLStore | Store, conn: Any, p: Pending, existing_id: int | None
) -> tuple[list[int], list[int]]:
    """Upsert one pending document and insert its chunks: (new chunk ids, replaced ids)."""
    doc_id, replaced = store.upsert_document(
        conn,
        path=p.doc.path,
        content_hash=p.raw_hash,
        size=p.size,
        mtime_ns=p.mtime_ns,
        text=p.doc.text,
        meta=p.doc.metadata,
        existing_id=existing_id,
    )
    return store.insert_chunks(conn, doc_id, p.chunks), replaced


def touch(store: SQLStore | Store, items: Sequence[Unchanged]) -> None:
    """Record the new size and mtime of files whose content did not change."""
    if items:
        with store.engine.begin() as conn:
            for u in items:
                store.touch(conn, u.doc_id, u.size, u.mtime_ns)


def delete(store: SQLStore | Store, docs: Sequence[StoredDocument]) -> list[int]:
    """Delete documents (and their chunks) from the store; returns the removed chunk ids."""
    if not docs:
        return []
    with store.transaction() as conn:
        return store.delete_documents(conn, [d.id for d in docs])


def add_to_indices(
    dense: Any, sparse: Any, ids: Sequence[int], vectors: np.ndarray, tokens: list[Any]
) -> None:
    """Add committed chunks to the FAISS and BM25 indices."""
    arr = np.asarray(ids, dtype=np.int64)
    if len(arr):
        dense.add(arr, vectors)
        sparse.add(arr, tokens)


def drop_from_indices(dense: Any, sparse: Any, ids: Sequence[int]) -> None:
    """Remove chunk ids from the FAISS and BM25 indices."""
    if ids:
        arr = np.asarray(ids, dtype=np.int64)
        dense.remove(arr)
        sparse.remove(arr)


def commit_idempotent(
    store: SQLStore | Store, pending: Sequence[Pending], fresh: dict[str, np.ndarray]
) -> list[tuple[str, int, int]]:
    """Like :func:`commit`, safe to run again and from several processes at once: each
    document's row is locked and looked up by path inside the transaction, and a document
    whose stored content hash is already this one is left as it is (a retried batch whose
    first attempt committed). Returns ``(status, chunks written, chunks replaced)`` per
    document, status ``added``, ``updated`` or ``already``."""
    out: list[tuple[str, int, int]] = []
    with store.transaction() as conn:
        store.put_embeddings(conn, fresh)
        for p in pending:
            current = store.lock_document(conn, p.doc.path)
            if current is not None and current.content_hash == p.raw_hash:
                out.append(("already", len(p.chunks), 0))
                continue
            new_ids, replaced = _write_document(store, conn, p, current.id if current else None)
            out.append(("updated" if current else "added", len(new_ids), len(replaced)))
    return out
