"""The library's database: documents, chunks, cached embeddings and the manifest.

SQLAlchemy 2 models and a small repository class over them. SQLite (WAL mode) is the default,
inside the library folder; any SQLAlchemy URL works, PostgreSQL is tested.

The database is the source of truth of a library. The FAISS and BM25 indices are derived from it
and can always be brought back in line with it (see :meth:`SQLStore.chunk_ids`); the
``generation`` counter, bumped by every transaction that changes chunks, tells cheaply whether
saved indices are current.

Example:
    >>> store = SQLStore("sqlite://")                       # in memory
    >>> store.get_meta("generation")
    0
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from lcmem.errors import ConfigError, StoreError
from lcmem.stores.records import SCHEMA_VERSION, NewChunk, StoredDocument
from lcmem.types import Chunk


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}  # noqa: RUF012 - SQLAlchemy convention


class MetaRow(Base):
    """Key/value manifest of the library (embedder, chunker, format version, generation)."""

    __tablename__ = "lcmem_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class DocumentRow(Base):
    __tablename__ = "lcmem_documents"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(String(4096), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    indexed_at: Mapped[float] = mapped_column(Float)


class ChunkRow(Base):
    __tablename__ = "lcmem_chunks"
    # AUTOINCREMENT: SQLite must never reuse the id of a deleted chunk, since ids are the keys
    # of the FAISS and BM25 indices.
    __table_args__ = (
        Index("ix_lcmem_chunks_document", "document_id"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("lcmem_documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    line_start: Mapped[int] = mapped_column(Integer)
    line_end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    context: Mapped[str] = mapped_column(Text, default="")
    token_count: Mapped[int] = mapped_column(Integer)
    embed_hash: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EmbeddingRow(Base):
    """Embedding cache keyed by the content hash of the embedded text."""

    __tablename__ = "lcmem_embeddings"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class SQLStore:
    """Repository over the lcmem tables.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path/lcmem.db``, ``postgresql+psycopg://...``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # Two first opens of one database at once (an index run and a reader, or
                    # two workers) would both create the tables and the meta rows; the second
                    # would fail on a duplicate key. A transaction-level advisory lock makes
                    # them take turns (PostgreSQL's DDL is transactional), and is released at
                    # commit.
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _INIT_LOCK})
                Base.metadata.create_all(conn)
                if _get_meta(conn, "schema_version") is None:
                    _set_meta(conn, "schema_version", SCHEMA_VERSION)
                    _set_meta(conn, "generation", 0)
        except DatabaseError as exc:
            raise StoreError(
                f"cannot open the library database at {_safe_url(url)}: {_first_line(exc)}"
            ) from exc
        version = self.get_meta("schema_version")
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"the library at {_safe_url(url)} has schema version {version}, this lcmem "
                f"reads version {SCHEMA_VERSION}: upgrade lcmem or index into a new --store"
            )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One atomic unit of work; the generation counter is bumped on commit."""
        with self.engine.begin() as conn:
            yield conn
            conn.execute(
                update(MetaRow)
                .where(MetaRow.key == "generation")
                .values(value=_generation_plus_one(conn))
            )

    # -- manifest ------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        with self.engine.connect() as conn:
            value = _get_meta(conn, key)
        return default if value is None else value

    def set_meta(self, key: str, value: Any) -> None:
        with self.engine.begin() as conn:
            _set_meta(conn, key, value)

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation", 0))

    # -- documents -----------------------------------------------------------------------
    def documents_under(self, roots: Sequence[Path]) -> dict[str, StoredDocument]:
        """Stored documents whose path lies under one of ``roots`` (or equals one)."""
        out: dict[str, StoredDocument] = {}
        with self.engine.connect() as conn:
            for root in roots:
                r = str(root)
                prefix = r.rstrip("/") + "/"
                stmt = select(*_DOCUMENT_COLUMNS).where(
                    (DocumentRow.path == r)
                    | (func.substr(DocumentRow.path, 1, len(prefix)) == prefix)
                )
                for row in conn.execute(stmt):
                    out[row.path] = StoredDocument(*row)
        return out

    def all_documents(self) -> list[StoredDocument]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_DOCUMENT_COLUMNS).order_by(DocumentRow.path))
            return [StoredDocument(*r) for r in rows]

    def document_text(self, path: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(DocumentRow.text).where(DocumentRow.path == path)
            ).scalar_one_or_none()

    def iter_document_texts(
        self, ids: Sequence[int], batch: int = 200
    ) -> Iterator[list[tuple[int, str, str, str]]]:
        """Yield batches of ``(id, path, content_hash, text)`` (for the exact-match index)."""
        with self.engine.connect() as conn:
            for part_ids in _batches(list(ids), batch):
                stmt = select(
                    DocumentRow.id, DocumentRow.path, DocumentRow.content_hash, DocumentRow.text
                ).where(DocumentRow.id.in_(part_ids))
                yield [tuple(r) for r in conn.execute(stmt)]  # type: ignore[misc]

    def chunks_holding(self, spans: dict[int, list[tuple[int, int]]]) -> np.ndarray:
        """Ids of chunks that contain at least one of the character spans given per document
        id (for phrase search: the chunks a phrase occurrence lies in whole)."""
        out: set[int] = set()
        with self.engine.connect() as conn:
            for part in _batches(list(spans), 500):
                stmt = select(
                    ChunkRow.id, ChunkRow.document_id, ChunkRow.char_start, ChunkRow.char_end
                ).where(ChunkRow.document_id.in_(part))
                for cid, doc_id, start, end in conn.execute(stmt):
                    if any(start <= a and b <= end for a, b in spans[doc_id]):
                        out.add(cid)
        return np.asarray(sorted(out), dtype=np.int64)

    def touch(self, conn: Connection, doc_id: int, size: int, mtime_ns: int) -> None:
        """Record a new mtime for a document whose content did not change."""
        conn.execute(
            update(DocumentRow).where(DocumentRow.id == doc_id).values(size=size, mtime_ns=mtime_ns)
        )

    def upsert_document(
        self,
        conn: Connection,
        *,
        path: str,
        content_hash: str,
        size: int,
        mtime_ns: int,
        text: str,
        meta: dict[str, Any],
        existing_id: int | None,
    ) -> tuple[int, list[int]]:
        """Insert or replace a document; returns its id and the ids of chunks it replaced."""
        values = dict(
            path=path,
            content_hash=content_hash,
            size=size,
            mtime_ns=mtime_ns,
            text=text,
            meta=meta,
            indexed_at=time.time(),
        )
        if existing_id is None:
            doc_id = conn.execute(
                insert(DocumentRow).values(**values).returning(DocumentRow.id)
            ).scalar_one()
            return int(doc_id), []
        old = self._delete_chunks_of(conn, [existing_id])
        conn.execute(update(DocumentRow).where(DocumentRow.id == existing_id).values(**values))
        return existing_id, old

    def lock_document(self, conn: Connection, path: str) -> StoredDocument | None:
        """The stored document at ``path``, its row locked until ``conn`` commits (PostgreSQL
        ``SELECT ... FOR UPDATE``; SQLite has one writer anyway); ``None`` if absent."""
        row = conn.execute(
            select(*_DOCUMENT_COLUMNS).where(DocumentRow.path == path).with_for_update()
        ).first()
        return StoredDocument(*row) if row is not None else None

    def delete_documents(self, conn: Connection, doc_ids: Sequence[int]) -> list[int]:
        """Delete documents and their chunks; returns the removed chunk ids."""
        removed: list[int] = []
        for batch in _batches(list(doc_ids), 500):
            removed += self._delete_chunks_of(conn, batch)
            conn.execute(delete(DocumentRow).where(DocumentRow.id.in_(batch)))
        return removed

    def _delete_chunks_of(self, conn: Connection, doc_ids: Sequence[int]) -> list[int]:
        ids = list(
            conn.execute(select(ChunkRow.id).where(ChunkRow.document_id.in_(doc_ids))).scalars()
        )
        if ids:
            conn.execute(delete(ChunkRow).where(ChunkRow.document_id.in_(doc_ids)))
        return ids

    # -- chunks --------------------------------------------------------------------------
    def insert_chunks(self, conn: Connection, doc_id: int, chunks: Sequence[NewChunk]) -> list[int]:
        """Insert a document's chunks in order; returns their new ids."""
        if not chunks:
            return []
        rows = [
            dict(
                document_id=doc_id,
                ordinal=i,
                char_start=n.chunk.start,
                char_end=n.chunk.end,
                line_start=n.line_start,
                line_end=n.line_end,
                text=n.chunk.text,
                context=n.chunk.context,
                token_count=n.chunk.token_count,
                embed_hash=n.embed_hash,
                meta=n.chunk.metadata,
            )
            for i, n in enumerate(chunks)
        ]
        result = conn.execute(
            insert(ChunkRow).returning(ChunkRow.id, sort_by_parameter_order=True),
            rows,
        )
        return [int(r[0]) for r in result]

    def chunk_ids(self) -> np.ndarray:
        """Every chunk id in the store, sorted (int64)."""
        with self.engine.connect() as conn:
            ids = conn.execute(select(ChunkRow.id).order_by(ChunkRow.id)).scalars().all()
        return np.asarray(ids, dtype=np.int64)

    def chunk_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count(ChunkRow.id))).scalar_one())

    def has_chunks(self) -> bool:
        """Whether any chunk exists (one row read, unlike :meth:`chunk_count`)."""
        with self.engine.connect() as conn:
            return conn.execute(select(ChunkRow.id).limit(1)).first() is not None

    def document_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count(DocumentRow.id))).scalar_one())

    def get_chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        """Chunks by id, with their document path and line range."""
        out: dict[int, Chunk] = {}
        with self.engine.connect() as conn:
            for batch in _batches(list(ids), 500):
                stmt = (
                    select(*_CHUNK_COLUMNS, DocumentRow.path)
                    .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
                    .where(ChunkRow.id.in_(batch))
                )
                for row in conn.execute(stmt):
                    out[row.id] = _to_chunk(row)
        return out

    def iter_chunk_texts(
        self, ids: Sequence[int] | None = None, batch: int = 2000
    ) -> Iterator[list[tuple[int, str, str, str]]]:
        """Yield batches of ``(id, context, text, embed_hash)`` for rebuilding indices."""
        with self.engine.connect() as conn:
            if ids is None:
                stmt = select(ChunkRow.id, ChunkRow.context, ChunkRow.text, ChunkRow.embed_hash)
                rows = conn.execute(stmt.order_by(ChunkRow.id))
                while part := rows.fetchmany(batch):
                    yield [tuple(r) for r in part]  # type: ignore[misc]
            else:
                for part_ids in _batches(list(ids), batch):
                    stmt = (
                        select(ChunkRow.id, ChunkRow.context, ChunkRow.text, ChunkRow.embed_hash)
                        .where(ChunkRow.id.in_(part_ids))
                        .order_by(ChunkRow.id)
                    )
                    yield [tuple(r) for r in conn.execute(stmt)]  # type: ignore[misc]

    # -- metadata filters ----------------------------------------------------------------
    def filter_chunk_ids(self, where: dict[str, Any]) -> np.ndarray:
        """Ids of chunks matching every condition of ``where``.

        A value matches equal metadata; a list matches any of its items; the key ``path``
        matches the document path with shell wildcards (``*``, ``?``), or, without
        wildcards, any path containing it.

        Example:
            >>> store = SQLStore("sqlite://")
            >>> store.filter_chunk_ids({"lang": "python"})
            array([], dtype=int64)
        """
        stmt = self._filter(select(ChunkRow.id), where)
        if stmt is None:
            return np.zeros(0, dtype=np.int64)
        with self.engine.connect() as conn:
            ids = conn.execute(stmt).scalars().all()
        return np.asarray(sorted(ids), dtype=np.int64)

    def filter_document_ids(self, where: dict[str, Any]) -> np.ndarray:
        """Ids of documents with at least one chunk matching ``where`` (as
        :meth:`filter_chunk_ids`); used by exact search.

        Example:
            >>> SQLStore("sqlite://").filter_document_ids({"lang": "python"})
            array([], dtype=int64)
        """
        stmt = self._filter(select(ChunkRow.document_id).distinct(), where)
        if stmt is None:
            return np.zeros(0, dtype=np.int64)
        with self.engine.connect() as conn:
            ids = conn.execute(stmt).scalars().all()
        return np.asarray(sorted(ids), dtype=np.int64)

    def _filter(self, stmt: Any, where: dict[str, Any]) -> Any:
        """``stmt`` (a select over chunks) narrowed by ``where``; ``None`` if nothing can match."""
        needs_doc = any(k in ("path", "document") for k in where)
        if needs_doc:
            stmt = stmt.join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
        for key, value in where.items():
            if key in ("path", "document"):
                values = value if isinstance(value, (list, tuple, set)) else [value]
                cond: ColumnElement[bool] | None = None
                for v in values:
                    c = DocumentRow.path.like(_glob_to_like(str(v)), escape="\\")
                    cond = c if cond is None else (cond | c)
                if cond is None:  # an empty list of paths: nothing matches (as for metadata)
                    return np.zeros(0, dtype=np.int64)
                stmt = stmt.where(cond)
                continue
            values = list(value) if isinstance(value, (list, tuple, set)) else [value]
            if not values:
                return None
            stmt = stmt.where(_json_in(ChunkRow.meta[key], values))
        return stmt

    # -- embedding cache -----------------------------------------------------------------
    def get_embeddings(self, hashes: Iterable[str], dim: int) -> dict[str, np.ndarray]:
        """Cached vectors for the given text hashes (missing ones are absent)."""
        out: dict[str, np.ndarray] = {}
        with self.engine.connect() as conn:
            for batch in _batches(list(dict.fromkeys(hashes)), 500):
                rows = conn.execute(
                    select(EmbeddingRow.hash, EmbeddingRow.vector).where(
                        EmbeddingRow.hash.in_(batch)
                    )
                )
                for h, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape[0] == dim:
                        out[h] = vec
        return out

    def put_embeddings(self, conn: Connection, vectors: dict[str, np.ndarray]) -> None:
        """Cache vectors by text hash (existing hashes are left as they are)."""
        if not vectors:
            return
        existing = set(
            conn.execute(
                select(EmbeddingRow.hash).where(EmbeddingRow.hash.in_(list(vectors)))
            ).scalars()
        )
        rows = [
            {"hash": h, "vector": np.asarray(v, dtype=np.float32).tobytes()}
            for h, v in vectors.items()
            if h not in existing
        ]
        if rows:
            # Writers in other processes (Ray workers) may cache the same text at once.
            conn.execute(_insert_ignoring_duplicates(conn, EmbeddingRow), rows)

    def prune_embeddings(self) -> int:
        """Drop cached vectors no chunk uses any more; returns how many."""
        with self.transaction() as conn:
            used = select(ChunkRow.embed_hash)
            result = conn.execute(delete(EmbeddingRow).where(EmbeddingRow.hash.not_in(used)))
            return int(result.rowcount or 0)


