"""BM25 idf: rank-bm25's (the default) against Lucene's, BM25 only, on two retrieval tasks.

- ``code``: the corpus, queries and criterion of ``bench_code_retrieval.py`` (find a stdlib
  function from the first sentence of its removed docstring), chunked by ``CodeChunker`` and
  ``TokenChunker`` (200 tokens, overlap 20) and indexed in memory as
  ``code_retrieval_diagnose.py`` does. Dev: target modules a-f; test: g-m (the same split).
- ``man``: the task of ``bench_quality.py`` (find a man page from its NAME description), one
  document per page, NAME section removed. Dev/test: by a hash of the page name.

Metric: MRR@10 (code: a hit overlapping the target function; man: the page). No model is
loaded. Tune on dev only: the default changes only if dev says so and test agrees.

Run: ``.venv/bin/python benchmarks/bench_bm25_idf.py`` (``--pages 300`` man pages).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_code_retrieval import WORK, prepare, stdlib_a_m
from bench_index import man_pages
from bench_quality import build_corpus
from code_retrieval_diagnose import build, chunk_files, first_hits, mrr

from lcmem.chunkers import CodeChunker, TokenChunker
from lcmem.indexers.analyzer import Analyzer
from lcmem.indexers.bm25 import BM25Index
from lcmem.tokens import HFTokenizer
from lcmem.types import Document

SETTINGS = [
    ("okapi", "rank-bm25"),
    ("okapi", "lucene"),
    ("plus", "rank-bm25"),
    ("plus", "lucene"),
]


def code_rows(n_queries: int, seed: int) -> list[tuple[str, str, float, float]]:
    src = WORK / "src"
    targets = prepare(stdlib_a_m(), src)
    queries = random.Random(seed).sample(targets, min(n_queries, len(targets)))
    dev = np.array([t.file[0] <= "f" for t in queries])
    docs = [
        Document(text=p.read_text(encoding="utf-8"), path=str(p), metadata={"lang": "python"})
        for p in sorted(src.glob("*.py"))
    ]
    tok = HFTokenizer.default()
    analyzer = Analyzer()
    rows = []
    for label, chunker in (
        ("code/ast", CodeChunker(200, 20, tokenizer=tok)),
        ("code/fixed", TokenChunker(200, 20, tokenizer=tok)),
    ):
        chunks = chunk_files(chunker, docs)
        for variant, idf in SETTINGS:
            over, _, _ = first_hits(
                chunks, build(chunks, analyzer, variant=variant, idf=idf), analyzer, queries
            )
            rows.append((label, f"{variant}/{idf}", mrr(over[dev]), mrr(over[~dev])))
    return rows


def man_rows(pages: int, seed: int) -> list[tuple[str, str, float, float]]:
    folder = Path(tempfile.mkdtemp(prefix="bm25-idf-man-"))
    corpus = build_corpus(man_pages(pages, "1", seed), folder)
    queries = sorted(corpus.queries.items())
    names = sorted(p.name for p in folder.iterdir())
    analyzer = Analyzer()
    terms = analyzer.many([(folder / n).read_text(encoding="utf-8") for n in names])
    shutil.rmtree(folder)
    dev = np.array([hashlib.sha1(name.encode()).digest()[0] % 2 == 0 for _, name in queries])
    rows = []
    for variant, idf in SETTINGS:
        index = BM25Index(variant=variant, idf=idf)
        index.add(np.arange(len(names)), terms)
        ranks = []
        for query, want in queries:
            hits = [names[i] for i, _ in index.search(analyzer(query), k=10)]
            ranks.append(hits.index(want) + 1 if want in hits else 0)
        r = np.array(ranks)
        rows.append(("man", f"{variant}/{idf}", mrr(r[dev]), mrr(r[~dev])))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queries", type=int, default=400, help="code queries")
    ap.add_argument("--pages", type=int, default=600, help="man pages")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = code_rows(args.queries, args.seed) + man_rows(args.pages, args.seed)
    print("| task | variant/idf | dev MRR@10 | test MRR@10 |")
    print("|---|---|---:|---:|")
    for task, setting, d, t in rows:
        print(f"| {task} | {setting} | {d:.3f} | {t:.3f} |")


if __name__ == "__main__":
    main()
