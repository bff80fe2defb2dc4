"""One library search, called from sync or async retrievers, one at a time per library.

A :class:`lcmem.Library` is not documented as safe to search from several threads at once (its
SQL session, FAISS and BM25 readers are shared), so every retriever over the same library takes
the same lock. The async form runs the search in a worker thread (``asyncio.to_thread``), so an
agent's event loop keeps serving other tasks while the embedder and indices work.

Example:
    >>> import asyncio
    >>> class Fake:  # a stand-in with Library.search's signature
    ...     def search(self, query, k=10, mode="hybrid", where=None):
    ...         return [f"{query}/{k}/{mode}"]
    >>> lib = Fake()
    >>> search(lib, "tar", k=2, mode="bm25", where=None)
    ['tar/2/bm25']
    >>> asyncio.run(asearch(lib, "tar", k=2, mode="bm25", where=None))
    ['tar/2/bm25']
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def library_lock(library: Any) -> threading.Lock:
    """The lock every retriever over ``library`` shares."""
    with _locks_guard:
        lock = _locks.get(library)
        if lock is None:
            lock = _locks[library] = threading.Lock()
        return lock


def search(library: Any, query: str, *, k: int, mode: str, where: dict | None) -> list[Any]:
    """``library.search(...)`` under the library's lock."""
    with library_lock(library):
        return library.search(query, k=k, mode=mode, where=where)


async def asearch(library: Any, query: str, *, k: int, mode: str, where: dict | None) -> list[Any]:
    """:func:`search` in a worker thread, awaited without blocking the event loop."""
    return await asyncio.to_thread(search, library, query, k=k, mode=mode, where=where)