# -- helpers ------------------------------------------------------------------------------
def _make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except NoSuchModuleError as exc:
        raise ConfigError(
            f"unsupported database URL {_safe_url(url)}: use a folder, sqlite:///FILE or "
            "postgresql+psycopg://..."
        ) from exc
    except ArgumentError as exc:
        raise ConfigError(f"malformed database URL {_safe_url(url)}: {exc}") from exc
    except ImportError as exc:
        raise ConfigError(
            f"the driver for {_safe_url(url)} is not installed ({exc.name}): for PostgreSQL, "
            "pip install 'lcmem[postgres]'"
        ) from exc


def _insert_ignoring_duplicates(conn: Connection, table: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite, a plain insert
    elsewhere."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return insert(table)


#: The PostgreSQL advisory lock that serialises the first opens of a database (any 64-bit key
#: that other software is unlikely to use: ``int.from_bytes(b"lcmemini", "big") >> 1``).
_INIT_LOCK = int.from_bytes(b"lcmemini", "big") >> 1


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _get_meta(conn: Connection, key: str) -> Any:
    return conn.execute(select(MetaRow.value).where(MetaRow.key == key)).scalar_one_or_none()


def _set_meta(conn: Connection, key: str, value: Any) -> None:
    if conn.execute(select(MetaRow.key).where(MetaRow.key == key)).first() is None:
        conn.execute(insert(MetaRow).values(key=key, value=value))
    else:
        conn.execute(update(MetaRow).where(MetaRow.key == key).values(value=value))


def _generation_plus_one(conn: Connection) -> int:
    return int(_get_meta(conn, "generation") or 0) + 1


_DOCUMENT_COLUMNS = (  # what a StoredDocument holds
    DocumentRow.id,
    DocumentRow.path,
    DocumentRow.content_hash,
    DocumentRow.size,
    DocumentRow.mtime_ns,
)

_CHUNK_COLUMNS = (
    ChunkRow.id,
    ChunkRow.text,
    ChunkRow.char_start,
    ChunkRow.char_end,
    ChunkRow.context,
    ChunkRow.token_count,
    ChunkRow.meta,
    ChunkRow.line_start,
    ChunkRow.line_end,
)


def _to_chunk(row: Any) -> Chunk:
    return Chunk(
        text=row.text,
        start=row.char_start,
        end=row.char_end,
        context=row.context,
        token_count=row.token_count,
        metadata=dict(row.meta or {}),
        id=row.id,
        doc_path=row.path,
        line_start=row.line_start,
        line_end=row.line_end,
    )


def _json_in(element: Any, values: list[Any]) -> Any:
    """SQL condition: a JSON field equals one of ``values`` (typed comparison per value)."""
    cond = None
    for v in values:
        if isinstance(v, bool):
            c = element.as_boolean() == v
        elif isinstance(v, int):
            c = element.as_integer() == v
        elif isinstance(v, float):
            c = element.as_float() == v
        else:
            c = element.as_string() == str(v)
        cond = c if cond is None else (cond | c)
    return cond


def _glob_to_like(pattern: str) -> str:
    """Shell wildcards to SQL LIKE; a pattern without wildcards matches paths containing it.

    Example:
        >>> _glob_to_like("*.md"), _glob_to_like("docs/")
        ('%.md', '%docs/%')
    """
    if not any(ch in pattern for ch in "*?"):
        pattern = f"*{pattern}*"
    table = {"%": "\\%", "_": "\\_", "\\": "\\\\", "*": "%", "?": "_"}
    return "".join(table.get(ch, ch) for ch in pattern)


def _batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__
