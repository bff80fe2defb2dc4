"""Dense vector index on FAISS: exact (flat), IVF or HNSW, cosine similarity, int64 ids.

Vectors are L2-normalised on the way in (a copy; the caller's array is untouched), so the inner
product FAISS computes is the cosine similarity. Ids are the int64 database ids of chunks and
must be ``>= 0`` (FAISS uses ``-1`` for "no result").

Kinds:

- ``"flat"`` (default): exact search, ``IndexIDMap2(IndexFlatIP)``.
- ``"ivf"``: ``IndexIVFFlat`` (spherical k-means). It needs training, so vectors stay in an exact
  flat index until there are at least ``39 * nlist`` of them; the add that crosses that line
  trains on everything present and converts the index (``nlist`` defaults to ``4 * sqrt(n)`` at
  that moment, which means about 24 000 vectors). Later adds go to the trained lists without
  re-training; call :meth:`FaissIndex.rebuild` to re-train after large growth. IVF stores the
  ids natively (``IndexIDMap`` would mis-map ids after a removal in IVF) with a hashtable
  direct map for :meth:`FaissIndex.vectors`.
- ``"hnsw"``: ``IndexIDMap2(IndexHNSWFlat)``. HNSW cannot delete, so :meth:`FaissIndex.remove`
  relabels removed entries with a negative id (a tombstone) that every search filters out
  through an ``IDSelector``; once tombstones exceed ``tombstone_fraction`` of the stored
  vectors, the graph is rebuilt from the live vectors.

``allowed`` (an id array) restricts a search through a FAISS ``IDSelectorBatch``. A filter that
leaves few ids (``<= exact_filter_max``; any kind) is answered by exact brute force
over those ids, and an approximate search that comes back with fewer than ``k`` results is
redone exactly, so a strict filter never silently loses hits.

File format: the file FAISS writes, followed by a JSON header (kind, dimension, parameters,
format version, length and CRC-32 of the FAISS part) and a fixed footer. It is one file
written under a temporary name and renamed, so a crash leaves the previous good file. No pickle.

Example:
    >>> import numpy as np
    >>> index = FaissIndex(dim=3)
    >>> index.add([10, 11], np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32))
    >>> [(i, round(s, 3)) for i, s in index.search(np.array([1, 0.1, 0], np.float32), k=1)]
    [(10, 0.995)]
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lcmem._atomic import atomic_path
from lcmem.errors import ConfigError, EmbedderMismatchError, IndexCorruptError, PathNotFoundError
from lcmem.indexers.base import Index

FORMAT_VERSION = 1
KINDS = ("flat", "ivf", "hnsw")

_MAGIC = b"LCMFAISS"
_FOOTER = struct.Struct("<8sIQI")  # magic, format version, header length, header CRC-32
_TRAIN_FACTOR = 39  # FAISS k-means wants at least 39 training points per centroid
_CHUNK = 65536  # vectors reconstructed at a time by the exact search
_TRAIN_SAMPLE = 64  # training vectors per IVF list when converting (FAISS wants >= 39)
_INT64_MAX = int(np.iinfo(np.int64).max)


def auto_nlist(n: int) -> int:
    """Default number of IVF lists for ``n`` vectors: ``4 * sqrt(n)``.

    Example:
        >>> auto_nlist(40_000)
        800
    """
    return max(1, int(4 * math.sqrt(max(n, 1))))


class FaissIndex(Index):
    """Cosine-similarity index over float32 vectors keyed by int64 ids (see module docstring).

    Args:
        dim: vector dimension (the embedder's).
        kind: ``"flat"`` (exact), ``"ivf"`` or ``"hnsw"``.
        nlist: IVF lists; ``None`` picks ``4 * sqrt(n)`` at training time.
        nprobe: IVF lists visited per query.
        hnsw_m: HNSW graph degree.
        ef_search: HNSW beam width when searching.
        ef_construction: HNSW beam width when building.
        tombstone_fraction: HNSW rebuilds once this fraction of stored vectors are removed ones.
        exact_filter_max: an ``allowed`` filter of at most this many ids is answered from their
            vectors alone (exact; a flat index would otherwise scan every vector).

    Example:
        >>> import numpy as np
        >>> index = FaissIndex(dim=2, kind="hnsw")
        >>> index.add(np.array([1, 2]), np.array([[1, 0], [0, 1]], dtype=np.float32))
        >>> index.remove([1]), len(index), index.search(np.array([1, 0], np.float32), k=5)[0][0]
        (1, 1, 2)
    """

    def __init__(
        self,
        dim: int,
        kind: str = "flat",
        nlist: int | None = None,
        nprobe: int = 16,
        hnsw_m: int = 32,
        ef_search: int = 64,
        ef_construction: int = 80,
        tombstone_fraction: float = 0.2,
        exact_filter_max: int = 4096,
    ) -> None:
        if kind not in KINDS:
            raise ConfigError(f"unknown FAISS index kind {kind!r}: use one of {', '.join(KINDS)}")
        if not isinstance(dim, int | np.integer) or dim <= 0:
            raise ConfigError(f"index dimension must be a positive integer, got {dim!r}")
        for name, value in [
            ("nprobe", nprobe),
            ("hnsw_m", hnsw_m),
            ("ef_search", ef_search),
            ("ef_construction", ef_construction),
        ]:
            if value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        if nlist is not None and nlist < 1:
            raise ConfigError(f"nlist must be >= 1 or None (automatic), got {nlist}")
        if not 0 < tombstone_fraction <= 1:
            raise ConfigError(f"tombstone_fraction must be in (0, 1], got {tombstone_fraction}")
        self._dim = int(dim)
        self._kind = kind
        self._nlist = nlist
        self._nprobe = int(nprobe)
        self._hnsw_m = int(hnsw_m)
        self._ef_search = int(ef_search)
        self._ef_construction = int(ef_construction)
        self._tombstone_fraction = float(tombstone_fraction)
        self.exact_filter_max = int(exact_filter_max)
        self._structure = "hnsw" if kind == "hnsw" else "flat"
        self._index: Any = self._new_hnsw() if kind == "hnsw" else self._new_flat()
        self._mapped = False  # loaded with mmap: read-only until materialised
        self._n_tomb = 0
        self._ids_cache: np.ndarray | None = None  # sorted live ids

    # ------------------------------------------------------------------ properties

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    @property
    def kind(self) -> str:
        """The requested kind: ``"flat"``, ``"ivf"`` or ``"hnsw"``."""
        return self._kind

    @property
    def structure(self) -> str:
        """What is built now: ``"flat"`` (also an IVF index not trained yet), ``"ivf"``,
        ``"hnsw"``."""
        return self._structure

    @property
    def nlist(self) -> int | None:
        """IVF lists of the trained index (``None`` until trained, and for other kinds)."""
        return int(self._index.nlist) if self._structure == "ivf" else None

    @property
    def tombstones(self) -> int:
        """Removed HNSW entries still stored in the graph."""
        return self._n_tomb

    @property
    def mmapped(self) -> bool:
        """True while the index reads its data from a memory-mapped file."""
        return self._mapped

    def __len__(self) -> int:
        return int(self._index.ntotal) - self._n_tomb

    def __repr__(self) -> str:
        return (
            f"FaissIndex(dim={self._dim}, kind={self._kind!r}, structure={self._structure!r}, "
            f"size={len(self)})"
        )

    # ------------------------------------------------------------------ mutation

    def add(self, ids: Sequence[int] | np.ndarray, data: Any) -> None:
        """Add float32 vectors ``(n, dim)`` under new ids; an id already present is an error.

        Example:
            >>> import numpy as np
            >>> index = FaissIndex(dim=2)
            >>> index.add([5], np.ones((1, 2), np.float32))
            >>> index.ids().tolist()
            [5]
        """
        import faiss

        ids_arr = _as_ids(ids)
        vecs = self._as_vectors(data, what="vectors")
        if len(ids_arr) != len(vecs):
            raise ValueError(f"got {len(ids_arr)} ids but {len(vecs)} vectors: pass one id per row")
        if not len(ids_arr):
            return
        if (ids_arr < 0).any():
            raise ValueError("ids must be >= 0 (negative ids are reserved by the index)")
        uniq = np.unique(ids_arr)
        if len(uniq) != len(ids_arr):
            raise ValueError("duplicate ids in one add(): every vector needs its own id")
        live = self._live_ids()
        dup = uniq[_member(uniq, live)]
        if dup.size:
            raise ValueError(
                f"ids already in the index: {dup[:5].tolist()}"
                f"{' ...' if dup.size > 5 else ''}; remove() them before adding them again"
            )
        self._ensure_writable()
        self._index.add_with_ids(vecs, ids_arr)
        self._ids_cache = np.union1d(live, uniq)
        if self._kind == "ivf" and self._structure == "flat":
            n = int(self._index.ntotal)
            if n >= _TRAIN_FACTOR * (self._nlist or auto_nlist(n)):
                inner = faiss.downcast_index(self._index.index)
                all_vecs = inner.reconstruct_n(0, n)
                all_ids = faiss.vector_to_array(self._index.id_map).copy()
                self._index = self._build_ivf(all_ids, all_vecs)
                self._structure = "ivf"

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Remove ids if present; returns how many were removed.

        Example:
            >>> import numpy as np
            >>> index = FaissIndex(dim=2)
            >>> index.add([1, 2], np.eye(2, dtype=np.float32))
            >>> index.remove([2, 3])
            1
        """
        import faiss

        arr = np.unique(_as_ids(ids))
        live = self._live_ids()
        present = arr[_member(arr, live)]
        if not present.size:
            return 0
        self._ensure_writable()
        if self._structure == "flat":
            removed = int(self._index.remove_ids(faiss.IDSelectorBatch(present)))
        elif self._structure == "ivf":
            # the hashtable direct map only accepts an IDSelectorArray
            removed = int(self._index.remove_ids(faiss.IDSelectorArray(present)))
        else:
            id_map = faiss.rev_swig_ptr(self._index.id_map.data(), self._index.id_map.size())
            pos = np.flatnonzero(_member(id_map, present))
            id_map[pos] = -2 - pos  # unique negative ids: tombstones, filtered at search time
            self._index.construct_rev_map()
            self._n_tomb += len(pos)
            removed = len(pos)
        self._ids_cache = np.setdiff1d(live, present, assume_unique=True)
        if self._structure == "hnsw" and (
            self._n_tomb > self._tombstone_fraction * int(self._index.ntotal)
        ):
            self.rebuild()
        return removed

    def rebuild(self) -> None:
        """Rebuild from the stored vectors: drops HNSW tombstones, re-trains IVF for today's size.

        Example:
            >>> import numpy as np
            >>> index = FaissIndex(dim=2, kind="hnsw", tombstone_fraction=1.0)
            >>> index.add([1, 2], np.eye(2, dtype=np.float32)); _ = index.remove([1])
            >>> index.tombstones, (index.rebuild(), index.tombstones)[1]
            (1, 0)
        """
        import faiss

        self._ensure_writable()
        if self._structure == "hnsw":
            id_map = faiss.vector_to_array(self._index.id_map)
            keep = np.flatnonzero(id_map >= 0)
            vecs = faiss.downcast_index(self._index.index).reconstruct_n(0, len(id_map))[keep]
            new = self._new_hnsw()
            if len(keep):
                new.add_with_ids(np.ascontiguousarray(vecs), id_map[keep].copy())
            self._index, self._n_tomb = new, 0
        elif self._kind == "ivf":
            ids = self._live_ids().copy()
            vecs = self._reconstruct(ids)
            n = len(ids)
            if n >= _TRAIN_FACTOR * (self._nlist or auto_nlist(n)):
                self._index, self._structure = self._build_ivf(ids, vecs), "ivf"
            else:
                self._index, self._structure = self._new_flat(), "flat"
                if n:
                    self._index.add_with_ids(vecs, ids)
        self._ids_cache = None

    def convert(self, kind: str, **params: Any) -> FaissIndex:
        """A new in-memory index of ``kind`` holding this one's live vectors (no re-embedding).

        Vectors are copied in batches, so memory grows by the new index and one batch; an IVF
        target is trained first on a seeded sample of at most :data:`_TRAIN_SAMPLE` vectors per
        list (the whole set when it has fewer than ``39 * nlist``: it then stays flat until
        it grows, as an ``ivf`` index does). This index is left unchanged.

        Example:
            >>> import numpy as np
            >>> flat = FaissIndex(dim=2)
            >>> flat.add([1, 2], np.eye(2, dtype=np.float32))
            >>> hnsw = flat.convert("hnsw", ef_search=16)
            >>> hnsw.structure, hnsw.search(np.array([0, 1], np.float32), k=1)[0][0]
            ('hnsw', 2)
        """
        new = FaissIndex(self._dim, kind=kind, **params)
        ids = self._live_ids().copy()
        if kind == "ivf" and len(ids):
            nlist = new._nlist or auto_nlist(len(ids))
            if len(ids) >= _TRAIN_FACTOR * nlist:
                rng = np.random.default_rng(0)
                n_train = min(len(ids), _TRAIN_SAMPLE * nlist)
                sample = np.sort(rng.choice(len(ids), n_train, replace=False))
                new._nlist = nlist
                new._index = new._build_ivf(np.empty(0, np.int64), self._reconstruct(ids[sample]))
                new._structure = "ivf"
        for start in range(0, len(ids), _CHUNK):
            batch = ids[start : start + _CHUNK]
            new.add(batch, self._reconstruct(batch))
        return new

    # ------------------------------------------------------------------ reading

    def ids(self) -> np.ndarray:
        """All live ids, sorted (int64)."""
        return self._live_ids().copy()

    def vectors(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The stored (normalised) vectors of ``ids``, shape ``(n, dim)``; unknown ids raise.

        Example:
            >>> import numpy as np
            >>> index = FaissIndex(dim=2)
            >>> index.add([7], np.array([[3, 4]], np.float32))
            >>> index.vectors([7]).astype(float).round(2).tolist()
            [[0.6, 0.8]]
        """
        arr = _as_ids(ids)
        missing = arr[~_member(arr, self._live_ids())]
        if missing.size:
            raise KeyError(f"ids not in the index: {missing[:5].tolist()}")
        return self._reconstruct(arr)

    def search(
        self, query: Any, k: int = 10, allowed: np.ndarray | Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Best ``k`` ``(id, cosine)`` pairs for one query vector (``(dim,)`` or ``(1, dim)``).

        Example:
            >>> import numpy as np
            >>> index = FaissIndex(dim=2)
            >>> index.add([1, 2], np.eye(2, dtype=np.float32))
            >>> index.search(np.array([1, 0], np.float32), k=2, allowed=np.array([2]))
            [(2, 0.0)]
        """
        q = self._as_vectors(query, what="query")
        if len(q) != 1:
            raise ValueError(f"search() takes one query, got {len(q)}: use search_many()")
        return self.search_many(q, k, allowed)[0]

    def search_many(
        self, queries: Any, k: int = 10, allowed: np.ndarray | Sequence[int] | None = None
    ) -> list[list[tuple[int, float]]]:
        """:meth:`search` for each row of ``queries`` ``(m, dim)``.

        Example:
            >>> import numpy as np
            >>> index = FaissIndex(dim=2)
            >>> index.add([1, 2], np.eye(2, dtype=np.float32))
            >>> [r[0][0] for r in index.search_many(np.eye(2, dtype=np.float32), k=1)]
            [1, 2]
        """
        q = self._as_vectors(queries, what="query")
        m = len(q)
        if k <= 0 or m == 0 or len(self) == 0:
            return [[] for _ in range(m)]
        cand: np.ndarray | None = None
        if allowed is not None:
            arr = np.unique(_as_ids(allowed))
            cand = arr[_member(arr, self._live_ids())]
            if not cand.size:
                return [[] for _ in range(m)]
            if cand.size <= self.exact_filter_max:
                # A few ids (hybrid score completion, a strict filter): their vectors directly.
                # FAISS would visit every stored vector of a flat index to test the selector.
                return self._exact(q, k, cand)
        want = min(k, len(self) if cand is None else int(cand.size))
        scores, labels = self._faiss_search(q, want, cand)
        out = [
            [(int(i), float(s)) for i, s in zip(lab, sc, strict=True) if i >= 0]
            for lab, sc in zip(labels, scores, strict=True)
        ]
        if self._structure != "flat":
            short = [r for r, row in enumerate(out) if len(row) < want]
            if short:  # the approximate search missed hits: redo those rows exactly
                for r, row in zip(short, self._exact(q[short], k, cand), strict=True):
                    out[r] = row
        return out

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> None:
        """Write to ``path`` atomically (one file: FAISS data + header + footer).

        Example:
            >>> import numpy as np, tempfile, pathlib
            >>> index = FaissIndex(dim=2); index.add([1], np.ones((1, 2), np.float32))
            >>> p = pathlib.Path(tempfile.mkdtemp()) / "faiss.index"
            >>> index.save(p); len(FaissIndex.load(p))
            1
        """
        import faiss

        if self._mapped and self._structure == "ivf":
            # mmap-loaded IVF lists are written as a reference to the mapped file: copy them first
            self._ensure_writable()
        header = {
            "format": FORMAT_VERSION,
            "kind": self._kind,
            "structure": self._structure,
            "dim": self._dim,
            "ntotal": int(self._index.ntotal),
            "params": {
                "nlist": self._nlist,
                "nprobe": self._nprobe,
                "hnsw_m": self._hnsw_m,
                "ef_search": self._ef_search,
                "ef_construction": self._ef_construction,
                "tombstone_fraction": self._tombstone_fraction,
                "exact_filter_max": self.exact_filter_max,
            },
        }
        with atomic_path(path) as tmp:
            faiss.write_index(self._index, str(tmp))
            size = tmp.stat().st_size
            header["faiss_bytes"] = size
            header["faiss_crc32"] = _crc_file(tmp, size)
            blob = json.dumps(header, sort_keys=True).encode("utf-8")
            with open(tmp, "ab") as fh:
                fh.write(blob)
                fh.write(_FOOTER.pack(_MAGIC, FORMAT_VERSION, len(blob), zlib.crc32(blob)))

    @classmethod
    def load(cls, path: str | Path, mmap: bool = True, verify: bool = True) -> FaissIndex:
        """Read a file written by :meth:`save`.

        ``mmap=True`` maps the vectors (and IVF lists) read-only instead of reading them; the
        first mutation copies the index into memory. ``verify=True`` checks the CRC-32 of the
        whole file first (one sequential read) so a damaged file raises
        :class:`~lcmem.errors.IndexCorruptError` instead of reaching FAISS.

        Example:
            >>> import numpy as np, tempfile, pathlib
            >>> index = FaissIndex(dim=2, kind="hnsw"); index.add([1], np.ones((1, 2), np.float32))
            >>> p = pathlib.Path(tempfile.mkdtemp()) / "faiss.index"; index.save(p)
            >>> FaissIndex.load(p, mmap=False).kind
            'hnsw'
        """
        import faiss

        path = Path(path)
        if not path.is_file():
            raise PathNotFoundError(
                f"no FAISS index file at {path}: build it first (lcmem index) or fix the path"
            )
        header = _read_header(path)
        if verify and _crc_file(path, header["faiss_bytes"]) != header["faiss_crc32"]:
            raise IndexCorruptError(
                f"{path} is damaged (checksum mismatch): delete it and re-index to rebuild it"
            )
        params = header["params"]
        try:
            obj = cls(header["dim"], header["kind"], **params)
        except (ConfigError, TypeError) as e:
            raise IndexCorruptError(f"{path} has an invalid header ({e}): re-index") from e
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        try:
            index = faiss.read_index(str(path), flags)
        except RuntimeError as e:
            raise IndexCorruptError(f"{path} could not be read by FAISS ({e}): re-index") from e
        _check_loaded(path, index, header)
        obj._index, obj._structure, obj._mapped = index, header["structure"], bool(mmap)
        if obj._structure == "hnsw":
            obj._n_tomb = int((faiss.vector_to_array(index.id_map) < 0).sum())
        return obj

    # ------------------------------------------------------------------ internals

    def _new_flat(self) -> Any:
        import faiss

        return faiss.IndexIDMap2(faiss.IndexFlatIP(self._dim))

    def _new_hnsw(self) -> Any:
        import faiss

        inner = faiss.IndexHNSWFlat(self._dim, self._hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = self._ef_construction
        inner.hnsw.efSearch = self._ef_search
        return faiss.IndexIDMap2(inner)

    def _build_ivf(self, ids: np.ndarray, vecs: np.ndarray) -> Any:
        import faiss

        nlist = self._nlist or auto_nlist(len(ids))
        quantizer = faiss.IndexFlatIP(self._dim)
        ivf = faiss.IndexIVFFlat(quantizer, self._dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.spherical = True  # centroids on the unit sphere, as the vectors are
        ivf.train(np.ascontiguousarray(vecs, dtype=np.float32))
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct by id, remove by id
        ivf.nprobe = self._nprobe
        if len(ids):
            ivf.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
        return ivf

    def _ensure_writable(self) -> None:
        """Copy an mmap-loaded index into memory (FAISS aborts when mutating mapped data)."""
        import faiss

        if not self._mapped:
            return
        index = self._index
        if self._structure == "ivf":
            src = faiss.downcast_InvertedLists(index.invlists)
            if isinstance(src, faiss.OnDiskInvertedLists):
                dst = faiss.ArrayInvertedLists(src.nlist, src.code_size)
                for lst in range(src.nlist):
                    n = src.list_size(lst)
                    if n:
                        dst.add_entries(lst, n, src.get_ids(lst), src.get_codes(lst))
                index.replace_invlists(dst, True)
                dst.this.disown()  # now owned by the index
        self._index = faiss.deserialize_index(faiss.serialize_index(index))
        self._mapped = False

    def _live_ids(self) -> np.ndarray:
        import faiss

        if self._ids_cache is None:
            if self._structure == "ivf":
                lists = self._index.invlists
                parts = [
                    faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                    for i in range(lists.nlist)
                    if lists.list_size(i)
                ]
                ids = np.concatenate(parts) if parts else np.empty(0, np.int64)
            else:
                ids = faiss.vector_to_array(self._index.id_map)
                ids = ids[ids >= 0]
            self._ids_cache = np.sort(ids.astype(np.int64, copy=False))
        return self._ids_cache

    def _reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """Vectors of ids known to be live (FAISS aborts on an unknown id inside its threads)."""
        if not len(ids):
            return np.empty((0, self._dim), np.float32)
        return np.asarray(self._index.reconstruct_batch(np.ascontiguousarray(ids, np.int64)))

    def _faiss_search(
        self, q: np.ndarray, k: int, cand: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        sel = faiss.IDSelectorBatch(cand) if cand is not None else None
        if self._structure == "hnsw":
            if sel is None and self._n_tomb:
                sel = faiss.IDSelectorRange(0, _INT64_MAX)  # live ids are >= 0, tombstones < 0
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(self._ef_search, k)
        elif self._structure == "ivf":
            params = faiss.SearchParametersIVF()
            params.nprobe = min(self._nprobe, int(self._index.nlist))
        else:
            params = faiss.SearchParameters()
        if sel is not None:
            params.sel = sel
        scores, labels = self._index.search(q, k, params=params)
        del sel  # kept alive until the search is done
        return scores, labels

    def _exact(
        self, q: np.ndarray, k: int, cand: np.ndarray | None
    ) -> list[list[tuple[int, float]]]:
        """Brute-force top ``k`` over ``cand`` (all live ids if None), in chunks."""
        cand = self._live_ids() if cand is None else cand
        m = len(q)
        best_s = np.empty((m, 0), np.float32)
        best_i = np.empty((m, 0), np.int64)
        for start in range(0, len(cand), _CHUNK):
            chunk = cand[start : start + _CHUNK]
            s = np.concatenate([best_s, q @ self._reconstruct(chunk).T], axis=1)
            i = np.concatenate([best_i, np.broadcast_to(chunk, (m, len(chunk)))], axis=1)
            if s.shape[1] > k:
                top = np.argpartition(-s, k - 1, axis=1)[:, :k]
                s, i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
            best_s, best_i = s, i
        out = []
        for s, i in zip(best_s, best_i, strict=True):
            order = np.lexsort((i, -s))
            out.append([(int(i[j]), float(s[j])) for j in order])
        return out

    def _as_vectors(self, data: Any, what: str) -> np.ndarray:
        import faiss

        arr = np.asarray(data, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2:
            raise ValueError(f"{what} must be a 2-D array (n, {self._dim}), got shape {arr.shape}")
        if arr.shape[0] and arr.shape[1] != self._dim:
            raise EmbedderMismatchError(
                f"{what} have dimension {arr.shape[1]} but this index holds {self._dim}-dimensional"
                " vectors: use the embedder the index was built with, or rebuild the index"
            )
        if arr.shape[0] == 0:
            return np.empty((0, self._dim), np.float32)
        if not np.isfinite(arr).all():
            raise ValueError(f"{what} contain NaN or infinity: check the embedder output")
        arr = np.array(arr, dtype=np.float32, order="C", copy=True)
        faiss.normalize_L2(arr)
        return arr


def _as_ids(ids: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.size == 0:
        return np.empty(0, np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"ids must be integers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr.reshape(-1), dtype=np.int64)


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``values`` are in the sorted array ``sorted_set``."""
    if not len(sorted_set):
        return np.zeros(len(values), bool)
    pos = np.searchsorted(sorted_set, values).clip(max=len(sorted_set) - 1)
    return sorted_set[pos] == values


def _crc_file(path: Path, length: int) -> int:
    crc = 0
    with open(path, "rb") as fh:
        left = length
        while left > 0:
            block = fh.read(min(left, 1 << 22))
            if not block:
                break
            crc = zlib.crc32(block, crc)
            left -= len(block)
    return crc


def index_file_info(path: str | Path) -> dict[str, Any] | None:
    """What an index file holds, from its header alone (nothing is loaded): ``kind``,
    ``structure``, ``ntotal``, ``params`` and ``bytes``; ``None`` if there is no valid file.

    Example:
        >>> index_file_info("/no/such/faiss.index") is None
        True
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        header = _read_header(path)
    except IndexCorruptError:
        return None
    keep = ("kind", "structure", "ntotal", "params")
    return {**{k: header[k] for k in keep if k in header}, "bytes": path.stat().st_size}


def _read_header(path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    damaged = f"{path} is damaged or not an lcmem FAISS index: delete it and re-index"
    if size < _FOOTER.size:
        raise IndexCorruptError(damaged)
    with open(path, "rb") as fh:
        fh.seek(size - _FOOTER.size)
        magic, version, hlen, hcrc = _FOOTER.unpack(fh.read(_FOOTER.size))
        if magic != _MAGIC or hlen > size - _FOOTER.size:
            raise IndexCorruptError(damaged)
        if version != FORMAT_VERSION:
            raise IndexCorruptError(
                f"{path} has index format {version}, this lcmem reads {FORMAT_VERSION}: re-index"
            )
        fh.seek(size - _FOOTER.size - hlen)
        blob = fh.read(hlen)
    if zlib.crc32(blob) != hcrc:
        raise IndexCorruptError(damaged)
    try:
        header = json.loads(blob)
        ok = header["faiss_bytes"] + hlen + _FOOTER.size == size
        ok = ok and header["structure"] in KINDS and isinstance(header["params"], dict)
    except (ValueError, KeyError, TypeError) as e:
        raise IndexCorruptError(damaged) from e
    if not ok:
        raise IndexCorruptError(damaged)
    return header


def _check_loaded(path: Path, index: Any, header: dict[str, Any]) -> None:
    import faiss

    structure = header["structure"]
    if structure == "ivf":
        ok = isinstance(index, faiss.IndexIVFFlat)
    else:
        ok = isinstance(index, faiss.IndexIDMap2)
        if ok:
            inner = faiss.downcast_index(index.index)
            ok = isinstance(inner, faiss.IndexHNSWFlat if structure == "hnsw" else faiss.IndexFlat)
    ok = ok and index.d == header["dim"] and index.ntotal == header["ntotal"]
    ok = ok and index.metric_type == faiss.METRIC_INNER_PRODUCT
    if not ok:
        raise IndexCorruptError(
            f"{path} does not hold the index its header describes: delete it and re-index"
        )
