"""Short chunks (issue 22): chunk sizes, exact-name lookups at 16k tokens and man-page retrieval,
before and after the minimum size and character ceiling of ``lcmem.chunkers.bounds``.

"before" is each chunker's own split (``chunker._chunk``: what every chunker returned before the
bounds existed, the code is unchanged); "after" is ``chunker.chunk`` (split, then the ceiling
and the minimum). Both come from the same chunker object in the same run.

Three parts, each split into dev and test by a hash of the item id (``split_of``, frozen):

1. ``sizes``: token counts of the chunks of ``--pages`` man pages (section 1, the order of
   ``manpages.py``) with the default text chunker (recursive, 200 tokens, overlap 20), and of
   the standard library's top-level modules with the code chunker: p1, p10, median, chunks of
   40 tokens or fewer and how many of those fit with a neighbour of their section within the
   budget.
2. ``names``: exact-name lookups in documents of about 16,384 tokens built from man pages (all
   cached pages, concatenated in a seeded order, reused if they run out), each with one inserted
   sentence giving a person's secret (``The pass key for Ada Moreau is 48213.``; generator
   ``g2``: ``Ada Moreau keeps the vault code 48213 in a drawer.``) and a distractor sentence
   for another person sharing the first name. The query is ``pass key for Ada Moreau`` (``g2``:
   ``vault code of Ada Moreau``). Chunked BM25 (lcmem's BM25Index and analyzer over the chunks'
   embedding text) is right when its top chunk holds the secret; whole-document BM25 when its
   top document is the right one. ``--name-batches N`` adds batches of ``--name-docs`` more
   documents from other seeds (batch 0 is the original set), each searched in its own index.
   Generator ``g3`` (:mod:`names_g3`, frozen apart) has other names, sentence shapes and
   distractors.
3. ``retrieval``: bench_quality's task (a man page from its NAME description) in process:
   BM25 over the chunks of ``--pages`` pages; dense (the default embedder, FAISS flat) and
   hybrid (lcmem's HybridIndex) over the first ``--dense-pages`` of them (the default ONNX
   embedder, one thread). Chunk hits are collapsed to pages; nDCG@10 and MRR@10.

Run: ``.venv/bin/python benchmarks/bench_short_chunks.py [--parts sizes,names,retrieval]``.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from bench_quality import split_page  # noqa: E402
from manpages import CACHE_ROOT, LOW_PRIORITY  # noqa: E402
from splits import split_of  # noqa: E402

from lcmem.chunkers import CodeChunker, RecursiveChunker  # noqa: E402
from lcmem.chunkers.bounds import section_of  # noqa: E402
from lcmem.tokens import HFTokenizer  # noqa: E402
from lcmem.types import Chunk, Document  # noqa: E402

BUDGET, OVERLAP, SMALL = 200, 20, 40
B = 0.75  # BM25 length normalisation (lcmem's default); --bm25-b changes it
STDLIB = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
FIRST = [
    "Ada",
    "Bruno",
    "Chloe",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Keiko",
    "Liam",
    "Mona",
    "Nils",
    "Olga",
]
LAST = [
    "Moreau",
    "Okafor",
    "Lindqvist",
    "Tanaka",
    "Novak",
    "Haddad",
    "Ferreira",
    "Kowalski",
    "Brennan",
    "Ivanova",
    "Mbeki",
    "Castillo",
    "Nakamura",
    "Schulz",
    "Dubois",
    "Andersen",
    "Rossi",
    "Kaur",
    "Petrov",
    "Walsh",
]


def man_texts(start: int, n: int) -> list[tuple[str, str]]:
    """``(name, text)`` of cached section-1 man pages ``start..start+n`` in a seeded order."""
    files = sorted(p for p in (CACHE_ROOT / "1").glob("*.txt") if p.stat().st_size > 0)
    files = [p for p in files if not p.name.startswith(LOW_PRIORITY)]
    random.Random(0).shuffle(files)
    out = [(p.name, p.read_text(encoding="utf-8", errors="replace")) for p in files[start:]]
    return [(name, t) for name, t in out if t.strip()][:n]


def before_after(chunker) -> dict[str, Callable[[Document], list[Chunk]]]:
    return {"before": chunker._chunk, "after": chunker.chunk}


def pct(values: list[int], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def fits_a_neighbour(text: str, chunks: list[Chunk], k: int, tok) -> bool:
    c = chunks[k]
    for j in (k - 1, k + 1):
        if 0 <= j < len(chunks) and section_of(chunks[j]) == section_of(c):
            a, b = (chunks[j], c) if j < k else (c, chunks[j])
            if tok.count(text[a.start : b.end]) <= BUDGET:
                return True
    return False


# -- 1. sizes --------------------------------------------------------------------------------
def part_sizes(pages: int, tok) -> None:
    corpora = {
        f"man pages ({pages})": (
            RecursiveChunker(BUDGET, OVERLAP, tok),
            [(n, Document(text=t, path=n)) for n, t in man_texts(0, pages)],
        ),
        "stdlib modules": (
            CodeChunker(BUDGET, OVERLAP, tok, language="python"),
            [
                (p.name, Document(text=p.read_text(errors="replace"), path=p.name))
                for p in sorted(STDLIB.glob("*.py"))
            ],
        ),
    }
    print(
        f"\n{'corpus':<20} {'split':<5} {'version':<7} {'chunks':>7} {'p1':>4} {'p10':>4} "
        f"{'median':>6} {'<=40':>6} {'<=40 fit':>8} {'short':>6} {'max chars':>9}"
    )
    for name, (chunker, docs) in corpora.items():
        for split in ("dev", "test"):
            mine = [(n, d) for n, d in docs if split_of(n) == split]
            for version, run in before_after(chunker).items():
                sizes, small, fit, short, longest = [], 0, 0, 0, 0
                for _, doc in mine:
                    chunks = run(doc)
                    sizes += [c.token_count for c in chunks]
                    longest = max([longest, *(c.end - c.start for c in chunks)])
                    short += sum(bool(c.metadata.get("short")) for c in chunks)
                    for k, c in enumerate(chunks):
                        if c.token_count <= SMALL:
                            small += 1
                            fit += fits_a_neighbour(doc.text, chunks, k, tok)
                print(
                    f"{name:<20} {split:<5} {version:<7} {len(sizes):>7} {pct(sizes, 0.01):>4} "
                    f"{pct(sizes, 0.10):>4} {statistics.median(sizes):>6.0f} {small:>6} "
                    f"{fit:>8} {short:>6} {longest:>9}",
                    flush=True,
                )


# -- 2. exact names at 16k tokens ------------------------------------------------------------
GENERATORS = {
    "g1": ("The pass key for {name} is {n}.", "pass key for {name}"),
    "g2": ("{name} keeps the vault code {n} in a drawer.", "vault code of {name}"),
}


def name_docs(n_docs: int, start: int, tokens: int, gen: str, tok, batch: int = 0) -> list[dict]:
    """Documents of about ``tokens`` tokens from man pages, each with one secret and one
    distractor (another person of the same first name), in lines between paragraphs.

    ``batch`` 0 is the original set (ids ``g1-0`` ...); each later batch is another set of
    ``n_docs`` documents from its own seed (ids ``g1-b1-0`` ...), searched in its own index so
    every batch is the same task at the same size. ``g3`` is :mod:`names_g3`."""
    if gen == "g3":
        from names_g3 import g3_docs

        return g3_docs(n_docs, start, tokens, tok, batch)
    rng = random.Random(f"names-{gen}" if batch == 0 else f"names-{gen}-b{batch}")
    pages = man_texts(start, 4000)
    rng.shuffle(pages)
    pages = pages * (1 + n_docs * tokens // max(1, sum(len(t) // 6 for _, t in pages)))
    people = [f"{f} {last}" for f in FIRST for last in LAST]
    rng.shuffle(people)
    said, asked = GENERATORS[gen]
    docs, p = [], 0
    for i in range(n_docs):
        parts, total = [], 0
        while total < tokens and p < len(pages):
            text = pages[p][1]
            p += 1
            parts.append(text)
            total += tok.count(text)
        body = "\n\n".join(parts)
        target = people[i]
        other = next(x for x in people[n_docs:] if x.split()[0] == target.split()[0])
        secret, decoy = rng.randrange(10000, 99999), rng.randrange(10000, 99999)
        breaks = [m.end() for m in re.finditer(r"\n\n", body)]
        at, at2 = sorted(rng.sample(breaks, 2))
        s1 = said.format(name=target, n=secret) + "\n\n"
        s2 = said.format(name=other, n=decoy) + "\n\n"
        if rng.random() < 0.5:
            s1, s2 = s2, s1
        text = body[:at] + s1 + body[at:at2] + s2 + body[at2:]
        pos = text.index(str(secret))
        item = f"{gen}-{i}" if batch == 0 else f"{gen}-b{batch}-{i}"
        docs.append({"id": item, "text": text, "query": asked.format(name=target), "secret": pos})
    return docs


NAME_GENERATORS = ("g1", "g2", "g3")


def part_names(n_docs: int, start: int, tok, batches: int = 1) -> None:
    from lcmem.indexers.analyzer import Analyzer
    from lcmem.indexers.bm25 import BM25Index

    analyzer = Analyzer()
    chunker = RecursiveChunker(BUDGET, OVERLAP, tok)
    print(f"\nexact names: {batches} x {n_docs} documents of ~16,384 tokens per generator")
    print(f"{'generator':<9} {'split':<5} {'system':<26} {'Acc@1':>6} {'n':>4}")
    for gen in NAME_GENERATORS:
        got: dict[str, dict[str, list[bool]]] = {"dev": {}, "test": {}}
        for batch in range(batches):
            docs = name_docs(n_docs, start, 16384, gen, tok, batch)
            whole = BM25Index(b=B)
            whole.add(list(range(len(docs))), analyzer.many([d["text"] for d in docs]))
            runs: dict[str, tuple[BM25Index, list[tuple[int, Chunk]]]] = {}
            for version, run in before_after(chunker).items():
                rows: list[tuple[int, Chunk]] = []
                for k, d in enumerate(docs):
                    rows += [(k, c) for c in run(Document(text=d["text"], path=d["id"]))]
                index = BM25Index(b=B)
                texts = [c.embedding_text() for _, c in rows]
                index.add(list(range(len(rows))), analyzer.many(texts))
                runs[version] = (index, rows)
            for k, d in enumerate(docs):
                res = got[split_of(d["id"])]
                q = analyzer(d["query"])
                top = whole.search(q, 1)
                res.setdefault("whole-document BM25", []).append(bool(top) and top[0][0] == k)
                for version, (index, rows) in runs.items():
                    top = index.search(q, 1)
                    ok = False
                    if top:
                        owner, c = rows[top[0][0]]
                        ok = owner == k and c.start <= d["secret"] < c.end
                    res.setdefault(f"chunked BM25 {version}", []).append(ok)
        for split in ("dev", "test"):
            for system, right in got[split].items():
                acc = statistics.mean(right)
                print(f"{gen:<9} {split:<5} {system:<26} {acc:>6.3f} {len(right):>4}")


# -- 3. retrieval ----------------------------------------------------------------------------
def ndcg_mrr(ranks: list[int | None]) -> tuple[float, float]:
    ndcg = [1 / math.log2(r + 1) if r and r <= 10 else 0.0 for r in ranks]
    mrr = [1 / r if r and r <= 10 else 0.0 for r in ranks]
    return statistics.mean(ndcg), statistics.mean(mrr)


def part_retrieval(pages: int, dense_pages: int, tok) -> None:
    from lcmem.embedders.onnx import OnnxEmbedder
    from lcmem.indexers.analyzer import Analyzer
    from lcmem.indexers.bm25 import BM25Index
    from lcmem.indexers.faiss import FaissIndex
    from lcmem.indexers.hybrid import HybridIndex

    analyzer = Analyzer()
    chunker = RecursiveChunker(BUDGET, OVERLAP, tok)
    items = []
    for name, text in man_texts(0, pages):
        description, body = split_page(text)
        if description and body.strip():
            items.append((name, description, body))
    seen: dict[str, int] = {}
    for _, d, _ in items:
        seen[d.lower()] = seen.get(d.lower(), 0) + 1
    items = [x for x in items if seen[x[1].lower()] == 1]
    emb = OnnxEmbedder(threads=1)  # the default embedder; same vectors as sentence-transformers
    cache: dict[str, np.ndarray] = {}
    print(
        f"\nretrieval: {len(items)} man pages (bm25), first {dense_pages} of them for dense/hybrid"
    )
    print(
        f"{'mode':<7} {'split':<5} {'version':<7} {'nDCG@10':>8} {'MRR@10':>7} {'n':>5}",
        f"{'chunks':>7}",
    )
    for mode in ("bm25", "dense", "hybrid"):
        subset = items if mode == "bm25" else items[:dense_pages]
        for version, run in before_after(chunker).items():
            rows: list[tuple[int, Chunk]] = []
            for k, (name, _, body) in enumerate(subset):
                rows += [(k, c) for c in run(Document(text=body, path=name))]
            texts = [c.embedding_text() for _, c in rows]
            ids = list(range(len(rows)))
            sparse = BM25Index(b=B)
            sparse.add(ids, analyzer.many(texts))
            dense = None
            if mode != "bm25":
                todo = [t for t in dict.fromkeys(texts) if t not in cache]
                if todo:
                    t0 = time.perf_counter()
                    cache.update(zip(todo, emb.embed(todo), strict=True))
                    print(f"  (embedded {len(todo)} chunks in {time.perf_counter() - t0:.0f}s)")
                dense = FaissIndex(dim=emb.dim)
                dense.add(np.asarray(ids, dtype=np.int64), np.stack([cache[t] for t in texts]))
            for split in ("dev", "test"):
                ranks: list[int | None] = []
                n = 0
                for k, (name, desc, _) in enumerate(subset):
                    if split_of(name) != split:
                        continue
                    n += 1
                    if mode == "bm25":
                        hits = [i for i, _ in sparse.search(analyzer(desc), 50)]
                    elif mode == "dense":
                        hits = [i for i, _ in dense.search(emb.embed_query(desc), 50)]
                    else:
                        hybrid = HybridIndex(dense, sparse)
                        hits = [
                            i
                            for i, _, _ in hybrid.search(emb.embed_query(desc), analyzer(desc), 50)
                        ]
                    order: list[int] = []
                    for i in hits:
                        if rows[i][0] not in order:
                            order.append(rows[i][0])
                    ranks.append(order.index(k) + 1 if k in order else None)
                nd, mr = ndcg_mrr(ranks)
                print(
                    f"{mode:<7} {split:<5} {version:<7} {nd:>8.4f} {mr:>7.4f} {n:>5}",
                    f"{len(rows):>7}",
                    flush=True,
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="sizes,names,retrieval")
    ap.add_argument("--pages", type=int, default=2000, help="man pages for sizes and bm25")
    ap.add_argument("--dense-pages", type=int, default=150, help="man pages for dense/hybrid")
    ap.add_argument("--name-docs", type=int, default=60, help="16k-token documents per batch")
    ap.add_argument("--name-batches", type=int, default=1, help="batches per generator")
    ap.add_argument("--bm25-b", type=float, default=0.75, help="BM25 b (length normalisation)")
    args = ap.parse_args()
    global B
    B = args.bm25_b
    print("command:", shlex.join([sys.executable, *sys.argv]))
    tok = HFTokenizer.default()
    parts = args.parts.split(",")
    if "sizes" in parts:
        part_sizes(args.pages, tok)
    if "names" in parts:
        part_names(args.name_docs, 0, tok, args.name_batches)
    if "retrieval" in parts:
        part_retrieval(args.pages, args.dense_pages, tok)


if __name__ == "__main__":
    main()
