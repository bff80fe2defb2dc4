"""Exact-match index: count and locate any string in a library, in milliseconds.

Documents are stored as UTF-8 (``surrogatepass``) bytes, joined by the byte ``0xFF``, which
UTF-8 never produces, so no match can cross a document boundary. A suffix array over those
bytes (built by libdivsufsort through ``pydivsufsort``) answers ``count`` with two binary
searches and ``locate`` by reading a slice of it. UTF-8 is self-synchronising: a byte match of
an encoded pattern always starts on a character boundary, so byte counts equal code-point
counts, and offsets are turned into character offsets when a match is shown.

The index is a list of immutable *segments* (as in Lucene): each ``add`` writes one segment
(text, suffix array, document table) to its own folder; ``remove`` masks documents until a merge
rewrites their segment without them. Segments are merged in the background when there are too
many (:mod:`lcmem.indexers.exact_merge`), or all of them on :meth:`ExactIndex.optimize`. Files
are ``.npy`` arrays and JSON (no pickle), opened memory-mapped, so opening costs little and a
query touches only the pages it reads. The list of live segments and masks is ``state.json``,
replaced atomically: a crash leaves the previous one. A save re-reads it under ``state.lock``
and applies this object's changes (new segments, masks) to what it finds, so a merge that
finished meanwhile is kept, not overwritten.

Why a suffix array and not an FM-index: see ``benchmarks/results/exact_libs.md``. In short,
``fm-index`` (Rust) builds slower and can only be saved through pickle-style state, not
memory-mapped; a suffix array over mmap'd files gives millisecond queries at ~5x the text size.

Example:
    >>> import tempfile
    >>> index = ExactIndex(tempfile.mkdtemp())
    >>> index.add([ExactDoc(1, "a.txt", "h1", "abracadabra"), ExactDoc(2, "b.txt", "h2", "cabra")])
    >>> index.count("abra")
    3
    >>> [(m.doc_id, m.start) for m in index.locate("abra")]
    [(1, 0), (1, 7), (2, 1)]
    >>> index.remove([1])
    1
    >>> index.count("abra")
    1
"""

from __future__ import annotations

import ctypes
import json
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lcmem._atomic import atomic_dir, atomic_path
from lcmem.errors import ConfigError, EmptyQueryError, IndexCorruptError

FORMAT = "lcmem-exact"
FORMAT_VERSION = 1
SEP = 0xFF  # never in UTF-8 output, so never in an encoded pattern
VARIANTS = ("exact", "fold")  # case-sensitive; case-insensitive (code points lowered 1:1)
MAX_SEGMENT_BYTES = 2**31 - 2  # int32 suffix arrays
_STATE = "state.json"


def read_state(folder: Path, variant: str | None) -> dict[str, Any]:
    """The parsed ``state.json`` of ``folder`` (checked: format, version, ``variant`` if given).

    Raises:
        IndexCorruptError: damaged, of another format or version, or of another variant.
    """
    state = folder / _STATE
    try:
        meta = json.loads(state.read_text())
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise IndexCorruptError(f"{state} is not an lcmem exact index")
        if meta.get("format_version") != FORMAT_VERSION:
            raise IndexCorruptError(
                f"{state} has format version {meta.get('format_version')}, this lcmem "
                f"reads {FORMAT_VERSION}: delete {folder} to rebuild it"
            )
        if variant is not None and meta.get("variant") != variant:
            raise IndexCorruptError(f"{state} holds a {meta.get('variant')!r} index")
        for seg in meta["segments"]:
            seg["deleted"] = [int(i) for i in seg["deleted"]]
            str(seg["name"])
        int(meta["next"])
        return meta
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"{state} is damaged ({exc}): delete it to rebuild") from exc


def write_state(folder: Path, state: dict[str, Any]) -> None:
    """Replace ``state.json`` atomically (callers hold ``state.lock``)."""
    with atomic_path(folder / _STATE) as tmp:
        tmp.write_text(json.dumps(state))


def check_pattern(pattern: object) -> None:
    """A pattern must be a non-empty ``str`` (code points; bytes are not decoded here)."""
    if isinstance(pattern, bytes | bytearray):
        raise ConfigError("the pattern must be text (str), not bytes: decode it first")
    if not isinstance(pattern, str) or pattern == "":
        raise EmptyQueryError("the pattern is empty: give the text to search for")


