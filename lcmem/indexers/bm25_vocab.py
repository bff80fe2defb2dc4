"""A BM25 vocabulary on disk that is looked up in place: no parsing when an index is opened.

A saved index's terms are stored sorted by their UTF-8 bytes in one blob (``vocab.bin``), with
the start of each term (``vocab_offsets.npy``) and its term id (``vocab_ids.npy``). Opening
maps the three files; a query term is found by binary search (about 20 probes for a million
terms). Reading the terms from JSON into a dict instead cost 1.3 s for 289,000 terms on this
machine under load (issue 18): most of the time to open a million-chunk library. A writer
turns the map into a dict once (:meth:`MappedVocabulary.to_dict`).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_vocabulary(folder, ["pear", "apple", "fig"])
    >>> vocab = MappedVocabulary.open(folder)
    >>> vocab.get("apple"), vocab.get("fig"), vocab.get("kiwi"), len(vocab)
    (1, 2, None, 3)
    >>> list(vocab.to_dict())
    ['pear', 'apple', 'fig']
"""

from __future__ import annotations

import mmap
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BLOB = "vocab.bin"
OFFSETS = "vocab_offsets.npy"
IDS = "vocab_ids.npy"
FILES = (BLOB, OFFSETS, IDS)


def _encode(term: str) -> bytes:
    return term.encode("utf-8", "surrogatepass")


def write_vocabulary(folder: Path, terms: Sequence[str]) -> None:
    """Write ``terms`` (term id = position) as the three files in ``folder``."""
    encoded = [_encode(t) for t in terms]
    order = sorted(range(len(encoded)), key=encoded.__getitem__)
    lengths = np.fromiter((len(encoded[i]) for i in order), np.int64, count=len(order))
    offsets = np.zeros(len(order) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    (folder / BLOB).write_bytes(b"".join(encoded[i] for i in order))
    np.save(folder / OFFSETS, offsets)
    np.save(folder / IDS, np.asarray(order, np.int64))


class MappedVocabulary:
    """Read-only ``term -> id`` map over the files of :func:`write_vocabulary`."""

    def __init__(self, blob: bytes | mmap.mmap, offsets: np.ndarray, ids: np.ndarray) -> None:
        self._blob = blob
        self._offsets = offsets
        self._ids = ids

    @classmethod
    def open(cls, folder: Path) -> MappedVocabulary:
        """Map the files in ``folder`` (an empty blob is read as empty bytes)."""
        offsets = np.load(folder / OFFSETS, mmap_mode="r")
        ids = np.load(folder / IDS, mmap_mode="r")
        if offsets.dtype != np.int64 or ids.dtype != np.int64 or len(offsets) != len(ids) + 1:
            raise ValueError("vocabulary offsets and ids do not match")
        path = folder / BLOB
        size = path.stat().st_size
        if size != int(offsets[-1]):
            raise ValueError(f"{BLOB} has {size} bytes, the offsets say {int(offsets[-1])}")
        blob: bytes | mmap.mmap = b""
        if size:
            with open(path, "rb") as fh:
                blob = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return cls(blob, offsets, ids)

    def __len__(self) -> int:
        return len(self._ids)

    def _term(self, pos: int) -> bytes:
        return self._blob[int(self._offsets[pos]) : int(self._offsets[pos + 1])]

    def get(self, term: Hashable, default: Any = None) -> Any:
        """The id of ``term``, or ``default``."""
        if not isinstance(term, str):
            return default
        key = _encode(term)
        lo, hi = 0, len(self._ids)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._term(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self._ids) and self._term(lo) == key:
            return int(self._ids[lo])
        return default

    def __getitem__(self, term: Hashable) -> int:
        found = self.get(term)
        if found is None:
            raise KeyError(term)
        return int(found)

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def terms_by_id(self) -> list[str]:
        """Every term, in id order."""
        out: list[str] = [""] * len(self._ids)
        for pos, term_id in enumerate(self._ids.tolist()):
            out[term_id] = self._term(pos).decode("utf-8", "surrogatepass")
        return out

    def to_dict(self) -> dict[Hashable, int]:
        """A ``term -> id`` dict in id order (what a writer mutates)."""
        return {t: i for i, t in enumerate(self.terms_by_id())}

    def __iter__(self) -> Iterator[str]:
        return iter(self.terms_by_id())
