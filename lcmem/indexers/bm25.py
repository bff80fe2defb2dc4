"""Sparse BM25 with incremental add/remove; scores identical to rank-bm25 0.2.2.

Postings are kept term-major (CSC-like: ``indptr`` per term, then document rows and term
frequencies), with the BM25 weight of every posting precomputed, as bm25s does. A query adds
the weight slices of its terms and selects the top k among the documents met, so its cost
follows the length of those posting lists rather than the corpus size. The query runs in numpy,
or in one optional numba kernel (see ``backend`` and :mod:`lcmem.indexers.bm25_kernels`).

``add`` and ``remove`` are cheap: new documents wait in a pending list and removed ones are
tombstoned. The next read (search, scores, ids, save) folds them in with one vectorized
O(postings) pass (merge, drop tombstones, recompute every weight from the new document count,
average length and document frequencies), so scores always equal those of rank-bm25 built from
scratch on the documents present. No peer library updates an index without rebuilding it, which
is why this is written here rather than wrapping rank-bm25 or bm25s. Measured (BENCHMARKS.md,
"BM25", 50,000 man-page paragraphs, top-10): 0.123 ms per query at p50, 349x faster than
rank-bm25 0.2.2 and 1.2x faster than bm25s 0.3.16 with numba, scores equal to rank-bm25's
within 2.1e-14.

Example:
    >>> index = BM25Index()
    >>> index.add([10, 11, 12], [["red", "apple"], ["green", "apple", "pie"], ["blue", "sky"]])
    >>> [i for i, _ in index.search(["apple", "pie"], k=5)]
    [11, 10]
    >>> index.remove([11])
    1
    >>> [i for i, _ in index.search(["apple", "pie"], k=5)]
    [10]
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from lcmem._atomic import atomic_dir, recover_dir
from lcmem.errors import ConfigError, IndexCorruptError
from lcmem.indexers.base import Index
from lcmem.indexers.bm25_kernels import numba_kernel
from lcmem.indexers.bm25_vocab import MappedVocabulary, write_vocabulary

FORMAT = "lcmem-bm25"
FORMAT_VERSION = 2  # 2: vocabulary in mapped files (bm25_vocab.py), not in bm25.json
READABLE_VERSIONS = (1, 2)
VARIANTS = ("okapi", "plus", "l")
IDFS = ("rank-bm25", "lucene")
_DEFAULT_DELTA = {"okapi": None, "plus": 1.0, "l": 0.5}
_META = "bm25.json"
_ARRAYS = {  # file stem -> dtype
    "indptr": np.int64,  # (terms + 1,) start of each term's postings
    "rows": np.int64,  # (postings,) document row (intp: numpy fancy indexing needs no cast)
    "tf": np.int32,  # (postings,) term frequency of each posting
    "weights": np.float64,  # (postings,) BM25 contribution of each posting
    "idf": np.float64,  # (terms,) idf used (after the Okapi floor)
    "doc_len": np.int64,  # (docs,) tokens per document
    "ids": np.int64,  # (docs,) external id of each row
}
_PENDING_LIMIT = 4096  # pending documents that trigger folding them in at once
_SAMPLE = 256  # scores sampled (at least) to find a cheap lower bound of the k-th best one
_DENSE_RATIO = 4  # queries with more than docs/4 postings sum them with one dense bincount
_NUMBA_MIN_POSTINGS = 1024  # "auto" backend: numba only for queries with this many postings,
# and only once numpy has spent as long on such queries as loading numba takes (below).
# Loading the cached kernel cost 1.3 s of CPU in a fresh process; numpy answered a query on a
# 25,683-chunk library in 0.06-0.12 ms, numba in 0.03 ms (measured 2026-12-07, issue 15). A
# one-shot `lcmem search` therefore never pays for numba; a server switches once numpy's
# total reaches the load time, so it never spends more than about twice the best choice.
_NUMBA_AFTER_SECONDS = 1.0
BACKENDS = ("auto", "numpy", "numba")
_NO_MASK = np.empty(0, bool)


@dataclass
class _State:
    """One consistent, immutable version of the committed index (arrays may be memory-mapped)."""

    indptr: np.ndarray
    rows: np.ndarray
    tf: np.ndarray
    weights: np.ndarray
    idf: np.ndarray
    doc_len: np.ndarray
    ids: np.ndarray
    const: np.ndarray | None = None  # BM25+: delta * idf, scored for every document
    _sorted: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def n_docs(self) -> int:
        return len(self.ids)

    @property
    def n_terms(self) -> int:
        return len(self.indptr) - 1

    def sorted_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ids sorted, row of each)`` for id -> row look-ups."""
        if self._sorted is None:
            order = np.argsort(self.ids, kind="stable")
            self._sorted = (self.ids[order], order)
        return self._sorted

    def rows_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(found mask over ids, rows of the found ones)``."""
        sids, order = self.sorted_ids()
        if len(sids) == 0:
            return np.zeros(len(ids), dtype=bool), np.empty(0, dtype=np.int64)
        pos = np.searchsorted(sids, ids)
        pos[pos == len(sids)] = 0
        found = sids[pos] == ids
        return found, order[pos[found]]


def _empty_state() -> _State:
    return _State(
        indptr=np.zeros(1, np.int64),
        rows=np.empty(0, np.int64),
        tf=np.empty(0, np.int32),
        weights=np.empty(0, np.float64),
        idf=np.empty(0, np.float64),
        doc_len=np.empty(0, np.int64),
        ids=np.empty(0, np.int64),
    )


@dataclass
class _Batch:
    """Documents added since the last fold: external ids, term ids of all tokens, lengths."""

    ids: np.ndarray
    terms: np.ndarray
    lens: np.ndarray
    alive: np.ndarray


class _Scratch(threading.local):
    """Per-thread dense buffers for multi-term queries, zeroed again after every use."""

    acc: np.ndarray = np.empty(0)
    unset: np.ndarray = np.empty(0)  # all -inf, for the numba kernel
    cand: np.ndarray = np.empty(0, np.int64)  # candidate rows, for the numba kernel
    vals: np.ndarray = np.empty(0)  # their scores, for the numba kernel

    def get(self, n: int) -> np.ndarray:
        if len(self.acc) < n:
            self.acc = np.zeros(max(n, 2 * len(self.acc)), np.float64)
        return self.acc

    def get_unset(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if len(self.unset) < n:
            self.unset = np.full(max(n, 2 * len(self.unset), 1), -np.inf)
            # zeros, not empty: pages are touched now rather than page-faulted during a query
            # one spare slot: the kernel's branch-free loop writes cand[n] even when n == rows
            self.cand = np.zeros(len(self.unset) + 1, np.int64)
            self.vals = np.zeros(len(self.unset), np.float64)
        return self.unset, self.cand, self.vals


class BM25Index(Index):
    """BM25 over token lists (see :class:`~lcmem.indexers.analyzer.Analyzer`), keyed by int64 ids.

    Scores equal those of rank-bm25 **0.2.2** (``BM25Okapi``, ``BM25Plus``, ``BM25L``) built on
    the same token lists in :meth:`ids` order, to float64 rounding:

    - ``"okapi"``: idf ``log(N - df + 0.5) - log(df + 0.5)``; a negative idf is replaced by
      ``epsilon`` times the mean idf of all terms (the mean taken before the floor).
    - ``"plus"``: idf ``log((N + 1) / df)``; every document, even one without the term, gets
      ``delta * idf`` per query term (so its scores are never 0).
    - ``"l"``: idf ``log(N + 1) - log(df + 0.5)`` and the 0.2.2 formula
      ``idf * tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)``. Its extra ``tf`` factor
      was removed on rank-bm25's master branch after 0.2.2 (PR #20, March 2022, not released
      on PyPI), which would also give documents without the term ``idf * (k1 + 1) * delta /
      (k1 + delta)``; this index follows 0.2.2, the released version.

    With ``idf="lucene"`` every variant uses instead the idf of Lucene, Elasticsearch, bm25s
    and most search engines, ``log(1 + (N - df + 0.5) / (df + 0.5))``: never negative, so
    Okapi needs no ``epsilon`` floor and a term in most documents still counts a little.

    A query term counts as many times as it appears in the query; unknown terms count 0.
    :meth:`search` only ranks documents containing at least one query term.

    Args:
        variant: ``"okapi"``, ``"plus"`` or ``"l"``.
        k1: the usual BM25 term-frequency saturation.
        b: the usual BM25 length normalisation.
        epsilon: Okapi idf floor, as a fraction of the mean idf.
        delta: BM25+/BM25L shift; ``None`` means rank-bm25's default (1.0 for plus, 0.5 for l).
        idf: ``"rank-bm25"`` (each variant's idf as above) or ``"lucene"``. Saved with the
            index, so a library keeps the idf it was built with.
        length_floor: in the length norm a document counts as at least ``length_floor``
            times the average document length (its real length when longer; the average is
            of the real lengths). ``0`` (the default) is plain BM25, equal to rank-bm25. A
            chunk of a few words left beside full chunks (a header, one inserted sentence)
            otherwise gets a small norm and outranks the full chunk that holds the answer
            (issue 22). Saved with the index.
        backend: how :meth:`search` runs: ``"numpy"``; ``"numba"`` (a compiled one-pass
            kernel, about twice as fast on long posting lists; numba is optional and imported
            on first use, ~1.3 s); ``"auto"``: numpy, switching to numba (if installed) for
            queries with 1,024+ postings once numpy has spent a second on such queries, so
            one-shot searches never load numba and servers do. Results are identical.
            An attribute: set it again after :meth:`load`.

    Example:
        >>> index = BM25Index(variant="plus")
        >>> index.add([1, 2], [["a", "b"], ["b", "c", "c"]])
        >>> index.get_scores(["c"]).round(4).tolist()  # document 1 has no "c" but scores
        [1.0986, 2.5733]
    """

    def __init__(
        self,
        variant: str = "okapi",
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        delta: float | None = None,
        backend: str = "auto",
        idf: str = "rank-bm25",
        length_floor: float = 0.0,
    ) -> None:
        if variant not in VARIANTS:
            raise ConfigError(f"unknown BM25 variant {variant!r}: use one of {VARIANTS}")
        if idf not in IDFS:
            raise ConfigError(f"unknown BM25 idf {idf!r}: use one of {IDFS}")
        for name, value in (
            ("k1", k1),
            ("b", b),
            ("epsilon", epsilon),
            ("length_floor", length_floor),
        ):
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(f"BM25 {name} must be a finite number, got {value!r}")
        if delta is not None and (not isinstance(delta, int | float) or not math.isfinite(delta)):
            raise ConfigError(f"BM25 delta must be a finite number or None, got {delta!r}")
        if length_floor < 0:
            raise ConfigError(f"BM25 length_floor must be >= 0, got {length_floor!r}")
        if backend not in BACKENDS:
            raise ConfigError(f"unknown BM25 backend {backend!r}: use one of {BACKENDS}")
        self.backend = backend
        self.variant = variant
        self.idf = idf
        self.k1 = float(k1)
        self.b = float(b)
        self.epsilon = float(epsilon)
        self.length_floor = float(length_floor)
        default = _DEFAULT_DELTA[variant]
        self.delta = float(delta) if delta is not None else default
        self._lock = threading.RLock()
        self._scratch = _Scratch()
        self._numpy_seconds = 0.0  # "auto": time spent on long queries without numba
        self._vocab: dict[Hashable, int] | MappedVocabulary = {}
        self._state = _empty_state()
        self._dead: np.ndarray | None = None  # tombstones over the committed rows
        self._n_dead = 0
        self._pending: list[_Batch] = []
        self._pending_pos: dict[int, tuple[int, int]] = {}  # id -> (batch, position)
        self._n_pending = 0

    # ------------------------------------------------------------------ mutation

    def add(self, ids: Sequence[int] | np.ndarray, data: Sequence[Sequence[Hashable]]) -> None:
        """Add documents (``data``: one token list per id). An id already present is an error.

        Example:
            >>> index = BM25Index()
            >>> index.add([7], [["hello", "world"]])
            >>> len(index)
            1
        """
        id_arr = _as_ids(ids)
        token_lists = list(data)
        if len(token_lists) != len(id_arr):
            raise ConfigError(
                f"add() got {len(id_arr)} ids but {len(token_lists)} token lists: "
                "pass one token list per id"
            )
        for toks in token_lists:
            if isinstance(toks, str | bytes):
                raise ConfigError(
                    "add() takes token lists, not strings: tokenize first, "
                    "e.g. index.add(ids, Analyzer().many(texts))"
                )
        if len(id_arr) == 0:
            return
        with self._lock:
            self._check_new_ids(id_arr)
            if isinstance(self._vocab, MappedVocabulary):  # loaded: a writer needs a dict
                self._vocab = self._vocab.to_dict()
            vocab = self._vocab
            setdefault = vocab.setdefault
            # Python dict look-ups are the fastest way to map strings to ids; the rest is numpy.
            terms = np.fromiter(
                (setdefault(t, len(vocab)) for t in chain.from_iterable(token_lists)),
                dtype=np.int64,
            )
            lens = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(id_arr))
            batch = _Batch(id_arr, terms, lens, np.ones(len(id_arr), bool))
            self._pending.append(batch)
            self._n_pending += len(id_arr)
            if self._n_pending >= _PENDING_LIMIT:
                self._fold()
            else:
                b = len(self._pending) - 1
                for pos, i in enumerate(id_arr.tolist()):
                    self._pending_pos[i] = (b, pos)

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Remove ids if present (unknown ids are ignored); returns how many were removed.

        Example:
            >>> index = BM25Index()
            >>> index.add([1, 2], [["x"], ["y"]])
            >>> index.remove([2, 3])
            1
        """
        id_arr = np.unique(_as_ids(ids))
        if len(id_arr) == 0:
            return 0
        removed = 0
        with self._lock:
            if self._pending_pos:
                rest = []
                for i in id_arr.tolist():
                    where = self._pending_pos.pop(i, None)
                    if where is None:
                        rest.append(i)
                    else:
                        self._pending[where[0]].alive[where[1]] = False
                        self._n_pending -= 1
                        removed += 1
                id_arr = np.asarray(rest, dtype=np.int64)
            _, rows = self._state.rows_of(id_arr)
            if len(rows):
                if self._dead is None:
                    self._dead = np.zeros(self._state.n_docs, bool)
                rows = rows[~self._dead[rows]]
                self._dead[rows] = True
                self._n_dead += len(rows)
                removed += len(rows)
        return removed

    def _check_new_ids(self, id_arr: np.ndarray) -> None:
        uniq, counts = np.unique(id_arr, return_counts=True)
        if len(uniq) != len(id_arr):
            dup = uniq[counts > 1][:5].tolist()
            raise ConfigError(f"add() got the same id more than once: {dup}; ids must be unique")
        found, rows = self._state.rows_of(id_arr)
        present = id_arr[found]
        if self._dead is not None and len(rows):
            present = present[~self._dead[rows]]
        clash = present.tolist() + [i for i in id_arr.tolist() if i in self._pending_pos]
        if clash:
            raise ConfigError(
                f"ids already in the BM25 index: {sorted(clash)[:5]}"
                f"{' ...' if len(clash) > 5 else ''}; remove() them first to replace their text"
            )

    # ------------------------------------------------------------------ folding

    def _current(self) -> _State:
        """The committed state with every pending change folded in."""
        with self._lock:
            if self._pending or self._n_dead:
                self._fold()
            return self._state

    def _fold(self) -> None:
        """Merge pending documents, drop tombstoned ones, recompute all weights: O(postings)."""
        st = self._state
        indptr, rows, tf, doc_len, ids = st.indptr, st.rows, st.tf, st.doc_len, st.ids
        if self._n_dead:
            assert self._dead is not None
            keep = ~self._dead
            remap = np.cumsum(keep) - 1
            keep_post = keep[rows]
            csum = np.zeros(len(keep_post) + 1, np.int64)
            np.cumsum(keep_post, out=csum[1:])
            indptr = csum[indptr]
            rows = remap[rows[keep_post]]
            tf = tf[keep_post]
            doc_len, ids = doc_len[keep], ids[keep]
        if self._pending:
            indptr, rows, tf, doc_len, ids = self._merge_pending(indptr, rows, tf, doc_len, ids)
        self._state = self._with_weights(indptr, rows, tf, doc_len, ids)
        self._dead, self._n_dead = None, 0
        self._pending, self._pending_pos, self._n_pending = [], {}, 0

    def _merge_pending(
        self,
        indptr: np.ndarray,
        rows: np.ndarray,
        tf: np.ndarray,
        doc_len: np.ndarray,
        ids: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        batches = []
        for bt in self._pending:
            if bt.alive.all():
                batches.append((bt.ids, bt.terms, bt.lens))
            elif bt.alive.any():
                tok_alive = np.repeat(bt.alive, bt.lens)
                batches.append((bt.ids[bt.alive], bt.terms[tok_alive], bt.lens[bt.alive]))
        n_vocab = len(self._vocab)
        n_old_terms = len(indptr) - 1
        if not batches:
            return indptr, rows, tf, doc_len, ids
        new_ids = np.concatenate([x[0] for x in batches])
        new_terms = np.concatenate([x[1] for x in batches])
        new_lens = np.concatenate([x[2] for x in batches])
        m = len(new_ids)
        # (term, document) pairs sorted term-major; their counts are the term frequencies.
        key = new_terms * m + np.repeat(np.arange(m, dtype=np.int64), new_lens)
        key, counts = np.unique(key, return_counts=True)
        p_terms, p_docs = np.divmod(key, m)
        old_df = np.zeros(n_vocab, np.int64)
        old_df[:n_old_terms] = np.diff(indptr)
        new_df = np.bincount(p_terms, minlength=n_vocab)
        merged = np.zeros(n_vocab + 1, np.int64)
        np.cumsum(old_df + new_df, out=merged[1:])
        out_rows = np.empty(merged[-1], np.int64)
        out_tf = np.empty(merged[-1], np.int32)
        # Old postings move right by the new postings of earlier terms; new ones follow the
        # old ones of their term, so rows stay ascending within each term.
        shift = merged[:n_old_terms] - indptr[:-1]
        old_pos = np.arange(len(rows), dtype=np.int64) + np.repeat(shift, old_df[:n_old_terms])
        out_rows[old_pos] = rows
        out_tf[old_pos] = tf
        new_start = np.zeros(n_vocab, np.int64)
        np.cumsum(new_df[:-1], out=new_start[1:])
        new_pos = (
            merged[p_terms] + old_df[p_terms] + np.arange(len(key), dtype=np.int64)
        ) - new_start[p_terms]
        out_rows[new_pos] = p_docs + len(ids)
        out_tf[new_pos] = counts
        return (
            merged,
            out_rows,
            out_tf,
            np.concatenate([doc_len, new_lens]),
            np.concatenate([ids, new_ids]),
        )

    def _with_weights(
        self,
        indptr: np.ndarray,
        rows: np.ndarray,
        tf: np.ndarray,
        doc_len: np.ndarray,
        ids: np.ndarray,
    ) -> _State:
        """Per-posting BM25 weights, each written as rank-bm25 0.2.2 computes it."""
        n = len(ids)
        df = np.diff(indptr)
        live = df > 0
        k1, b = self.k1, self.b
        idf = np.zeros(len(df), np.float64)
        const: np.ndarray | None = None
        if n and live.any():
            dfl = df[live].astype(np.float64)
            if self.idf == "lucene":
                idf[live] = np.log1p((n - dfl + 0.5) / (dfl + 0.5))
            elif self.variant == "okapi":
                raw = np.log(n - dfl + 0.5) - np.log(dfl + 0.5)
                floor = self.epsilon * (raw.sum() / len(raw))
                idf[live] = np.where(raw < 0, floor, raw)
            elif self.variant == "plus":
                idf[live] = np.log((n + 1) / dfl)
            else:
                idf[live] = np.log(n + 1) - np.log(dfl + 0.5)
        if self.variant == "plus" and self.delta is not None:  # plus always has a delta
            const = self.delta * idf
        if len(rows) == 0:
            return _State(indptr, rows, tf, np.empty(0), idf, doc_len, ids, const)
        # Same operations as rank-bm25 on each element (a + b == b + a exactly), written in
        # place: the fold is O(postings) and allocating fewer big arrays is most of its cost.
        avgdl = int(doc_len.sum()) / n
        if self.length_floor > 0:  # a fragment counts as at least length_floor * avgdl long
            norm = 1 - b + b * np.maximum(doc_len, self.length_floor * avgdl) / avgdl
        else:
            norm = 1 - b + b * doc_len / avgdl  # per document
        weights = tf.astype(np.float64)  # q_freq
        if self.variant in ("okapi", "plus"):
            # okapi: idf * (tf * (k1 + 1) / (tf + k1 * norm)); plus: the same plus delta * idf,
            # which every document gets and is added apart (see ``const``).
            denom = (k1 * norm)[rows]
            denom += weights
            weights *= k1 + 1
            weights /= denom
            weights *= np.repeat(idf, df)
        else:
            # idf * tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta), ctd = tf / norm
            delta = self.delta
            ctd = norm[rows]
            np.divide(weights, ctd, out=ctd)
            q_freq = weights
            weights = np.repeat(idf, df)
            weights *= q_freq
            weights *= k1 + 1
            weights *= ctd + delta
            ctd += k1
            ctd += delta
            weights /= ctd
        return _State(indptr, rows, tf, weights, idf, doc_len, ids, const)

    # ------------------------------------------------------------------ queries

    def _query_terms(self, st: _State, query: Iterable[Hashable]) -> list[tuple[int, int]]:
        """``(term id, times in the query)`` of the query's terms that are in the index."""
        if isinstance(query, str | bytes):
            raise ConfigError(
                "BM25 queries are token lists, not strings: use Analyzer()(text) to tokenize"
            )
        counts: dict[int, int] = {}
        get = self._vocab.get
        n_terms = st.n_terms
        for tok in query:
            t = get(tok)
            if t is not None and t < n_terms:
                counts[t] = counts.get(t, 0) + 1
        indptr = st.indptr
        return [(t, c) for t, c in counts.items() if indptr[t + 1] > indptr[t]]

    def search(
        self,
        query: Iterable[Hashable],
        k: int = 10,
        allowed: np.ndarray | Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        """Best ``k`` ``(id, score)`` among documents containing a query term, best first.

        Ties are broken by smaller id. ``allowed`` (ids) restricts the results.

        Example:
            >>> index = BM25Index()
            >>> index.add([1, 2, 3], [["a", "b"], ["b"], ["c"]])
            >>> [i for i, _ in index.search(["b"], allowed=[2, 3])]
            [2]
        """
        if k < 0:
            raise ConfigError(f"k must be >= 0, got {k}")
        st = self._current()
        terms = self._query_terms(st, query)
        if not terms or k == 0:
            return []
        k = min(k, st.n_docs)
        spans = [(int(st.indptr[t]), int(st.indptr[t + 1]), c) for t, c in terms]
        keep = None
        if allowed is not None:
            keep = np.zeros(st.n_docs, bool)
            keep[st.rows_of(_as_ids(allowed))[1]] = True
        kernel = None
        long_query = sum(e - s for s, e, _ in spans) >= _NUMBA_MIN_POSTINGS
        if self.backend == "numba" or (
            self.backend == "auto" and long_query and self._numpy_seconds >= _NUMBA_AFTER_SECONDS
        ):
            kernel = numba_kernel(required=self.backend == "numba")
        if kernel is not None:
            ids, scores = self._top_k_numba(kernel, st, spans, k, keep)
        else:
            started = time.perf_counter()
            rows, scores, m, distinct = self._candidates(st, spans)
            if keep is not None:
                sel = keep[rows]
                rows, scores, distinct = rows[sel], scores[sel], (0, 0)
            ids, scores = _top_k(st.ids, rows, scores, k, m, distinct)
            if long_query:
                self._numpy_seconds += time.perf_counter() - started
        if st.const is not None:
            scores = scores + sum(st.const[t] * c for t, c in terms)
        return list(zip(ids.tolist(), scores.tolist(), strict=True))

    def coverage(
        self,
        query: Iterable[Hashable],
        doc_id: int,
        unknown: str = "rarest",
        terms: str = "all",
    ) -> float:
        """Share of the query's idf mass that document ``doc_id`` holds, in [0, 1].

        The sum of the idf of the query terms (each as often as it is in the query) that the
        document contains, over that sum for every query term; a term no document holds
        counts as much as the rarest indexed term (``unknown="rarest"``) or not at all
        (``unknown="ignore"``); a negative Okapi idf counts 0. Near 1:
        the document has all of the query's words, rare ones included (an exact name, an
        identifier); low: it matches only some common words. 0 for an unknown id or a query
        without terms. ``terms="rare"``: only the query terms whose idf is at least the median
        of the query's term idfs count (a question's framing words, ``manual``, ``where``,
        are the common half and drop out). :class:`~lcmem.indexers.hybrid.HybridIndex` weighs
        the BM25 list by it.

        Example:
            >>> index = BM25Index(idf="lucene")
            >>> index.add([1, 2, 3], [["pass", "key"], ["pass", "ada"], ["key"]])
            >>> index.coverage(["pass", "ada"], 2), round(index.coverage(["key", "ada"], 3), 2)
            (1.0, 0.32)
        """
        query = list(query)
        st = self._current()
        counted = self._query_terms(st, query)
        if unknown not in ("rarest", "ignore"):
            raise ConfigError(f"unknown must be 'rarest' or 'ignore', got {unknown!r}")
        if terms not in ("all", "rare"):
            raise ConfigError(f"terms must be 'all' or 'rare', got {terms!r}")
        missing = len(query) - sum(c for _, c in counted) if unknown == "rarest" else 0
        idf = {t: max(float(st.idf[t]), 0.0) for t, _ in counted}
        rare = max(float(st.idf.max()), 0.0) if len(st.idf) else 0.0
        if terms == "rare" and counted:
            values = [idf[t] for t, c in counted for _ in range(c)] + [rare] * missing
            cut = float(np.median(values))
            counted = [(t, c) for t, c in counted if idf[t] >= cut]
        total = sum(idf[t] * c for t, c in counted) + missing * rare
        if total <= 0:
            return 0.0
        held = self._held(st, [t for t, _ in counted], doc_id)
        return min(sum(idf[t] * c for t, c in counted if t in held) / total, 1.0)

    def held_terms(self, query: Iterable[Hashable], doc_id: int) -> int:
        """How many distinct terms of ``query`` document ``doc_id`` holds (0 for an unknown id).

        :class:`~lcmem.indexers.hybrid.HybridIndex` weighs the BM25 list by it
        (``Fusion.coord``): a best chunk that holds one word of a three-word query is weak
        evidence however rare the word.

        Example:
            >>> index = BM25Index()
            >>> index.add([1, 2], [["pass", "key", "ada"], ["key"]])
            >>> index.held_terms(["pass", "key", "pass", "zed"], 1), index.held_terms(["key"], 2)
            (2, 1)
        """
        st = self._current()
        return len(self._held(st, [t for t, _ in self._query_terms(st, query)], doc_id))

    @staticmethod
    def _held(st: _State, terms: list[int], doc_id: int) -> set[int]:
        """The term ids of ``terms`` whose postings hold document ``doc_id``."""
        found, rows = st.rows_of(np.asarray([int(doc_id)], dtype=np.int64))
        if not found[0]:
            return set()
        row = rows[0]
        return {t for t in terms if (st.rows[st.indptr[t] : st.indptr[t + 1]] == row).any()}

    def _top_k_numba(
        self,
        kernel: Any,
        st: _State,
        spans: list[tuple[int, int, int]],
        k: int,
        keep: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The compiled :func:`~lcmem.indexers.bm25_kernels.search_kernel`: the whole query in one
        pass over the postings."""
        spans = sorted(spans, key=lambda x: x[0] - x[1])  # longest first: its rows are all new
        postings = sum(e - s for s, e, _ in spans)
        acc, cand, vals = self._scratch.get_unset(st.n_docs)
        top_ids, top_scores = np.empty(k, np.int64), np.empty(k, np.float64)
        mask = keep if keep is not None else _NO_MASK
        n = kernel(
            st.rows,
            st.weights,
            np.array(spans, np.int64),
            st.ids,
            mask,
            acc,
            cand,
            vals,
            top_ids,
            top_scores,
            k,
            8 * postings >= st.n_docs,
        )
        return top_ids[:n], top_scores[:n]

    def _candidates(
        self, st: _State, spans: list[tuple[int, int, int]]
    ) -> tuple[np.ndarray, np.ndarray, int, tuple[int, int]]:
        """Rows containing a query term (posting ranges ``spans``), with their full scores.

        Returns ``(rows, scores, m, (a, b))``: a row appears up to ``m`` times (once per query
        term it contains) and ``rows[a:b]`` are distinct (the longest posting list).
        """
        rows, weights = st.rows, st.weights
        if len(spans) == 1:
            s, e, c = spans[0]
            w = weights[s:e]
            return rows[s:e], (w * c if c > 1 else w), 1, (0, e - s)
        spans = sorted(spans, key=lambda x: x[0] - x[1])  # longest first
        cat = np.concatenate([rows[s:e] for s, e, _ in spans])
        wts = np.concatenate([weights[s:e] * c if c > 1 else weights[s:e] for s, e, c in spans])
        if len(cat) * _DENSE_RATIO >= st.n_docs:
            # Many postings: one dense pass (zeroing O(docs) costs less than scattering back).
            scores = np.bincount(cat, weights=wts, minlength=st.n_docs)[cat]
        else:
            acc = self._scratch.get(st.n_docs)
            try:
                np.add.at(acc, cat, wts)
                scores = acc[cat]
            finally:
                acc[cat] = 0.0
        return cat, scores, len(spans), (0, spans[0][1] - spans[0][0])

    def get_scores(
        self, query: Iterable[Hashable], ids: Sequence[int] | np.ndarray | None = None
    ) -> np.ndarray:
        """Scores of every document in :meth:`ids` order (or of ``ids``, in their order).

        This is rank-bm25's ``get_scores`` (documents without a query term score 0, except
        under BM25+). Unknown ``ids`` are an error.

        Example:
            >>> index = BM25Index()
            >>> index.add([5, 6, 7], [["a"], ["b"], ["a"]])
            >>> index.get_scores(["b"], ids=[6, 5]).round(3).tolist()
            [0.511, 0.0]
        """
        st = self._current()
        terms = self._query_terms(st, query)
        scores = np.zeros(st.n_docs, np.float64)
        for t, c in terms:
            s, e = st.indptr[t], st.indptr[t + 1]
            scores[st.rows[s:e]] += st.weights[s:e] * c
        if st.const is not None and terms:
            scores += sum(st.const[t] * c for t, c in terms)
        if ids is None:
            return scores
        id_arr = _as_ids(ids)
        found, _ = st.rows_of(id_arr)
        if not found.all():
            raise ConfigError(f"ids not in the BM25 index: {id_arr[~found][:5].tolist()}")
        sids, order = st.sorted_ids()
        return scores[order[np.searchsorted(sids, id_arr)]]

    # ------------------------------------------------------------------ introspection

    def ids(self) -> np.ndarray:
        """Ids of all documents, in insertion order (survivors of removals keep their order)."""
        return np.array(self._current().ids, dtype=np.int64)

    def __len__(self) -> int:
        with self._lock:
            return self._state.n_docs - self._n_dead + self._n_pending

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, int | np.integer):
            return False
        with self._lock:
            if int(item) in self._pending_pos:
                return True
            found, rows = self._state.rows_of(np.array([item], np.int64))
            return bool(found[0]) and (self._dead is None or not self._dead[rows[0]])

    @property
    def vocabulary_size(self) -> int:
        """Distinct terms in at least one document."""
        return int(np.count_nonzero(np.diff(self._current().indptr)))

    def params(self) -> dict[str, Any]:
        """Variant and parameters, as given to the constructor."""
        return {
            "variant": self.variant,
            "k1": self.k1,
            "b": self.b,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "idf": self.idf,
            "length_floor": self.length_floor,
        }

    def __repr__(self) -> str:
        idf = "" if self.idf == "rank-bm25" else f", idf={self.idf!r}"
        floor = f", length_floor={self.length_floor}" if self.length_floor else ""
        return f"BM25Index(variant={self.variant!r}{idf}{floor}, docs={len(self)})"

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> None:
        """Write the index to folder ``path`` atomically: ``.npy`` arrays and ``bm25.json``.

        Example:
            >>> import tempfile
            >>> index = BM25Index()
            >>> index.add([1], [["saved"]])
            >>> folder = tempfile.mkdtemp() + "/bm25"
            >>> index.save(folder)
            >>> BM25Index.load(folder).search(["saved"])[0][0]
            1
        """
        with self._lock:
            st = self._current()
            df = np.diff(st.indptr)
            live = np.flatnonzero(df)
            # Terms no document uses any more (all removed) are dropped from the saved copy.
            vocab = list(self._vocab)[: st.n_terms]
            terms = [vocab[i] for i in live.tolist()]
            if any(not isinstance(t, str) for t in terms):
                raise ConfigError("only string tokens can be saved; tokenize with Analyzer")
            arrays = {
                "indptr": np.append(st.indptr[live], st.indptr[-1]),
                "rows": st.rows,
                "tf": st.tf,
                "weights": st.weights,
                "idf": st.idf[live],
                "doc_len": st.doc_len,
                "ids": st.ids,
            }
            meta = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "params": self.params(),
                "n_docs": st.n_docs,
                "n_postings": len(st.rows),
                "n_terms": len(terms),
            }
            with atomic_dir(path) as tmp:
                for name, arr in arrays.items():
                    np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr, _ARRAYS[name]))
                write_vocabulary(tmp, [str(t) for t in terms])  # str by the check above
                (tmp / _META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, mmap: bool = True) -> BM25Index:
        """Read a folder written by :meth:`save`; arrays are memory-mapped when ``mmap``.

        The index stays mutable: changes build new arrays and never write to the files.
        """
        path = Path(path)
        recover_dir(path)
        meta_file = path / _META
        if not meta_file.is_file():
            raise IndexCorruptError(
                f"{path} is not a BM25 index folder (no {_META}): rebuild the index"
            )
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            fmt, version = meta.get("format"), meta.get("format_version")
        except (ValueError, AttributeError, UnicodeDecodeError) as e:
            raise IndexCorruptError(f"{meta_file} is damaged ({e}): rebuild the index") from e
        if fmt != FORMAT:
            raise IndexCorruptError(f"{path} holds {fmt!r}, not a BM25 index: rebuild the index")
        if version not in READABLE_VERSIONS:
            raise IndexCorruptError(
                f"{path} has BM25 format version {version}, this lcmem reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))}: rebuild the index"
            )
        try:
            index = cls(**meta["params"])
            terms: list[str] | MappedVocabulary = (
                meta["vocabulary"] if version == 1 else MappedVocabulary.open(path)
            )
            arrays = {}
            for name, dtype in _ARRAYS.items():
                arr = np.load(path / f"{name}.npy", mmap_mode="r" if mmap else None)
                if arr.dtype != dtype or arr.ndim != 1:
                    raise ValueError(f"{name}.npy has dtype {arr.dtype} and {arr.ndim} dims")
                arrays[name] = arr
            _check_shapes(arrays, len(terms), meta)
        except (OSError, ValueError, KeyError, TypeError, ConfigError) as e:
            raise IndexCorruptError(f"BM25 index {path} is damaged ({e}): rebuild the index") from e
        index._vocab = (
            terms if isinstance(terms, MappedVocabulary) else {t: i for i, t in enumerate(terms)}
        )
        const = index.delta * arrays["idf"] if index.variant == "plus" else None
        index._state = _State(const=const, **arrays)
        return index


def _check_shapes(arrays: dict[str, np.ndarray], n_terms: int, meta: dict[str, Any]) -> None:
    """Cheap consistency checks (no pass over the postings) of a loaded index."""
    indptr = arrays["indptr"]
    n_docs, nnz = meta["n_docs"], meta["n_postings"]
    if len(indptr) != n_terms + 1 or len(arrays["idf"]) != n_terms:
        raise ValueError("vocabulary and term arrays differ in length")
    if len(arrays["ids"]) != n_docs or len(arrays["doc_len"]) != n_docs:
        raise ValueError("document arrays do not match n_docs")
    if not (len(arrays["rows"]) == len(arrays["tf"]) == len(arrays["weights"]) == nnz):
        raise ValueError("posting arrays do not match n_postings")
    if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr) < 0):
        raise ValueError("term offsets are not increasing from 0 to n_postings")


def _as_ids(ids: Sequence[int] | np.ndarray | Iterable[int]) -> np.ndarray:
    """Ids as a 1-D int64 array; floats, strings or other shapes are a :class:`ConfigError`."""
    arr = np.asarray(ids if isinstance(ids, np.ndarray | Sequence) else list(ids))
    if arr.size == 0:
        return np.empty(0, np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(f"ids must be a 1-D sequence of integers, got {arr.dtype} {arr.shape}")
    return arr.astype(np.int64, copy=False)


def _top_k(
    row_ids: np.ndarray,
    rows: np.ndarray,
    scores: np.ndarray,
    k: int,
    m: int,
    distinct: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Ids and scores of the best ``k`` rows, ties broken by smaller id.

    A row may appear up to ``m`` times in ``rows`` (always with the same score); ``rows[a:b]``
    (``distinct``) holds no row twice. Entries are cut before sorting with two lower bounds of
    the k-th best row's score: the k-th best of a strided sample of ``rows[a:b]`` (k distinct
    rows), then the ``k * m``-th best entry overall (its entries hold at least k distinct rows).
    """
    n = len(scores)
    need = k * m
    a, b = distinct
    if n > 8 * need and b - a > 4 * k:
        step = max(1, (b - a) // max(_SAMPLE, n // 32))
        sample = scores[a:b:step]
        if len(sample) > k:
            bound = np.partition(sample, len(sample) - k)[len(sample) - k]
            sel = np.flatnonzero(scores >= bound)
            rows, scores = rows[sel], scores[sel]
            n = len(scores)
    if n > need and n > 128:  # (lexsort alone is faster on a few entries)
        bound = np.partition(scores, n - need)[n - need]
        sel = np.flatnonzero(scores >= bound)
        rows, scores = rows[sel], scores[sel]
    ids = row_ids[rows]
    order = np.lexsort((ids, -scores))
    ids, scores = ids[order], scores[order]
    if m > 1 and len(ids) > 1:  # copies of a row are adjacent: same score, same id
        first = np.empty(len(ids), bool)
        first[0] = True
        np.not_equal(ids[1:], ids[:-1], out=first[1:])
        ids, scores = ids[first], scores[first]
    return ids[:k], scores[:k]
