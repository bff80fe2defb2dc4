"""BM25 build time and per-query latency: lcmem BM25Index vs rank-bm25 and bm25s.

All three get the same token lists (lcmem's Analyzer over man-page paragraphs, see
``manpages.py``) and the same queries (random 2-6 word phrases cut from the paragraphs, fixed
seed). Queries run one at a time, as a search box sends them; latency is top-k retrieval, timed
in turn for each system on each query. Also times lcmem's incremental add/remove (which the
peers can only do by rebuilding) and checks that lcmem's scores equal rank-bm25's.

Run: ``.venv/bin/python benchmarks/bench_bm25.py --paragraphs 50000 --queries 1000``
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import re
import statistics
import time
from collections.abc import Callable

import numpy as np

try:
    from benchmarks.manpages import paragraphs
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from manpages import paragraphs  # type: ignore[no-redef]

from lcmem.indexers.analyzer import Analyzer
from lcmem.indexers.bm25 import BM25Index


def make_queries(paras: list[str], n: int, analyzer: Analyzer, seed: int) -> list[list[str]]:
    """``n`` token lists of random 2-6 consecutive words of random paragraphs (non-empty)."""
    rng = random.Random(seed)
    out: list[list[str]] = []
    while len(out) < n:
        words = re.findall(r"\S+", rng.choice(paras))
        length = rng.randint(2, 6)
        start = rng.randrange(max(1, len(words) - length + 1))
        tokens = analyzer(" ".join(words[start : start + length]))
        if tokens:
            out.append(tokens)
    return out


def interleaved(
    systems: dict[str, Callable[[list[str]], object]], queries: list[list[str]]
) -> dict[str, list[float]]:
    """Seconds per query of each system, timed in turn on each query (in a shuffled order), so
    that the noise of a shared machine and cache effects fall on all of them alike."""
    out: dict[str, list[float]] = {name: [] for name in systems}
    names = list(systems)
    rng = random.Random(0)
    for q in queries:
        rng.shuffle(names)
        for name in names:
            fn = systems[name]
            t = time.perf_counter()
            fn(q)
            out[name].append(time.perf_counter() - t)
    return out


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p))


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument(
        "--rank-queries", type=int, default=200, help="queries timed on rank-bm25 (slow)"
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--updates", type=int, default=1000, help="docs added / removed")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.ERROR)
    import bm25s
    from rank_bm25 import BM25Okapi

    paras = paragraphs(args.paragraphs + args.updates)
    corpus, extra = paras[: args.paragraphs], paras[args.paragraphs :][: args.updates]
    analyzer = Analyzer()
    t_tok, tokens = timed(lambda: analyzer.many(corpus))
    extra_tokens = analyzer.many(extra)
    queries = make_queries(corpus, args.queries, analyzer, args.seed)
    k = args.k
    print(
        f"corpus: {len(corpus)} man-page paragraphs (benchmarks/manpages.py), "
        f"{sum(map(len, tokens))} tokens after lcmem's Analyzer ({t_tok:.2f} s); "
        f"{len(queries)} queries of {statistics.mean(map(len, queries)):.1f} terms on average "
        f"(2-6 word phrases from the corpus, seed {args.seed}); top-{k}, one query per call"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}"
    )
    long_query = [t for q in queries[:50] for t in q]  # many postings: takes the numba path

    builds: dict[str, float] = {}
    systems: dict[str, Callable[[list[str]], object]] = {}
    ids = np.arange(len(tokens), dtype=np.int64)
    first: dict[str, float] = {}
    for label, backend in (
        ("lcmem BM25Index (auto: numba kernel)", "auto"),
        ("lcmem BM25Index (numpy only)", "numpy"),
    ):
        index = BM25Index(backend=backend)
        # add() folds a batch this large in at once, so this is the whole build
        builds[label], _ = timed(lambda i=index: i.add(ids, tokens))
        first[label], _ = timed(lambda i=index: i.search(long_query, k=k))
        systems[label] = lambda q, i=index: i.search(q, k=k)
    lcmem_index = index  # numpy-only; both give the same results
    for backend in ("numba", "numpy"):
        label = f"bm25s {bm25s.__version__} ({backend})"
        retriever = bm25s.BM25(backend=backend)
        builds[label], _ = timed(lambda r=retriever: r.index(tokens, show_progress=False))
        retriever.retrieve([queries[0]], k=k, show_progress=False)  # numba compiles: not timed
        systems[label] = lambda q, r=retriever: r.retrieve([q], k=k, show_progress=False)
    lat = interleaved(systems, queries)

    t_rank, rank = timed(lambda: BM25Okapi(tokens))
    rank_q = queries[: args.rank_queries]

    def rank_top(q: list[str]) -> np.ndarray:
        scores = rank.get_scores(q)
        top = np.argpartition(-scores, k)[:k]
        return top[np.argsort(-scores[top])]

    label = "rank-bm25 0.2.2 (BM25Okapi)"
    builds[label] = t_rank
    lat |= interleaved({label: rank_top}, rank_q)

    max_diff = max(
        float(np.abs(lcmem_index.get_scores(q) - rank.get_scores(q)).max()) for q in rank_q
    )
    same_top = sum(_same_top_scores(lcmem_index, rank, q, k) for q in rank_q)

    base50 = pct(lat["lcmem BM25Index (auto: numba kernel)"], 50)
    base95 = pct(lat["lcmem BM25Index (auto: numba kernel)"], 95)
    print()
    print("| system | build (s) | p50 (ms) | p95 (ms) | queries | p50 / lcmem | p95 / lcmem |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, ls in lat.items():
        print(
            f"| {name} | {builds[name]:.2f} | {pct(ls, 50) * 1e3:.3f} | {pct(ls, 95) * 1e3:.3f} "
            f"| {len(ls)} | {pct(ls, 50) / base50:.1f}x | {pct(ls, 95) / base95:.1f}x |"
        )
    print()
    auto = "lcmem BM25Index (auto: numba kernel)"
    print(
        f"not in the table: lcmem (auto)'s first long query, which imports numba and loads its "
        f"cached kernel (or compiles it, on the very first run): {first[auto] * 1e3:.0f} ms; "
        f"bm25s's numba warm-up is not timed either"
    )
    print(
        f"lcmem vs rank-bm25 on {len(rank_q)} queries: max |score diff| over all documents = "
        f"{max_diff:.2e}; same top-{k} scores in {same_top}/{len(rank_q)}"
    )

    # Incremental updates on lcmem (the peers can only rebuild).
    index = lcmem_index
    new_ids = np.arange(len(tokens), len(tokens) + len(extra_tokens), dtype=np.int64)
    t_add, _ = timed(lambda: index.add(new_ids, extra_tokens))
    t_fold_add, _ = timed(lambda: index.search(queries[1], k=k))
    gone = np.random.default_rng(args.seed).choice(len(tokens), args.updates, replace=False)
    t_rm, n_rm = timed(lambda: index.remove(gone))
    t_fold_rm, _ = timed(lambda: index.search(queries[2], k=k))
    gone_set = set(gone.tolist())
    remaining = [t for i, t in enumerate(tokens) if i not in gone_set] + extra_tokens
    fresh = BM25Okapi(remaining)
    upd_diff = max(
        float(np.abs(index.get_scores(q) - fresh.get_scores(q)).max()) for q in queries[3:23]
    )
    t_scratch, _ = timed(lambda: BM25Index().add(np.arange(len(remaining)), remaining))
    print()
    print("| lcmem update | call (ms) | next search, which folds it in (ms) |")
    print("|---|---:|---:|")
    print(f"| add {len(extra_tokens)} docs | {t_add * 1e3:.1f} | {t_fold_add * 1e3:.1f} |")
    print(f"| remove {n_rm} docs | {t_rm * 1e3:.1f} | {t_fold_rm * 1e3:.1f} |")
    print(
        f"after both: max |score diff| vs rank-bm25 rebuilt from scratch = {upd_diff:.2e}; "
        f"lcmem rebuilding from scratch instead: {t_scratch * 1e3:.0f} ms"
    )


def _same_top_scores(index: BM25Index, rank: object, q: list[str], k: int) -> bool:
    """lcmem's top-k scores equal rank-bm25's best scores (ids may differ only on ties)."""
    got = [s for _, s in index.search(q, k=k)]
    want = np.sort(rank.get_scores(q))[::-1][:k]  # type: ignore[attr-defined]
    return bool(np.allclose(got, want[: len(got)], rtol=0, atol=1e-9))


if __name__ == "__main__":
    main()
