"""Recall@10 of IVF and HNSW against flat on REAL embeddings (all-MiniLM-L6-v2), issue 18.

The million-chunk run (``bench_million.py``) uses a cheap hashed TF-IDF embedder whose vectors
have little cluster structure, which makes IVF look worse than on a real model. This script
checks the approximate-index settings on vectors of the real model: an existing library of
25,683 man-page chunks embedded with all-MiniLM-L6-v2 (made by the ONNX benchmark,
``/work/scratch-onnx/big``; only read: its ``faiss.index`` is loaded read-only).

Frozen spec: 1,000 queries (seed 18), each a window of 3 to 8 consecutive words of a random
chunk, embedded with the library's model (lcmem's default embedder); dev = even positions,
test = odd. Ground truth: exact flat top-10. IVF is built the way an ``auto`` library switches
(``FaissIndex.convert``: ``nlist = sqrt(n)``, trained on 64 vectors per list), and also with
``nlist = 4 sqrt(n)``; HNSW with M 32, efConstruction 80. Settings are chosen on dev.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_ann_real.py [--library PATH]
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.machine import cpu_model, load_average  # noqa: E402

K = 10


def queries(db: Path, n: int, seed: int = 18) -> list[str]:
    """``n`` word windows of random chunks (see the module docstring)."""
    rows = sqlite3.connect(db).execute("SELECT text FROM lcmem_chunks ORDER BY id").fetchall()
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        words = re.findall(r"[A-Za-z][A-Za-z0-9_]{2,}", rows[rng.randrange(len(rows))][0])
        if len(words) < 8:
            continue
        m = rng.randint(3, 8)
        s = rng.randrange(len(words) - m + 1)
        out.append(" ".join(words[s : s + m]))
    return out


def main() -> None:
    import faiss

    from lcmem.embedders.auto import load_embedder
    from lcmem.indexers.dense_policy import switch_nlist
    from lcmem.indexers.faiss import FaissIndex

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", default="/work/scratch-onnx/big")
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    lib = Path(args.library)
    flat = FaissIndex.load(lib / "faiss.index", mmap=True)
    n = len(flat)
    texts = queries(lib / "lcmem.db", args.queries)
    from lcmem.embedders.sentence import DEFAULT_MODEL

    emb = load_embedder(DEFAULT_MODEL)
    q = emb.embed(texts, kind="query")
    dev, test = np.arange(len(q))[0::2], np.arange(len(q))[1::2]
    truth = [[i for i, _ in r] for r in flat.search_many(q, K)]

    def recall(sel: np.ndarray, got: list[list[tuple[int, float]]]) -> float:
        return float(
            np.mean(
                [len(set(truth[i]) & {j for j, _ in g}) / K for i, g in zip(sel, got, strict=True)]
            )
        )

    print("| index | setting | recall@10 dev | recall@10 test | ms/query |\n|---|---|---|---|---|")
    for nlist in (switch_nlist(n), 4 * switch_nlist(n)):
        t = time.perf_counter()
        ivf = flat.convert("ivf", nlist=nlist)
        build = time.perf_counter() - t
        for nprobe in (4, 8, 16, 32, 64):
            ivf._nprobe = nprobe
            t = time.perf_counter()
            got_t = ivf.search_many(q[test], K)
            ms = (time.perf_counter() - t) / len(test) * 1000
            got_d = ivf.search_many(q[dev], K)
            print(
                f"| ivf (built in {build:.1f} s) | nlist {nlist}, nprobe {nprobe} "
                f"| {recall(dev, got_d):.4f} | {recall(test, got_t):.4f} | {ms:.2f} |",
                flush=True,
            )
    t = time.perf_counter()
    hnsw = flat.convert("hnsw", hnsw_m=32, ef_construction=80)
    build = time.perf_counter() - t
    for ef in (16, 32, 64, 128):
        hnsw._ef_search = ef
        t = time.perf_counter()
        got_t = hnsw.search_many(q[test], K)
        ms = (time.perf_counter() - t) / len(test) * 1000
        got_d = hnsw.search_many(q[dev], K)
        print(
            f"| hnsw (built in {build:.1f} s) | M 32, efSearch {ef} "
            f"| {recall(dev, got_d):.4f} | {recall(test, got_t):.4f} | {ms:.2f} |",
            flush=True,
        )
    print(
        f"\n{n:,} vectors of {emb.name}; {len(q)} queries; cpu {cpu_model()}; load {load_average()}"
    )


if __name__ == "__main__":
    main()
