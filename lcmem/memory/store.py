"""Persistence of an episodic workspace in the library's SQL database (SQLAlchemy Core).

Three tables next to the library's own: ``lcmem_memory_nodes`` (entities, events, clocks),
``lcmem_memory_edges`` (actor, at and fact edges) and ``lcmem_memory_observations`` (one row per
observed text, keyed by its content hash, so the same text is never observed twice). Rows are
written by id, delete-then-insert in one transaction, which works the same on SQLite and
PostgreSQL. Data columns hold JSON; nothing is pickled.

Example:
    >>> ms = MemoryStore("sqlite://")
    >>> ms.write(nodes={"person:a": ("person", "A", {"aliases": ["a"]})}, edges={},
    ...          observations={})
    >>> ms.read()[0]
    [('person:a', 'person', 'A', {'aliases': ['a']})]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError

from lcmem.errors import StoreError

metadata = MetaData()

nodes_table = Table(
    "lcmem_memory_nodes",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("kind", String(16), nullable=False, index=True),
    Column("name", Text, nullable=False, default=""),
    Column("data", JSON, nullable=False),
)

edges_table = Table(
    "lcmem_memory_edges",
    metadata,
    Column("id", String(600), primary_key=True),
    Column("src", String(255), nullable=False, index=True),
    Column("dst", String(255), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("data", JSON, nullable=False),
)

observations_table = Table(
    "lcmem_memory_observations",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("data", JSON, nullable=False),
)

NodeRow = tuple[str, str, str, dict[str, Any]]  # id, kind, name, data
EdgeRow = tuple[str, str, str, str, dict[str, Any]]  # id, src, dst, kind, data
ObsRow = tuple[str, int, str, dict[str, Any]]  # hash, seq, source, data

_BATCH = 500


class MemoryStore:
    """The memory tables in a database.

    Args:
        target: a SQLAlchemy URL, an ``Engine``, a :class:`~lcmem.stores.sql.SQLStore` or a
            :class:`~lcmem.library.Library` (its database is used).
    """

    def __init__(self, target: Any) -> None:
        self.engine = _engine_of(target)
        try:
            metadata.create_all(self.engine)
        except DatabaseError as exc:
            raise StoreError(
                f"cannot create the memory tables: {str(exc).splitlines()[0]}: check the "
                "database URL and that the user may create tables"
            ) from exc

    def write(
        self,
        nodes: Mapping[str, tuple[str, str, dict[str, Any]]],
        edges: Mapping[str, tuple[str, str, str, dict[str, Any]]],
        observations: Mapping[str, tuple[int, str, dict[str, Any]]],
    ) -> None:
        """Upsert rows by id in one transaction (all or nothing)."""
        with self.engine.begin() as conn:
            for table, key, rows, cols in (
                (nodes_table, nodes_table.c.id, nodes, ("kind", "name", "data")),
                (edges_table, edges_table.c.id, edges, ("src", "dst", "kind", "data")),
                (
                    observations_table,
                    observations_table.c.hash,
                    observations,
                    ("seq", "source", "data"),
                ),
            ):
                ids = list(rows)
                for batch in _batches(ids):
                    conn.execute(delete(table).where(key.in_(batch)))
                    conn.execute(
                        insert(table),
                        [{key.name: i, **dict(zip(cols, rows[i], strict=True))} for i in batch],
                    )

    def read(self) -> tuple[list[NodeRow], list[EdgeRow], list[ObsRow]]:
        """Every row, in id order (observations in the order they were made)."""
        with self.engine.connect() as conn:
            n = conn.execute(select(nodes_table).order_by(nodes_table.c.id)).all()
            e = conn.execute(select(edges_table).order_by(edges_table.c.id)).all()
            o = conn.execute(select(observations_table).order_by(observations_table.c.seq)).all()
        return (
            [(r.id, r.kind, r.name, r.data) for r in n],
            [(r.id, r.src, r.dst, r.kind, r.data) for r in e],
            [(r.hash, r.seq, r.source, r.data) for r in o],
        )

    def has_observation(self, digest: str) -> bool:
        with self.engine.connect() as conn:
            q = select(observations_table.c.hash).where(observations_table.c.hash == digest)
            return conn.execute(q).first() is not None

    def clear(self) -> None:
        """Delete every memory row (the library's own tables are untouched)."""
        with self.engine.begin() as conn:
            for table in (edges_table, nodes_table, observations_table):
                conn.execute(delete(table))


def _batches(ids: Sequence[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), _BATCH):
        yield list(ids[i : i + _BATCH])


def _engine_of(target: Any) -> Engine:
    if isinstance(target, Engine):
        return target
    store = getattr(target, "store", None)  # a Library
    if store is not None and hasattr(store, "engine"):
        return store.engine
    if hasattr(target, "engine"):  # an SQLStore
        return target.engine
    if isinstance(target, str):
        from lcmem.stores.sql import SQLStore

        return SQLStore(target).engine
    raise StoreError(
        f"cannot keep memory in {target!r}: pass a database URL, a Library or an SQLStore"
    )