@dataclass(frozen=True)
class ExactDoc:
    """A document to index: its id in the store, path, content hash and text."""

    id: int
    path: str
    hash: str
    text: str


@dataclass(frozen=True)
class Match:
    """One occurrence: document, byte offsets of the match inside the document's UTF-8."""

    doc_id: int
    path: str
    start: int  # byte offset in the document's encoding
    end: int
    segment: int = field(default=0, compare=False)


def encode(text: str) -> bytes:
    """The bytes a document or pattern is indexed as (lone surrogates kept, never ``0xFF``)."""
    return text.encode("utf-8", "surrogatepass")


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


# The code points whose ``str.lower`` is longer than one (only U+0130 in Unicode 15), mapped to
# the first code point of it; tests check this table against every code point.
_FOLD_TABLE = {0x130: "i"}


def fold(text: str) -> str:
    """Lowercase ``text`` one code point for one, so every offset stays the same.

    ``str.lower`` maps a few characters to two (``"İ"`` -> ``"i̇"``); those keep only the
    first, so spans found in the folded text are spans of the original.

    Example:
        >>> fold("İstanbul ÉTÉ")
        'istanbul été'
    """
    low = text.lower()
    if len(low) == len(text):
        return low
    return text.translate(_FOLD_TABLE).lower()


_LIB: Any = None


def _lib() -> Any:
    """libdivsufsort's C functions (shipped inside pydivsufsort), with their signatures."""
    global _LIB
    if _LIB is None:
        from pydivsufsort.dll import libdivsufsort

        i32, p = ctypes.c_int32, ctypes.c_void_p
        libdivsufsort.sa_search.argtypes = [p, i32, p, i32, p, i32, ctypes.POINTER(i32)]
        libdivsufsort.sa_search.restype = i32
        _LIB = libdivsufsort
    return _LIB


class Segment:
    """One immutable segment on disk: ``text.npy`` (uint8), ``sa.npy`` (int32),
    ``starts.npy`` (byte offset of each document, plus the end), ``ids.npy`` and ``docs.json``
    (paths and content hashes)."""

    def __init__(self, folder: Path, mmap: bool = True) -> None:
        self.folder = folder
        mode: Literal["r"] | None = "r" if mmap else None
        try:
            meta = json.loads((folder / "docs.json").read_text())
            self.paths: list[str] = meta["paths"]
            self.hashes: list[str] = meta["hashes"]
            self.text = np.load(folder / "text.npy", mmap_mode=mode)
            self.sa = np.load(folder / "sa.npy", mmap_mode=mode)
            self.starts = np.load(folder / "starts.npy")
            self.ids = np.load(folder / "ids.npy")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"exact-index segment {folder} is damaged ({exc})") from exc
        if not (
            self.text.dtype == np.uint8
            and self.sa.dtype == np.int32
            and len(self.sa) == len(self.text)
            and len(self.starts) == len(self.ids) + 1 == len(self.paths) + 1
            and (len(self.starts) == 1 or int(self.starts[-1]) == len(self.text))
        ):
            raise IndexCorruptError(f"exact-index segment {folder} is inconsistent")
        self.row_of = {int(d): r for r, d in enumerate(self.ids)}
        self._ptrs = (self.text.ctypes.data, self.sa.ctypes.data)

    @property
    def nbytes(self) -> int:
        return len(self.text)

    @staticmethod
    def write(folder: Path, docs: Sequence[tuple[int, str, str, bytes]]) -> None:
        """Build a segment from ``(id, path, hash, utf8)`` into folder ``folder`` (atomic)."""
        from pydivsufsort import divsufsort

        sizes = np.fromiter((len(d[3]) + 1 for d in docs), dtype=np.int64, count=len(docs))
        starts = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        text = np.empty(int(starts[-1]), dtype=np.uint8)
        for (_, _, _, data), s in zip(docs, starts[:-1], strict=True):
            text[s : s + len(data)] = np.frombuffer(data, dtype=np.uint8)
            text[s + len(data)] = SEP
        if len(text) > MAX_SEGMENT_BYTES:
            raise ConfigError("an exact-index segment is limited to 2 GiB: add fewer documents")
        sa = divsufsort(text) if len(text) else np.zeros(0, dtype=np.int32)
        sa = np.asarray(sa, dtype=np.int32)
        with atomic_dir(folder) as tmp:
            np.save(tmp / "text.npy", text)
            np.save(tmp / "sa.npy", sa)
            np.save(tmp / "starts.npy", starts)
            np.save(tmp / "ids.npy", np.asarray([d[0] for d in docs], dtype=np.int64))
            meta = {"paths": [d[1] for d in docs], "hashes": [d[2] for d in docs]}
            (tmp / "docs.json").write_text(json.dumps(meta))

    def doc_bytes(self, row: int) -> bytes:
        """The UTF-8 of document ``row`` (without its separator)."""
        return self.text[int(self.starts[row]) : int(self.starts[row + 1]) - 1].tobytes()

    def range(self, pattern: bytes) -> tuple[int, int]:
        """``(left, count)``: suffix-array rows ``[left, left+count)`` start with ``pattern``."""
        n = len(self.text)
        if n == 0 or len(pattern) > n:
            return 0, 0
        left = ctypes.c_int32()
        count = _lib().sa_search(
            self._ptrs[0], n, pattern, len(pattern), self._ptrs[1], n, ctypes.byref(left)
        )
        if count < 0:
            raise IndexCorruptError(f"exact-index segment {self.folder} failed a search")
        return left.value, count

    def rows_of(self, positions: np.ndarray) -> np.ndarray:
        """Document row of each byte position."""
        return np.searchsorted(self.starts, positions, side="right") - 1


