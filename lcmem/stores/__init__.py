"""Stores: the library's database (SQLite by default, PostgreSQL by URL).

:class:`~lcmem.stores.store.Store` is what a library holds; :class:`~lcmem.stores.sql.SQLStore`
(SQLAlchemy, imported on first use) does the writes and everything the fast SQLite reader
does not.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SQLStore", "Store"]


def __getattr__(name: str) -> Any:  # lazy: SQLAlchemy costs ~0.5 s to import
    if name == "SQLStore":
        from lcmem.stores.sql import SQLStore

        return SQLStore
    if name == "Store":
        from lcmem.stores.store import Store

        return Store
    raise AttributeError(f"module 'lcmem.stores' has no attribute {name!r}")
