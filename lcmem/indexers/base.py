"""The interface of every index: add, remove, search, save, load, keyed by int64 chunk ids.

Ids are the database ids of chunks, so every index agrees with the store. ``allowed`` in
:meth:`Index.search` restricts results to a set of ids (metadata filters, applied in every mode).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class Index(ABC):
    """Common interface of :class:`FaissIndex`, :class:`BM25Index` and :class:`HybridIndex`."""

    @abstractmethod
    def add(self, ids: Sequence[int] | np.ndarray, data: Any) -> None:
        """Add items (vectors for dense, token lists for BM25) under the given ids."""

    @abstractmethod
    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Remove ids if present; returns how many were removed."""

    @abstractmethod
    def search(
        self, query: Any, k: int = 10, allowed: np.ndarray | Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Best ``k`` ``(id, score)`` pairs, highest score first."""

    @abstractmethod
    def ids(self) -> np.ndarray:
        """All ids currently in the index (int64, any order)."""

    @abstractmethod
    def save(self, path: str | Path) -> None:
        """Write to ``path`` atomically (temporary name, then rename); never pickle."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | Path, mmap: bool = True) -> Index:
        """Read an index written by :meth:`save`."""

    def __len__(self) -> int:
        return len(self.ids())