class ExactIndex:
    """Segments of one variant (``exact`` or ``fold``) in a folder; see the module docstring.

    Args:
        folder: where the segments and ``state.json`` live (created on first save).
        variant: ``exact`` (case-sensitive) or ``fold`` (case-insensitive).
        mmap: memory-map the segment files (default) or read them in.
    """

    def __init__(self, folder: str | Path, variant: str = "exact", mmap: bool = True) -> None:
        if variant not in VARIANTS:
            raise ConfigError(f"exact-index variant must be one of {VARIANTS}, got {variant!r}")
        self.folder = Path(folder)
        self.variant = variant
        self.mmap = mmap
        self.segments: list[Segment] = []
        self.deleted: list[set[int]] = []  # masked document ids, per segment
        self._next = 1
        self._dirty = False
        # the store generation the owner last brought this index in line with (saved in the
        # state; lets a new process skip comparing every document with the store)
        self.generation: int | None = None
        # changes since the state was last read, applied to it on save (see save())
        self._created: set[str] = set()  # segments this object wrote
        self._masked: set[int] = set()  # document ids this object masked
        if (self.folder / _STATE).exists():
            self._load_state()

    # -- persistence ----------------------------------------------------------------------
    def _load_state(self) -> None:
        """Open the segments ``state.json`` lists. A merge may delete a listed folder between
        the read and the open: then the state is read again (it lists the merged segment)."""
        for attempt in range(5):
            meta = read_state(self.folder, self.variant)
            try:
                self._adopt(meta)
                return
            except IndexCorruptError:
                if attempt == 4 or all(
                    (self.folder / s["name"]).is_dir() for s in meta["segments"]
                ):
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _adopt(self, meta: dict[str, Any]) -> None:
        """Make ``meta`` (a state) this object's view, reusing segments already open."""
        have = {s.folder.name: s for s in self.segments}
        segments = [
            have.get(s["name"]) or Segment(self.folder / s["name"], mmap=self.mmap)
            for s in meta["segments"]
        ]
        self.segments = segments
        self.deleted = [set(s["deleted"]) for s in meta["segments"]]
        self._next = max(self._next, int(meta["next"]))
        self.generation = meta.get("generation")
        self._created.clear()
        self._masked.clear()

    def refresh(self) -> None:
        """Read ``state.json`` again (after a merge); unsaved changes are saved first."""
        self.save()
        if (self.folder / _STATE).exists():
            self._load_state()

    def save(self) -> None:
        """Apply this object's changes to ``state.json``, atomically.

        Under ``state.lock`` the state on disk is read again and changed, not overwritten:
        segments a merge wrote meanwhile are kept, the ones it merged away stay gone, and the
        documents this object masked are masked in every segment it did not write itself.
        """
        from lcmem.indexers.exact_merge import file_lock

        if not self._dirty and (self.folder / _STATE).exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        generation = self.generation
        with file_lock(self.folder / "state.lock", timeout=120):
            disk = (
                read_state(self.folder, self.variant) if (self.folder / _STATE).exists() else None
            )
            mine = {s.folder.name: d for s, d in zip(self.segments, self.deleted, strict=True)}
            segs: list[dict[str, Any]] = []
            for s in disk["segments"] if disk else []:
                name, dead = s["name"], set(s["deleted"])
                if name in mine:
                    dead |= mine[name]
                elif self._masked:  # written by a merge (or another writer) since we read
                    ids = Segment(self.folder / name, mmap=self.mmap).ids.tolist()
                    dead |= self._masked.intersection(ids)
                segs.append({"name": name, "deleted": sorted(dead)})
            listed = {s["name"] for s in segs}
            for seg in self.segments:  # ours, not yet listed
                name = seg.folder.name
                if name in self._created and name not in listed:
                    segs.append({"name": name, "deleted": sorted(mine[name])})
            state = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "variant": self.variant,
                "next": max(self._next, int(disk["next"]) if disk else 0),
                "segments": segs,
            }
            if generation is not None:
                state["generation"] = generation
            write_state(self.folder, state)
            self._adopt(state)
        self._dirty = False

    # -- contents -------------------------------------------------------------------------
    def documents(self) -> dict[int, str]:
        """``{document id: content hash}`` of every live document."""
        out: dict[int, str] = {}
        for seg, dead in zip(self.segments, self.deleted, strict=True):
            for d, h in zip(seg.ids.tolist(), seg.hashes, strict=True):
                if d not in dead:
                    out[d] = h
        return out

    def __len__(self) -> int:
        return sum(len(s.ids) - len(d) for s, d in zip(self.segments, self.deleted, strict=True))

    @property
    def nbytes(self) -> int:
        """Bytes of indexed text (masked documents included until merged away)."""
        return sum(s.nbytes for s in self.segments)

    def prepare(self, text: str) -> bytes:
        """The bytes searched for ``text`` in this variant."""
        return encode(fold(text) if self.variant == "fold" else text)

    def add(self, docs: Iterable[ExactDoc]) -> None:
        """Index documents as one new segment (or more past 2 GiB); ids already present are
        masked first, so re-adding a document replaces it. Nothing is merged here: see
        :mod:`lcmem.indexers.exact_merge`."""
        batch: list[tuple[int, str, str, bytes]] = []
        size = 0
        for d in docs:
            data = self.prepare(d.text)
            if batch and size + len(data) + 1 > MAX_SEGMENT_BYTES:
                self._add_segment(batch)
                batch, size = [], 0
            batch.append((d.id, d.path, d.hash, data))
            size += len(data) + 1
        if batch:
            self._add_segment(batch)

    def _add_segment(self, batch: list[tuple[int, str, str, bytes]]) -> None:
        self.remove([d[0] for d in batch])
        name = f"seg-{self._next:06d}-{secrets.token_hex(3)}"
        self._next += 1
        Segment.write(self.folder / name, batch)
        self.segments.append(Segment(self.folder / name, mmap=self.mmap))
        self.deleted.append(set())
        self._created.add(name)
        self._dirty = True

    def remove(self, doc_ids: Iterable[int]) -> int:
        """Mask documents (they stay on disk until their segment is merged); returns how many
        live documents were masked."""
        gone = 0
        for i in doc_ids:
            i = int(i)
            for seg, dead in zip(self.segments, self.deleted, strict=True):
                if i in seg.row_of and i not in dead:
                    dead.add(i)
                    gone += 1
            self._masked.add(i)
        if gone:
            self._dirty = True
        return gone

    # -- merging --------------------------------------------------------------------------
    def live_docs(self, i: int) -> list[tuple[int, str, str, bytes]]:
        """``(id, path, hash, bytes)`` of segment ``i``'s unmasked documents (for a merge)."""
        seg, dead = self.segments[i], self.deleted[i]
        return [
            (d, seg.paths[row], seg.hashes[row], seg.doc_bytes(row))
            for row, d in enumerate(seg.ids.tolist())
            if d not in dead
        ]

    def merge(self, policy: Any = None) -> int:
        """Save, then merge in this process as long as ``policy`` (an
        :class:`~lcmem.indexers.exact_merge.MergePolicy`) asks; how many merges ran."""
        from lcmem.indexers.exact_merge import merge_until_done

        self.save()
        n = merge_until_done(self.folder, self.variant, policy, wait=True)
        self.refresh()
        return n

    def optimize(self) -> None:
        """Merge every segment into one, dropping masked documents (waits for a running
        background merge first)."""
        from lcmem.indexers.exact_merge import merge_step

        self.save()
        merge_step(self.folder, self.variant, everything=True, wait=True)
        self.refresh()

    # -- queries --------------------------------------------------------------------------
    def _check(self, pattern: str) -> bytes:
        check_pattern(pattern)
        return self.prepare(pattern)

    def count(self, pattern: str, allowed: Iterable[int] | None = None) -> int:
        """Occurrences of ``pattern`` (overlapping ones too: ``"aa"`` is twice in ``"aaa"``),
        in the documents ``allowed`` (ids) if given."""
        pat = self._check(pattern)
        allow = None if allowed is None else np.asarray(sorted(set(allowed)), dtype=np.int64)
        total = 0
        for seg, dead in zip(self.segments, self.deleted, strict=True):
            left, n = seg.range(pat)
            if n == 0:
                continue
            if not dead and allow is None:
                total += n
                continue
            ok = self._row_mask(seg, dead, allow)
            total += int(ok[seg.rows_of(seg.sa[left : left + n])].sum())
        return total

    @staticmethod
    def _row_mask(seg: Segment, dead: set[int], allow: np.ndarray | None) -> np.ndarray:
        ok = np.ones(len(seg.ids), dtype=bool)
        if dead:
            ok &= ~np.isin(seg.ids, np.fromiter(dead, dtype=np.int64, count=len(dead)))
        if allow is not None:
            ok &= np.isin(seg.ids, allow)
        return ok

    def locate(
        self, pattern: str, limit: int | None = None, allowed: Iterable[int] | None = None
    ) -> list[Match]:
        """Occurrences in document order (by path, then offset), the first ``limit`` of them."""
        pat = self._check(pattern)
        allow = None if allowed is None else np.asarray(sorted(set(allowed)), dtype=np.int64)
        found: list[tuple[str, int, int, np.ndarray]] = []  # path, segment, doc id, offsets
        for si, (seg, dead) in enumerate(zip(self.segments, self.deleted, strict=True)):
            left, n = seg.range(pat)
            if n == 0:
                continue
            pos = np.asarray(seg.sa[left : left + n], dtype=np.int64)
            rows = seg.rows_of(pos)
            if dead or allow is not None:
                keep = self._row_mask(seg, dead, allow)[rows]
                pos, rows = pos[keep], rows[keep]
            if not len(pos):
                continue
            order = np.lexsort((pos, rows))
            pos, rows = pos[order], rows[order]
            cuts = np.flatnonzero(np.diff(rows)) + 1
            for rpos, row in zip(np.split(pos, cuts), rows[np.r_[0, cuts]].tolist(), strict=True):
                found.append((seg.paths[row], si, int(seg.ids[row]), rpos - seg.starts[row]))
        found.sort(key=lambda f: (f[0], f[1]))
        out: list[Match] = []
        for path, si, doc_id, offsets in found:
            for off in offsets.tolist():
                out.append(Match(doc_id, path, off, off + len(pat), si))
                if limit is not None and len(out) >= limit:
                    return out
        return out

    def text_of(self, match: Match) -> bytes:
        """The UTF-8 bytes of the document a match lies in."""
        seg = self.segments[match.segment]
        return seg.doc_bytes(seg.row_of[match.doc_id])


