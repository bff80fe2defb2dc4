"""Indices keyed by chunk id: dense (FAISS), sparse (BM25) and their fusion.

Example:
    >>> from lcmem.indexers import BM25Index
    >>> index = BM25Index()
    >>> index.add([1, 2], [["red", "apple"], ["blue", "sky"]])
    >>> index.search(["apple"], k=5)[0][0]
    1

Classes are imported on first use, so importing this package loads neither faiss nor numba.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Index": "lcmem.indexers.base",
    "Analyzer": "lcmem.indexers.analyzer",
    "BM25Index": "lcmem.indexers.bm25",
    "FaissIndex": "lcmem.indexers.faiss",
    "HybridIndex": "lcmem.indexers.hybrid",
    "rrf_fuse": "lcmem.indexers.hybrid",
    "weighted_fuse": "lcmem.indexers.hybrid",
}

if TYPE_CHECKING:  # pragma: no cover
    from lcmem.indexers.analyzer import Analyzer
    from lcmem.indexers.base import Index
    from lcmem.indexers.bm25 import BM25Index
    from lcmem.indexers.faiss import FaissIndex
    from lcmem.indexers.hybrid import HybridIndex, rrf_fuse, weighted_fuse

__all__ = [
    "Analyzer",
    "BM25Index",
    "FaissIndex",
    "HybridIndex",
    "Index",
    "rrf_fuse",
    "weighted_fuse",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lcmem.indexers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
