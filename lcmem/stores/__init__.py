"""Stores: the library's database (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from lcmem.stores.sql import SQLStore

__all__ = ["SQLStore"]
