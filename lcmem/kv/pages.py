"""The page store: every layer's keys and values of one document, cut into pages of P tokens.

Keys are stored *without* rotary position (see :mod:`lcmem.kv.attention`), laid out as
``[layers, kv_heads, tokens, head_dim]`` so one page of one head is a contiguous run of bytes.
Each page also keeps two representative keys, the per-channel minimum and maximum of its keys
(as in Quest), so a query can bound its best attention logit on the page without reading it.

A store is *resident* (NumPy arrays in RAM) when it fits the memory budget, otherwise it lives
in two files on disk, written and read with ``pwrite``/``pread`` page by page. We read with
``pread`` rather than ``np.memmap`` on purpose: pages touched through a mapping count as resident
memory until unmapped, whereas ``pread`` copies only the pages an attention step needs, so
resident KV memory stays bounded by the working set whatever the document length.

Example:
    >>> import numpy as np
    >>> store = PageStore.create(layers=1, heads=1, tokens=6, head_dim=2, page_size=4)
    >>> k = np.arange(12, dtype=np.float32).reshape(1, 6, 2)
    >>> store.write(0, 0, k, -k)
    >>> keys, values = store.gather(0, [[(1, 3), (4, 5)]])
    >>> keys[0].tolist()
    [[2.0, 3.0], [4.0, 5.0], [8.0, 9.0]]
    >>> store.kmax[0, 0, :, 0].tolist()     # per page, channel 0
    [6.0, 10.0]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Ranges = list[tuple[int, int]]
"""Token ranges ``[start, end)`` in document order."""

DTYPES = {"float32": np.float32, "float16": np.float16}
_KEYS, _VALUES, _KMIN, _KMAX = "keys.bin", "values.bin", "kmin.npy", "kmax.npy"


@dataclass(frozen=True)
class Shape:
    """Geometry of a store."""

    layers: int
    heads: int
    tokens: int
    head_dim: int
    page_size: int
    dtype: str = "float32"

    @property
    def pages(self) -> int:
        return -(-self.tokens // self.page_size)

    @property
    def itemsize(self) -> int:
        return int(np.dtype(DTYPES[self.dtype]).itemsize)

    @property
    def bytes_per_token(self) -> int:
        """Bytes of keys + values per token, all layers and heads."""
        return 2 * self.layers * self.heads * self.head_dim * self.itemsize

    @property
    def kv_bytes(self) -> int:
        """Bytes of all keys and values."""
        return self.tokens * self.bytes_per_token


class PageStore:
    """Keys and values of one document, resident in RAM or on disk (see module docstring).

    Use :meth:`create` for a new store and :meth:`open` for one saved in a folder.
    """

    def __init__(
        self,
        shape: Shape,
        kmin: np.ndarray,
        kmax: np.ndarray,
        keys: np.ndarray | None = None,
        values: np.ndarray | None = None,
        folder: Path | None = None,
        writable: bool = False,
    ) -> None:
        self.shape = shape
        self.kmin, self.kmax = kmin, kmax
        self._keys, self._values = keys, values
        self.folder = folder
        self._fds: tuple[int, int] | None = None
        if keys is None:
            assert folder is not None
            flags = os.O_RDWR if writable else os.O_RDONLY
            self._fds = (os.open(folder / _KEYS, flags), os.open(folder / _VALUES, flags))
            self._finalizer = weakref.finalize(self, _close_fds, self._fds)

    # -- construction --------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        layers: int,
        heads: int,
        tokens: int,
        head_dim: int,
        page_size: int,
        dtype: str = "float32",
        memory_budget: int | None = None,
        folder: str | Path | None = None,
    ) -> PageStore:
        """An empty store; on disk (in ``folder``, or a temporary one) beyond ``memory_budget``.

        ``memory_budget=None`` keeps everything in RAM.
        """
        shape = Shape(layers, heads, tokens, head_dim, page_size, dtype)
        reps = (layers, heads, shape.pages, head_dim)
        kmin = np.full(reps, np.inf, dtype=np.float32)
        kmax = np.full(reps, -np.inf, dtype=np.float32)
        if memory_budget is None or shape.kv_bytes <= memory_budget:
            dt = DTYPES[dtype]
            full = (layers, heads, tokens, head_dim)
            return cls(shape, kmin, kmax, np.zeros(full, dt), np.zeros(full, dt))
        owned = folder is None
        where = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="lcmem-kv-"))
        where.mkdir(parents=True, exist_ok=True)
        for name in (_KEYS, _VALUES):
            with open(where / name, "wb") as fh:
                fh.truncate(shape.kv_bytes)  # sparse: blocks are allocated as pages are written
        store = cls(shape, kmin, kmax, folder=where, writable=True)
        if owned:
            weakref.finalize(store, shutil.rmtree, where, True)
        return store

    @classmethod
    def open(cls, folder: str | Path, shape: Shape, memory_budget: int | None) -> PageStore:
        """The store saved in ``folder`` by :meth:`save`; read into RAM if it fits the budget."""
        folder = Path(folder)
        kmin, kmax = np.load(folder / _KMIN), np.load(folder / _KMAX)
        if memory_budget is None or shape.kv_bytes <= memory_budget:
            dt = DTYPES[shape.dtype]
            full = (shape.layers, shape.heads, shape.tokens, shape.head_dim)
            keys = np.fromfile(folder / _KEYS, dtype=dt).reshape(full)
            values = np.fromfile(folder / _VALUES, dtype=dt).reshape(full)
            return cls(shape, kmin, kmax, keys, values)
        return cls(shape, kmin, kmax, folder=folder)

    @property
    def resident(self) -> bool:
        """True when keys and values are held in RAM."""
        return self._keys is not None

    # -- writing -------------------------------------------------------------------------
    def write(self, layer: int, start: int, keys: np.ndarray, values: np.ndarray) -> None:
        """Store ``[heads, T, head_dim]`` keys and values of tokens ``start..start+T``.

        ``start`` must be a page boundary; page representatives are updated.
        """
        s = self.shape
        n = keys.shape[1]
        dt = DTYPES[s.dtype]
        if self._keys is not None and self._values is not None:
            self._keys[layer, :, start : start + n] = keys
            self._values[layer, :, start : start + n] = values
        else:
            assert self._fds is not None
            for h in range(s.heads):
                off = self._offset(layer, h, start)
                os.pwrite(self._fds[0], np.ascontiguousarray(keys[h], dt).tobytes(), off)
                os.pwrite(self._fds[1], np.ascontiguousarray(values[h], dt).tobytes(), off)
        self._update_reps(layer, start, keys)

    def _update_reps(self, layer: int, start: int, keys: np.ndarray) -> None:
        p = self.shape.page_size
        assert start % p == 0, "writes must start on a page boundary"
        n = keys.shape[1]
        first, full = start // p, n // p
        if full:
            paged = keys[:, : full * p].reshape(keys.shape[0], full, p, -1)
            self.kmin[layer, :, first : first + full] = paged.min(axis=2)
            self.kmax[layer, :, first : first + full] = paged.max(axis=2)
        if n % p:  # a last, partial page
            tail = keys[:, full * p :]
            self.kmin[layer, :, first + full] = tail.min(axis=1)
            self.kmax[layer, :, first + full] = tail.max(axis=1)

    # -- reading -------------------------------------------------------------------------
    def gather(self, layer: int, ranges: list[Ranges]) -> tuple[np.ndarray, np.ndarray]:
        """Keys and values ``[heads, M, head_dim]`` (float32) of each head's token ranges.

        Every head must ask for the same number of tokens ``M``.
        """
        s = self.shape
        m = sum(e - b for b, e in ranges[0])
        out_k = np.empty((s.heads, m, s.head_dim), np.float32)
        out_v = np.empty((s.heads, m, s.head_dim), np.float32)
        for h, head_ranges in enumerate(ranges):
            at = 0
            for b, e in head_ranges:
                if e <= b:
                    continue
                kk, vv = self._read(layer, h, b, e)
                out_k[h, at : at + e - b] = kk
                out_v[h, at : at + e - b] = vv
                at += e - b
            if at != m:
                raise ValueError("every head must gather the same number of tokens")
        return out_k, out_v

    def _read(self, layer: int, head: int, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        if self._keys is not None and self._values is not None:
            return self._keys[layer, head, start:end], self._values[layer, head, start:end]
        assert self._fds is not None
        s = self.shape
        dt = DTYPES[s.dtype]
        size = (end - start) * s.head_dim * s.itemsize
        off = self._offset(layer, head, start)
        kk = np.frombuffer(os.pread(self._fds[0], size, off), dt).reshape(-1, s.head_dim)
        vv = np.frombuffer(os.pread(self._fds[1], size, off), dt).reshape(-1, s.head_dim)
        return kk, vv

    def _offset(self, layer: int, head: int, token: int) -> int:
        s = self.shape
        return ((layer * s.heads + head) * s.tokens + token) * s.head_dim * s.itemsize

    # -- persistence ---------------------------------------------------------------------
    def save(self, folder: str | Path) -> None:
        """Write keys, values and page representatives into ``folder`` (raw arrays + .npy)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / _KMIN, self.kmin)
        np.save(folder / _KMAX, self.kmax)
        if self._keys is not None and self._values is not None:
            self._keys.tofile(folder / _KEYS)
            self._values.tofile(folder / _VALUES)
            return
        assert self.folder is not None
        if self.folder.resolve() != folder.resolve():
            shutil.copyfile(self.folder / _KEYS, folder / _KEYS)
            shutil.copyfile(self.folder / _VALUES, folder / _VALUES)


def _close_fds(fds: tuple[int, int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


__all__ = ["DTYPES", "PageStore", "Ranges", "Shape"]