@dataclass(frozen=True)
class Located:
    """A match in character terms: offsets, 1-based lines, the matched text and the line(s)
    around it (``snippet`` is ``text[snippet_start:snippet_end]`` of the document)."""

    doc_id: int
    path: str
    start: int
    end: int
    line_start: int
    line_end: int
    text: str
    snippet: str
    snippet_start: int
    snippet_end: int
    column: int  # 1-based, in characters, of ``start`` on its line


def to_chars(
    index: ExactIndex, matches: Sequence[Match], snippet_chars: int = 240
) -> list[Located]:
    """Character offsets, line numbers and a snippet for each match (one scan per document).

    Offsets index the document's ``str`` (code points): ``text[start:end] == pattern`` for an
    exact index. The snippet is the match's line(s), cut to about ``snippet_chars``.
    """
    out: list[Located] = []
    key: tuple[int, int] | None = None
    data, lead, lines = b"", np.zeros(1, np.int64), np.zeros(0, np.int64)
    for m in matches:
        if key != (m.segment, m.doc_id):
            key = (m.segment, m.doc_id)
            data = index.text_of(m)
            arr = np.frombuffer(data, dtype=np.uint8)
            # byte offset of each code point, and of the end
            lead = np.append(np.flatnonzero((arr & 0xC0) != 0x80), len(data))
            lines = np.flatnonzero(arr == 10)  # byte offset of each newline
        a = data.rfind(b"\n", 0, m.start) + 1
        b = data.find(b"\n", m.end)
        b = len(data) if b == -1 else b
        start, end, a_c, b_c = np.searchsorted(lead, [m.start, m.end, a, b]).tolist()
        lo = max(a_c, start - snippet_chars // 2)
        hi = min(b_c, max(end, lo + snippet_chars))
        line_start, line_end = (
            np.searchsorted(lines, [m.start, max(m.start, m.end - 1)]) + 1
        ).tolist()
        out.append(
            Located(
                m.doc_id,
                m.path,
                start,
                end,
                line_start,
                line_end,
                decode(data[m.start : m.end]),
                decode(data[int(lead[lo]) : int(lead[hi])]),
                lo,
                hi,
                start - a_c + 1,
            )
        )
    return out


# -- whitespace-normalised search ---------------------------------------------------------
# No index of its own: the longest word of the pattern is looked up in the index, and only the
# documents holding it are scanned with a regular expression in which each run of whitespace
# matches any run of ASCII whitespace.
_WS = b"[ \t\n\r\f\v]+"


def _normalized(index: ExactIndex, pattern: str) -> tuple[re.Pattern[bytes], str]:
    check_pattern(pattern)
    if not pattern.strip(" \t\n\r\f\v"):
        raise EmptyQueryError(
            "the pattern is only whitespace: with whitespace normalised it would match every "
            "gap between words; give some text, or search without normalising whitespace"
        )
    words = re.split(r"[ \t\n\r\f\v]+", pattern.strip(" \t\n\r\f\v"))
    body = _WS.join(re.escape(index.prepare(w)) for w in words)
    return re.compile(b"(?=(" + body + b"))"), max(words, key=lambda w: len(w.encode()))


def _candidates(
    index: ExactIndex, word: str, allowed: Iterable[int] | None
) -> list[tuple[str, int, int]]:
    """``(path, segment, row)`` of live documents holding ``word``, in document order."""
    pat = index.prepare(word)
    allow = None if allowed is None else np.asarray(sorted(set(allowed)), dtype=np.int64)
    out = []
    for si, (seg, dead) in enumerate(zip(index.segments, index.deleted, strict=True)):
        left, n = seg.range(pat)
        if n == 0:
            continue
        rows = np.unique(seg.rows_of(np.asarray(seg.sa[left : left + n], dtype=np.int64)))
        rows = rows[index._row_mask(seg, dead, allow)[rows]]
        out += [(seg.paths[r], si, r) for r in rows.tolist()]
    out.sort()
    return out


def count_normalized(index: ExactIndex, pattern: str, allowed: Iterable[int] | None = None) -> int:
    """Occurrences of ``pattern`` where any whitespace run matches any whitespace run.

    Example:
        >>> import tempfile
        >>> ix = ExactIndex(tempfile.mkdtemp())
        >>> ix.add([ExactDoc(1, "a", "h", "see  the   manual; see the manual")])
        >>> count_normalized(ix, "the manual"), ix.count("the manual")
        (2, 1)
    """
    rx, word = _normalized(index, pattern)
    total = 0
    for _, si, row in _candidates(index, word, allowed):
        total += sum(1 for _ in rx.finditer(index.segments[si].doc_bytes(row)))
    return total


def locate_normalized(
    index: ExactIndex, pattern: str, limit: int | None = None, allowed: Iterable[int] | None = None
) -> list[Match]:
    """Matches of ``pattern`` as in :func:`count_normalized`, in document order."""
    rx, word = _normalized(index, pattern)
    out: list[Match] = []
    for path, si, row in _candidates(index, word, allowed):
        seg = index.segments[si]
        for m in rx.finditer(seg.doc_bytes(row)):
            out.append(Match(int(seg.ids[row]), path, m.start(1), m.end(1), si))
            if limit is not None and len(out) >= limit:
                return out
    return out
