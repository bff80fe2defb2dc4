"""The compiled BM25 query kernel: sum posting weights per document, then keep the top k.

:func:`search_kernel` is plain Python that numba compiles (:func:`numba_kernel`); the
:class:`~lcmem.indexers.bm25.BM25Index` ``backend`` decides when it is used. numba is optional
and imported on first use only, so ``import lcmem`` stays fast without it. The top k are kept
in a binary min-heap by small helpers (:func:`_worse`, :func:`_sift_up`, :func:`_sift_down`),
written here rather than using numba's ``heapq`` support, which works on lists: these work in
place in the caller's two arrays (scores and ids), with no allocation per query.

Example:
    >>> import numpy as np
    >>> kernel = numba_kernel() or search_kernel  # compiled, or the same function uncompiled
    >>> rows = np.array([0, 2, 1, 2])  # postings of term A (rows 0, 2), then term B (rows 1, 2)
    >>> weights = np.array([1.0, 0.5, 2.0, 1.0])
    >>> spans = np.array([[0, 2, 1], [2, 4, 1]])  # (start, end, times in the query) per term
    >>> top_ids, top_scores = np.empty(2, np.int64), np.empty(2)
    >>> n = kernel(rows, weights, spans, np.array([10, 11, 12]), np.empty(0, bool),
    ...            np.full(3, -np.inf), np.zeros(4, np.int64), np.zeros(3), top_ids, top_scores,
    ...            2, False)
    >>> top_ids[:n].tolist(), top_scores[:n].tolist()
    ([11, 12], [2.0, 1.5])
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from lcmem.errors import ConfigError


def _worse(
    a_score: float, a_id: int, b_score: float, b_id: int
) -> bool:  # pragma: no cover - runs compiled by numba (see numba_kernel)
    """Whether hit ``a`` ranks below hit ``b``: a lower score, or the same score and a larger id.

    The heaps below are min-heaps in this order: their root ``top_*[0]`` is the worst hit.
    """
    return a_score < b_score or (a_score == b_score and a_id > b_id)


def _sift_up(
    top_scores: np.ndarray, top_ids: np.ndarray, j: int, s: float, d: int
) -> None:  # pragma: no cover - runs compiled by numba (see numba_kernel)
    """Put ``(s, d)`` in the free slot ``j`` at the end of the heap ``top_*[:j]`` and move it up
    to its place."""
    while j > 0:
        parent = (j - 1) // 2
        if _worse(top_scores[parent], top_ids[parent], s, d):
            break
        top_scores[j], top_ids[j] = top_scores[parent], top_ids[parent]
        j = parent
    top_scores[j], top_ids[j] = s, d


def _sift_down(
    top_scores: np.ndarray, top_ids: np.ndarray, end: int, s: float, d: int
) -> None:  # pragma: no cover - runs compiled by numba (see numba_kernel)
    """Put ``(s, d)`` at the root of the heap ``top_*[:end]``, replacing the root's entry, and
    move it down to its place."""
    j = 0
    while True:
        child = 2 * j + 1
        if child >= end:
            break
        right = child + 1
        if right < end and _worse(
            top_scores[right], top_ids[right], top_scores[child], top_ids[child]
        ):
            child = right  # the worse of the two children
        if _worse(s, d, top_scores[child], top_ids[child]):
            break
        top_scores[j], top_ids[j] = top_scores[child], top_ids[child]
        j = child
    top_scores[j], top_ids[j] = s, d


def search_kernel(
    rows: np.ndarray,
    weights: np.ndarray,
    spans: np.ndarray,
    row_ids: np.ndarray,
    mask: np.ndarray,
    acc: np.ndarray,
    cand: np.ndarray,
    vals: np.ndarray,
    top_ids: np.ndarray,
    top_scores: np.ndarray,
    k: int,
    prefetch: bool,
) -> int:  # pragma: no cover - runs compiled by numba (see numba_kernel)
    """The whole query: sum the posting slices ``spans[j, 0]:spans[j, 1]`` (each weight times
    ``spans[j, 2]``) per row, then write the ids and scores of the best ``k`` rows allowed by
    ``mask`` (all if empty) to ``top_ids``/``top_scores``, best first (ties: smaller id);
    returns how many were written.

    ``acc`` is a scratch buffer over the rows, all ``-inf`` (no weight is infinite), and is
    left so; ``vals`` has room for every row and ``cand`` for one more. The rows of the first
    slice are all new (rows are unique within a term), so pass the longest one first.
    ``prefetch`` reads ``acc`` in order first (one load per cache line), which pays off when
    the postings will touch much of it: ~10% faster then, on a cold cache."""
    if prefetch:
        t = 0.0
        for i in range(0, acc.shape[0], 8):
            t += acc[i]
        vals[0] = t  # keeps the loop from being optimized away; overwritten below
    n = 0
    c = spans[0, 2]
    for p in range(spans[0, 0], spans[0, 1]):
        r = rows[p]
        acc[r] = weights[p] * c if c != 1 else weights[p]
        cand[n] = r
        n += 1
    for j in range(1, spans.shape[0]):
        c = spans[j, 2]
        for p in range(spans[j, 0], spans[j, 1]):
            r = rows[p]
            w = weights[p] * c if c != 1 else weights[p]
            a = acc[r]
            new = a == -np.inf
            # branch-free (twice as fast as an if): cand[n] is overwritten unless r is new
            acc[r] = w + (0.0 if new else a)
            cand[n] = r
            n += new
    for i in range(n):  # gather the sums, leave acc all -inf again
        r = cand[i]
        vals[i] = acc[r]
        acc[r] = -np.inf
    # The best rows so far, as a heap in top_* (see _worse).
    size = 0
    worst = -np.inf
    use_mask = mask.shape[0] > 0
    for i in range(n):
        s = vals[i]
        if size == k and s < worst:  # the common case, decided without touching the heap
            continue
        r = cand[i]
        if use_mask and not mask[r]:
            continue
        d = row_ids[r]
        if size < k:
            _sift_up(top_scores, top_ids, size, s, d)
            size += 1
        elif _worse(top_scores[0], top_ids[0], s, d):
            _sift_down(top_scores, top_ids, size, s, d)  # replace the root
        worst = top_scores[0]
    # Heap sort: move the worst to the end, repeatedly, so the best ends up first.
    for end in range(size - 1, 0, -1):
        s, d = top_scores[end], top_ids[end]
        top_scores[end], top_ids[end] = top_scores[0], top_ids[0]
        _sift_down(top_scores, top_ids, end, s, d)
    return size


_NUMBA: list[Any] = []  # [compiled search_kernel or None], filled on first use
_NUMBA_LOCK = threading.Lock()


def numba_kernel(required: bool = False) -> Callable[..., int] | None:
    """:func:`search_kernel` compiled by numba, or None without a working numba (then a
    :class:`~lcmem.errors.ConfigError` if ``required``). numba is imported on the first call.

    Example:
        >>> kernel = numba_kernel()  # None if numba is not installed
    """
    with _NUMBA_LOCK:
        if not _NUMBA:
            try:
                import numba
            except Exception:  # not installed, or broken (e.g. built for another numpy)
                _NUMBA.append(None)
            else:
                _NUMBA.append(_compile(numba))
    if _NUMBA[0] is None and required:
        raise ConfigError("BM25 backend 'numba' needs numba: pip install numba, or use 'numpy'")
    return _NUMBA[0]


def _compile(numba: Any) -> Any:
    """Jit the heap helpers, then the kernel (compiled on its first call).

    numba looks the helpers up in this module's globals when it compiles the kernel, and can
    only call compiled functions there, so their names are bound to the compiled ones first.
    """
    global _worse, _sift_up, _sift_down
    _worse = _jit(numba, _worse)
    _sift_up = _jit(numba, _sift_up)
    _sift_down = _jit(numba, _sift_down)
    return _jit(numba, search_kernel)


def _jit(numba: Any, func: Callable[..., Any]) -> Any:
    """``func`` compiled without the GIL, its machine code cached on disk when possible, so
    later processes skip the ~1 s compile."""
    try:
        return numba.njit(cache=True, nogil=True)(func)
    except RuntimeError:  # no writable cache folder
        return numba.njit(nogil=True)(func)
