"""The library's store: fast reads without SQLAlchemy, everything else through it.

:class:`Store` answers the reads a search and ``lcmem status`` need from
:class:`~lcmem.stores.sqlite_read.SQLiteReader` when the library is a SQLite file, and hands
every other call to an :class:`~lcmem.stores.sql.SQLStore` it opens on first use (writes,
filters, index rebuilds, PostgreSQL). A search from a cold shell then never imports SQLAlchemy.

Example:
    >>> store = Store("sqlite://")            # in memory: SQLStore from the start
    >>> store.generation, store.chunk_count()
    (0, 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lcmem.stores.sqlite_read import SQLiteReader
from lcmem.types import Chunk

if TYPE_CHECKING:
    from lcmem.stores.sql import SQLStore


class Store:
    """One library's database; see the module docstring.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path/lcmem.db``, ``postgresql+psycopg://...``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._sql: SQLStore | None = None
        self._reader = SQLiteReader.open(url)
        if self._reader is None:
            self._open_sql()  # creates the tables, or raises the error that says what to do

    def _open_sql(self) -> SQLStore:
        if self._sql is None:
            from lcmem.stores.sql import SQLStore

            self._sql = SQLStore(self.url)
        return self._sql

    @property
    def sql(self) -> SQLStore:
        """The full SQLAlchemy store (opened on first use)."""
        return self._open_sql()

    def __getattr__(self, name: str) -> Any:
        # Everything the reader does not answer (writes, filters, engine, ...) is SQLStore's.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._open_sql(), name)

    # -- reads a search needs -------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self._reader.dialect if self._reader else self.sql.dialect

    def get_meta(self, key: str, default: Any = None) -> Any:
        return (self._reader or self.sql).get_meta(key, default)

    @property
    def generation(self) -> int:
        return (self._reader or self.sql).generation

    def chunk_count(self) -> int:
        return (self._reader or self.sql).chunk_count()

    def has_chunks(self) -> bool:
        return (self._reader or self.sql).has_chunks()

    def document_count(self) -> int:
        return (self._reader or self.sql).document_count()

    def get_chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        return (self._reader or self.sql).get_chunks(ids)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._sql is not None:
            self._sql.close()
