"""Read-only queries on a SQLite library through the standard library's ``sqlite3``.

Why not SQLAlchemy here: importing it costs about 0.5 s of CPU (measured with
``python -X importtime`` and cProfile on ``lcmem search``), half of what a search from a cold
shell may take (issue 15). The few reads a search or ``lcmem status`` needs (the manifest,
the generation, counts, chunks by id) are plain SELECTs on the tables :mod:`lcmem.stores.sql`
defines, so they run here; everything else, and every write, goes through
:class:`~lcmem.stores.sql.SQLStore`, which :class:`~lcmem.stores.store.Store` opens on first
use. The two must agree: ``tests/stores/test_store.py`` compares them on the same database.

Example:
    >>> SQLiteReader.open("sqlite:///no/such/lcmem.db") is None
    True
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lcmem.stores.records import SCHEMA_VERSION
from lcmem.types import Chunk

_CHUNK_SELECT = (
    "SELECT c.id, c.text, c.char_start, c.char_end, c.context, c.token_count, c.meta, "
    "c.line_start, c.line_end, d.path FROM lcmem_chunks c "
    "JOIN lcmem_documents d ON d.id = c.document_id WHERE c.id IN ({marks})"
)
_BATCH = 500  # ids per IN (...) clause, as SQLStore does


class SQLiteReader:
    """SELECTs on an existing lcmem SQLite database; see the module docstring."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, url: str) -> SQLiteReader | None:
        """A reader for ``sqlite:///FILE`` when FILE is an lcmem database of this version.

        ``None`` otherwise (another URL, an in-memory database, a missing or foreign file, an
        old schema): the caller then uses :class:`~lcmem.stores.sql.SQLStore`, which creates
        the tables or says what is wrong.
        """
        path = _sqlite_file(url)
        if path is None or not path.is_file():
            return None
        try:
            conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
            reader = cls(conn)
            if reader.get_meta("schema_version") != SCHEMA_VERSION:
                conn.close()
                return None
        except sqlite3.Error:
            return None
        return reader

    def close(self) -> None:
        self._conn.close()

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self._conn.execute("SELECT value FROM lcmem_meta WHERE key = ?", (key,)).fetchone()
        value = None if row is None else _json(row[0])
        return default if value is None else value

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation", 0))

    def chunk_count(self) -> int:
        return int(self._conn.execute("SELECT count(id) FROM lcmem_chunks").fetchone()[0])

    def has_chunks(self) -> bool:
        """Whether any chunk exists (one index probe, unlike ``count``, which reads them all)."""
        return self._conn.execute("SELECT 1 FROM lcmem_chunks LIMIT 1").fetchone() is not None

    def document_count(self) -> int:
        return int(self._conn.execute("SELECT count(id) FROM lcmem_documents").fetchone()[0])

    def get_chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        """Chunks by id, with their document path and line range."""
        out: dict[int, Chunk] = {}
        wanted = [int(i) for i in ids]
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            sql = _CHUNK_SELECT.format(marks=",".join("?" * len(batch)))
            for row in self._conn.execute(sql, batch):
                out[row[0]] = Chunk(
                    text=row[1],
                    start=row[2],
                    end=row[3],
                    context=row[4],
                    token_count=row[5],
                    metadata=dict(_json(row[6]) or {}),
                    id=row[0],
                    doc_path=row[9],
                    line_start=row[7],
                    line_end=row[8],
                )
        return out


def _json(value: Any) -> Any:
    """A JSON column's value. SQLite gives the column NUMERIC affinity, so a number comes
    back as a number, anything else as its JSON text."""
    return json.loads(value) if isinstance(value, str) else value


def _sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///FILE`` URL (no query string), else ``None``.

    Example:
        >>> str(_sqlite_file("sqlite:////tmp/lib/lcmem.db")), _sqlite_file("sqlite://")
        ('/tmp/lib/lcmem.db', None)
    """
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    rest = url[len(prefix) :]
    return Path(rest) if rest and rest != ":memory:" else None
