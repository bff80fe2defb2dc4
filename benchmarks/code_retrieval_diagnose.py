"""Why AST chunks trail fixed windows in BM25 on the code-retrieval benchmark: diagnostics.

Same corpus, queries and criteria as :mod:`bench_code_retrieval` (it must have run once, to
write the stripped sources), BM25 only and in memory: the chunkers run on the stripped files
and :class:`~lcmem.indexers.bm25.BM25Index` is built on the analyzer's terms of each chunk's
``embedding_text()`` (context trail, newline, text), exactly what a library indexes. No model
is loaded. Sections:

1. analyzer: identifier splitting off/on, MRR@10 on the queries whose target module starts
   with a-f ("dev") and g-m ("test") separately;
2. BM25 settings (k1, b, variant) on the dev queries only;
3. the text indexed for an AST chunk: with or without its context trail;
4. fairness: chunks per target, share of the first correct hit that is the target, query terms
   matched only outside the target;
5. targets alone in their AST chunk, merged with neighbours, or split over several chunks;
6. chunk size sweep: MRR@10 and the share of def-line hits within 500/1,000/2,000 tokens read.

Run: ``.venv/bin/python benchmarks/code_retrieval_diagnose.py`` (about two minutes).
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from lcmem.chunkers import CodeChunker, TokenChunker
from lcmem.indexers.analyzer import Analyzer
from lcmem.indexers.bm25 import BM25Index
from lcmem.tokens import HFTokenizer
from lcmem.types import Chunk, Document

try:
    from benchmarks.bench_code_retrieval import WORK, Target, correct, prepare, stdlib_a_m
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from bench_code_retrieval import (  # type: ignore[no-redef]
        WORK,
        Target,
        correct,
        prepare,
        stdlib_a_m,
    )

K = 10


def chunk_files(chunker: object, docs: Sequence[Document]) -> list[Chunk]:
    out: list[Chunk] = []
    for d in docs:
        for c in chunker.chunk(d):  # type: ignore[attr-defined]
            c.doc_path = d.path
            out.append(c)
    return out


def build(
    chunks: Sequence[Chunk],
    analyzer: Analyzer,
    text: Callable[[Chunk], str] = Chunk.embedding_text,
    **bm25: object,
) -> BM25Index:
    index = BM25Index(**bm25)  # type: ignore[arg-type]
    index.add(np.arange(len(chunks)), analyzer.many([text(c) for c in chunks]))
    return index


def first_hits(
    chunks: Sequence[Chunk], index: BM25Index, analyzer: Analyzer, queries: Sequence[Target]
) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """Per query: rank of the first hit overlapping the target, of the first holding its def
    line (0 = none in the top 10), and the top-50 result ids."""
    over, defl, tops = [], [], []
    for t in queries:
        res = [i for i, _ in index.search(analyzer(t.query), k=50)]
        oks = [correct(chunks[i].doc_path, (chunks[i].start, chunks[i].end), t, False) for i in res]
        over.append(next((r for r, ok in enumerate(oks[:K], 1) if ok[0]), 0))
        defl.append(next((r for r, ok in enumerate(oks[:K], 1) if ok[1]), 0))
        tops.append(res)
    return np.array(over), np.array(defl), tops


def mrr(ranks: np.ndarray) -> float:
    return float(np.mean([1 / r if r else 0.0 for r in ranks])) if len(ranks) else 0.0


def within(
    chunks: Sequence[Chunk], tops: list[list[int]], queries: Sequence[Target], budget: int
) -> float:
    """Share of queries whose def-line hit comes within ``budget`` tokens read in rank order."""
    n = 0
    for t, res in zip(queries, tops, strict=True):
        used = 0
        for i in res:
            c = chunks[i]
            used += c.token_count
            if used > budget:
                break
            if correct(c.doc_path, (c.start, c.end), t, False)[1]:
                n += 1
                break
    return n / len(queries)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    src = WORK / "src"
    targets = prepare(stdlib_a_m(), src)
    queries = random.Random(args.seed).sample(targets, min(args.queries, len(targets)))
    dev = np.array([t.file[0] <= "f" for t in queries])
    qdev = [t for t, d in zip(queries, dev, strict=True) if d]
    docs = [
        Document(text=p.read_text(encoding="utf-8"), path=str(p), metadata={"lang": "python"})
        for p in sorted(src.glob("*.py"))
    ]
    tok = HFTokenizer.default()
    ast200 = chunk_files(CodeChunker(200, 20, tokenizer=tok), docs)
    fix200 = chunk_files(TokenChunker(200, 20, tokenizer=tok), docs)
    systems = {"ast": ast200, "fixed": fix200}
    new, old = Analyzer(), Analyzer(split_identifiers=False)
    print(f"{len(queries)} queries: {dev.sum()} dev (a-f), {(~dev).sum()} test (g-m)\n")

    print("1. Analyzer, MRR@10 overlap / def line")
    for name, an in (("split_identifiers=False", old), ("split_identifiers=True", new)):
        cells = []
        for label, chunks in systems.items():
            o, d, _ = first_hits(chunks, build(chunks, an), an, queries)
            cells.append(
                f"{label}: dev {mrr(o[dev]):.3f}/{mrr(d[dev]):.3f} "
                f"test {mrr(o[~dev]):.3f}/{mrr(d[~dev]):.3f} all {mrr(o):.3f}/{mrr(d):.3f}"
            )
        print(f"  {name:<24} " + " | ".join(cells))

    print("\n2. BM25 settings, dev queries only, MRR@10 overlap / def line")
    settings: list[dict[str, object]] = [
        {},
        {"k1": 0.9},
        {"k1": 1.2},
        {"k1": 2.0},
        {"b": 0.3},
        {"b": 0.5},
        {"b": 0.9},
        {"variant": "plus"},
    ]
    for kw in settings:
        cells = []
        for label, chunks in systems.items():
            o, d, _ = first_hits(chunks, build(chunks, new, **kw), new, qdev)
            cells.append(f"{label} {mrr(o):.3f}/{mrr(d):.3f}")
        print(f"  {kw or 'default (okapi, k1 1.5, b 0.75)'!s:<34} " + " | ".join(cells))

    print("\n3. Text indexed for an AST chunk, dev queries, MRR@10 overlap / def line")
    variants: dict[str, Callable[[Chunk], str]] = {
        "context trail + text (lcmem)": Chunk.embedding_text,
        "text only": lambda c: c.text,
    }
    for name, fn in variants.items():
        o, d, _ = first_hits(ast200, build(ast200, new, fn), new, qdev)
        print(f"  {name:<30} {mrr(o):.3f}/{mrr(d):.3f}")

    print("\n4. Fairness (all queries, analyzer with splitting)")
    for label, chunks in systems.items():
        by_file: dict[str, list[Chunk]] = {}
        for c in chunks:
            by_file.setdefault(Path(c.doc_path or "").name, []).append(c)
        n_over = [
            sum(c.start < t.end and t.start < c.end for c in by_file[t.file]) for t in queries
        ]
        n_def = [
            sum(c.start < t.def_end and t.def_start < c.end for c in by_file[t.file])
            for t in queries
        ]
        o, d, tops = first_hits(chunks, build(chunks, new), new, queries)
        share, outside = [], 0
        for t, r, res in zip(queries, d, tops, strict=True):
            if not r:
                continue
            c = chunks[res[r - 1]]
            share.append((min(c.end, t.end) - max(c.start, t.start)) / (c.end - c.start))
            text = Path(c.doc_path or "").read_text(encoding="utf-8")
            inside = set(new(text[max(c.start, t.start) : min(c.end, t.end)] + "\n" + c.context))
            matched = set(new(t.query)) & set(new(c.embedding_text()))
            outside += bool(matched - inside)
        tokens = np.mean([c.token_count for c in chunks])
        print(
            f"  {label:<6} {len(chunks)} chunks, {tokens:.0f} tokens each; chunks overlapping a "
            f"target {np.mean(n_over):.2f}, holding its def line {np.mean(n_def):.2f}; first "
            f"def-line hit: {len(share)} queries, {np.mean(share):.0%} of the chunk is the "
            f"target, {outside} ({outside / len(share):.0%}) match a query term only outside it"
        )

    print("\n5. Targets by how the AST chunker cut them, MRR@10 overlap / def line")
    by_file = {}
    for c in ast200:
        by_file.setdefault(Path(c.doc_path or "").name, []).append(c)
    kind = []
    for t in queries:
        cover = [c for c in by_file[t.file] if c.start < t.end and t.start < c.end]
        if len(cover) > 1:
            kind.append("split over several chunks")
        elif len(cover[0].metadata.get("symbols", [])) > 1:
            kind.append("merged with other definitions")
        else:
            kind.append("alone in its chunk")
    kinds = np.array(kind)
    ranks = {
        label: first_hits(chunks, build(chunks, new), new, queries)[:2]
        for label, chunks in systems.items()
    }
    for k in dict.fromkeys(kind):
        m = kinds == k
        cells = [f"{label} {mrr(o[m]):.3f}/{mrr(d[m]):.3f}" for label, (o, d) in ranks.items()]
        print(f"  {k:<30} {m.sum():>3} queries: " + " | ".join(cells))

    print("\n6. Chunk size sweep (all queries): MRR@10 overlap / def line; def-line hit within")
    print("   500 / 1000 / 2000 tokens read")
    for size in (100, 140, 200, 300, 400):
        for label, cls in (("ast", CodeChunker), ("fixed", TokenChunker)):
            chunks = chunk_files(cls(size, 20, tokenizer=tok), docs)
            o, d, tops = first_hits(chunks, build(chunks, new), new, queries)
            reads = " / ".join(f"{within(chunks, tops, queries, b):.3f}" for b in (500, 1000, 2000))
            tokens = np.mean([c.token_count for c in chunks])
            print(
                f"  {label:<5} budget {size:>3}: {len(chunks):>5} chunks, {tokens:>3.0f} tokens "
                f"each; MRR {mrr(o):.3f}/{mrr(d):.3f}; within {reads}",
                flush=True,
            )


if __name__ == "__main__":
    main()
