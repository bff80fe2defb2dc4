"""Hybrid (and dense, bm25) man-page retrieval with the old and the new BM25 default (issue 22).

Issue 22 changed a new library's BM25 from plain (``b=0.75``) to ``b=0.5, length_floor=0.5``
(chosen on dev from exact-name lookups, with man-page BM25 nDCG@10 as the guard rail). This
script measures what that does to hybrid search, which the choice did not look at: the same
man-page task as ``bench_short_chunks.py --parts retrieval`` (query: a page's NAME description,
document: the rest of the page; pages with a unique description; the chunks of today's
recursive chunker, 200 tokens), dense vectors embedded once and shared, BM25 built twice.
Dev/test by ``splits.split_of`` on the page name (frozen).

Run: ``python benchmarks/bench_bm25_default_hybrid.py --pages 2000 --dense-pages 450``

Round 3 of issue 16 adds ``--fusion`` (repeatable: hybrid rows for each fusion setting, with
the BM25 of each ``--bm25`` setting) and caches the dense vectors in ``--vectors`` so a
re-run does not embed again. Hybrid search gets the chunks' analyzed terms (``terms_of``), as
``Library.search`` gives them, so phrase evidence (``Fusion.phrase``) is measured too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import split_page
from bench_short_chunks import BUDGET, OVERLAP, man_texts, ndcg_mrr
from splits import split_of

from lcmem.chunkers import RecursiveChunker
from lcmem.tokens import HFTokenizer
from lcmem.types import Document

SETTINGS = {"old (b=0.75)": {"b": 0.75}, "new (b=0.5, floor 0.5)": {"b": 0.5, "length_floor": 0.5}}


def main() -> None:
    from lcmem.embedders.onnx import OnnxEmbedder
    from lcmem.indexers.analyzer import Analyzer
    from lcmem.indexers.bm25 import BM25Index
    from lcmem.indexers.faiss import FaissIndex
    from lcmem.indexers.hybrid import HybridIndex

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--dense-pages", type=int, default=450)
    ap.add_argument(
        "--fusion", action="append", help="hybrid fusion setting (repeatable; default: lcmem's)"
    )
    ap.add_argument("--bm25", choices=["both", *SETTINGS], default="both")
    ap.add_argument("--vectors", type=Path, help="cache of the dense vectors (.npy)")
    ap.add_argument(
        "--embed-part",
        help="I/N: embed only the I-th of N slices of the chunks into the cache's part file "
        "and stop (run N at once to use N processes; the full run joins the parts)",
    )
    args = ap.parse_args()
    fusions = args.fusion or [None]
    settings = SETTINGS if args.bm25 == "both" else {args.bm25: SETTINGS[args.bm25]}
    if args.vectors is None:
        work = Path(__file__).resolve().parent / ".work" / "bm25_default_hybrid"
        args.vectors = work / f"vectors-{args.pages}-{args.dense_pages}.npy"
    tok = HFTokenizer.default()
    chunker = RecursiveChunker(BUDGET, OVERLAP, tok)
    analyzer = Analyzer()
    items = []
    for name, text in man_texts(0, args.pages):
        description, body = split_page(text)
        if description and body.strip():
            items.append((name, description, body))
    seen: dict[str, int] = {}
    for _, d, _ in items:
        seen[d.lower()] = seen.get(d.lower(), 0) + 1
    items = [x for x in items if seen[x[1].lower()] == 1][: args.dense_pages]
    rows = [
        (k, c)
        for k, (name, _, body) in enumerate(items)
        for c in chunker.chunk(Document(text=body, path=name))
    ]
    texts = [c.embedding_text() for _, c in rows]
    ids = np.arange(len(rows), dtype=np.int64)
    emb = OnnxEmbedder(threads=1)
    t0 = time.process_time()
    parts = sorted(args.vectors.parent.glob(args.vectors.stem + ".part*of*.npy"))
    if args.embed_part:
        i, n = (int(x) for x in args.embed_part.split("/"))
        lo, hi = len(texts) * i // n, len(texts) * (i + 1) // n
        part = np.asarray(emb.embed(texts[lo:hi]), dtype=np.float32)
        args.vectors.parent.mkdir(parents=True, exist_ok=True)
        np.save(args.vectors.parent / f"{args.vectors.stem}.part{i}of{n}.npy", part)
        print(f"embedded chunks {lo}-{hi} of {len(texts)}")
        return
    if not args.vectors.exists() and parts:
        np.save(args.vectors, np.concatenate([np.load(p) for p in parts]))
    if args.vectors.exists():
        vectors = np.load(args.vectors)
        assert len(vectors) == len(texts), "stale vector cache: delete it"
        print(f"{len(items)} pages, {len(rows)} chunks, vectors from {args.vectors}")
    else:
        vectors = np.asarray(emb.embed(texts), dtype=np.float32)
        args.vectors.parent.mkdir(parents=True, exist_ok=True)
        np.save(args.vectors, vectors)
        print(
            f"{len(items)} pages, {len(rows)} chunks embedded in "
            f"{time.process_time() - t0:.0f} s CPU"
        )
    dense = FaissIndex(dim=emb.dim)
    dense.add(ids, np.asarray(vectors))
    queries = [(k, d, split_of(n), emb.embed_query(d)) for k, (n, d, _) in enumerate(items)]
    print(f"{'mode':<7} {'split':<5} {'bm25':<24} {'nDCG@10':>8} {'MRR@10':>7} {'n':>4} fusion")
    tokens = analyzer.many(texts)

    def terms_of(chunk_ids: list[int]) -> dict[int, list[str]]:
        return {i: tokens[i] for i in chunk_ids}

    for label, kwargs in settings.items():
        sparse = BM25Index(**kwargs)
        sparse.add(ids.tolist(), tokens)
        modes = [("bm25", None), ("dense", None)] + [("hybrid", f) for f in fusions]
        for mode, fusion in modes:
            if mode == "dense" and label != next(iter(settings)):
                continue  # dense does not depend on BM25
            hybrid = HybridIndex(dense, sparse, fusion=fusion)
            for split in ("dev", "test"):
                ranks: list[int | None] = []
                for k, desc, sp, qv in queries:
                    if sp != split:
                        continue
                    if mode == "bm25":
                        hits = [i for i, _ in sparse.search(analyzer(desc), 50)]
                    elif mode == "dense":
                        hits = [i for i, _ in dense.search(qv, 50)]
                    else:
                        found = hybrid.search(qv, analyzer(desc), 50, text=desc, terms_of=terms_of)
                        hits = [i for i, _, _ in found]
                    order: list[int] = []
                    for i in hits:
                        if rows[i][0] not in order:
                            order.append(rows[i][0])
                    ranks.append(order.index(k) + 1 if k in order else None)
                nd, mr = ndcg_mrr(ranks)
                shown = hybrid.fusion if mode == "hybrid" else ""
                print(
                    f"{mode:<7} {split:<5} {label:<24} {nd:>8.4f} {mr:>7.4f} {len(ranks):>4} "
                    f"{shown}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
