"""Query latency of hybrid search at 20,000 chunks: the new default fusion vs the old RRF.

A :class:`~lcmem.indexers.hybrid.HybridIndex` over ``--chunks`` man-page paragraphs (real text
in lcmem's BM25 index; the dense side is a flat FAISS index of random unit vectors of the
embedder's dimension, since the cost of a flat search does not depend on the vectors' content,
and embedding 20,000 chunks takes hours on this machine). Each query is a real man-page phrase,
embedded by the packaged model. Per query, in alternating order (A B, then B A on the next
query), both systems run the whole query path: embed the query, analyze it, search both
indices for their candidates and fuse:

- ``old``: ``Fusion("rrf", rrf_k=60, candidates=50)``, lcmem's default before issue 16;
- ``round 4``: the fourth round's default (no coordination factor, ``coord=0``);
- ``new``: :data:`~lcmem.indexers.fusion.DEFAULT_FUSION`.

BM25 has a new library's settings (``Library.BM25_DEFAULTS``). Phrase evidence needs the terms
of BM25's best chunks: as ``Library._chunk_terms`` does, their texts are read from an SQLite
table (a file in a temporary folder, one row per chunk) and analyzed, inside the timed search.
The order of the systems rotates per query. Printed: p50 / p95 ms of each and the ratios to
``old``, with and without the query embedding.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fusion_latency.py``.
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])

    import numpy as np
    from manpages import paragraphs

    from lcmem.embedders.sentence import SentenceEmbedder
    from lcmem.indexers.analyzer import Analyzer
    from lcmem.indexers.bm25 import BM25Index
    from lcmem.indexers.faiss import FaissIndex
    from lcmem.indexers.fusion import DEFAULT_FUSION, Fusion
    from lcmem.indexers.hybrid import HybridIndex
    from lcmem.library import BM25_DEFAULTS

    texts = paragraphs(args.chunks)[: args.chunks]
    analyzer = Analyzer()
    embedder = SentenceEmbedder()
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((len(texts), embedder.dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    dense, sparse = FaissIndex(embedder.dim), BM25Index(**BM25_DEFAULTS)
    ids = np.arange(len(texts), dtype=np.int64)
    dense.add(ids, vecs)
    sparse.add(ids, analyzer.many(texts))
    folder = tempfile.mkdtemp()
    db = sqlite3.connect(os.path.join(folder, "chunks.db"))
    db.execute("CREATE TABLE chunk (id INTEGER PRIMARY KEY, text TEXT)")
    db.executemany("INSERT INTO chunk VALUES (?, ?)", enumerate(texts))
    db.commit()

    def terms_of(chunk_ids: list[int]) -> dict[int, list[str]]:
        marks = ",".join("?" * len(chunk_ids))
        rows = db.execute(f"SELECT id, text FROM chunk WHERE id IN ({marks})", chunk_ids)
        got = dict(rows.fetchall())
        order = list(got)
        return dict(zip(order, analyzer.many([got[i] for i in order]), strict=True))

    round4 = Fusion("zscore", 0.5, 60, 100, 8.0, False, 0.0, 1.0, 5.0, coord=0, near=0)
    systems = {
        "old (rrf k=60, 50 cand.)": HybridIndex(
            dense, sparse, Fusion("rrf", 0.5, 60, 50, 1.0, False, 0.0, 0.0, 0.0, coord=0, near=0)
        ),
        f"round 4 ({round4})": HybridIndex(dense, sparse, round4),
        f"new ({DEFAULT_FUSION})": HybridIndex(dense, sparse, DEFAULT_FUSION),
    }
    r = random.Random(1)
    queries = []
    while len(queries) < args.queries:
        words = r.choice(texts).split()
        if len(words) >= 6:
            start = r.randrange(len(words) - 4)
            queries.append(" ".join(words[start : start + r.randint(2, 6)]))
    for q in queries[:10]:  # warm up both systems and the model
        for h in systems.values():
            h.search(embedder.embed_query(q), analyzer(q), args.k, text=q, terms_of=terms_of)
    total: dict[str, list[float]] = {name: [] for name in systems}
    index_only: dict[str, list[float]] = {name: [] for name in systems}
    names = list(systems)
    for n, q in enumerate(queries):
        for name in names[n % 3 :] + names[: n % 3]:
            t0 = time.perf_counter()
            vec = embedder.embed_query(q)
            t1 = time.perf_counter()
            systems[name].search(vec, analyzer(q), args.k, text=q, terms_of=terms_of)
            t2 = time.perf_counter()
            total[name].append(t2 - t0)
            index_only[name].append(t2 - t1)
    print("| system | p50 ms | p95 ms | p50 ms without embedding | p95 ms without embedding |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        print(
            f"| {name} | {1e3 * statistics.median(total[name]):.2f} | "
            f"{1e3 * pct(total[name], 0.95):.2f} | {1e3 * statistics.median(index_only[name]):.2f}"
            f" | {1e3 * pct(index_only[name], 0.95):.2f} |"
        )
    print()
    for base, new in ((names[0], names[2]), (names[1], names[2]), (names[0], names[1])):
        ratio = statistics.median(total[new]) / statistics.median(total[base])
        ratio_idx = statistics.median(index_only[new]) / statistics.median(index_only[base])
        per_q = statistics.median(n / o for n, o in zip(total[new], total[base], strict=True))
        print(
            f"{new.split(' (')[0]} / {base.split(' (')[0]}, p50: {ratio:.3f} with the query "
            f"embedding, {ratio_idx:.3f} without it; median of per-query ratios {per_q:.3f}"
        )
    print(
        f"{len(texts)} chunks, {len(queries)} queries, k={args.k}, load average "
        f"{os.getloadavg()}; command: {command}"
    )


if __name__ == "__main__":
    main()
