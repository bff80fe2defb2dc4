"""BM25 length normalisation against short chunks (issue 22, item 2): the names and man-page
retrieval tasks of ``bench_short_chunks.py`` (same documents, chunks and dev/test split) with
BM25 ``b`` of 0.75, 0.5, 0.3, and with each chunk's length floored at a share of the average
(emulated by padding terms that match no query). Prints one line per variant.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bm25_length_sweep.py`` (~15 min here).
"""

# ruff: noqa: E402, E501
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]
import bench_short_chunks as b
from bench_quality import split_page

from lcmem.chunkers import RecursiveChunker
from lcmem.indexers.analyzer import Analyzer
from lcmem.indexers.bm25 import BM25Index
from lcmem.tokens import HFTokenizer
from lcmem.types import Document

tok = HFTokenizer.default()
an = Analyzer()
ch = RecursiveChunker(200, 20, tok)
VARIANTS = [
    ("b=0.75", 0.75, 0),
    ("b=0.5", 0.5, 0),
    ("b=0.3", 0.3, 0),
    ("b=0.75 floor 0.5avg", 0.75, 0.5),
    ("b=0.75 floor 0.75avg", 0.75, 0.75),
]


def index(toks, bb, floor):
    if floor:
        avg = statistics.mean(len(t) for t in toks)
        toks = [t + ["\x00pad"] * max(0, int(floor * avg) - len(t)) for t in toks]
    ix = BM25Index(b=bb)
    ix.add(list(range(len(toks))), toks)
    return ix


for gen in ("g1", "g2"):
    docs = b.name_docs(60, 0, 16384, gen, tok)
    for version in ("before", "after"):
        run = ch._chunk if version == "before" else ch.chunk
        rows = []
        for k, d in enumerate(docs):
            rows += [(k, c) for c in run(Document(text=d["text"], path=d["id"]))]
        toks = an.many([c.text for _, c in rows])
        for name, bb, fl in VARIANTS:
            ix = index(toks, bb, fl)
            res = {"dev": [], "test": []}
            for k, d in enumerate(docs):
                top = ix.search(an(d["query"]), 1)
                o, c = rows[top[0][0]]
                res[b.split_of(d["id"])].append(o == k and c.start <= d["secret"] < c.end)
            print(
                f"names {gen} {version:<6} {name:<22} dev {statistics.mean(res['dev']):.3f} test {statistics.mean(res['test']):.3f}",
                flush=True,
            )
items = []
for name, text in b.man_texts(0, 2000):
    desc, body = split_page(text)
    if desc and body.strip():
        items.append((name, desc, body))
from collections import Counter

cnt = Counter(d.lower() for _, d, _ in items)
items = [x for x in items if cnt[x[1].lower()] == 1]
for version in ("before", "after"):
    run = ch._chunk if version == "before" else ch.chunk
    rows = []
    for k, (name, _, body) in enumerate(items):
        rows += [(k, c) for c in run(Document(text=body, path=name))]
    toks = an.many([c.text for _, c in rows])
    for vname, bb, fl in VARIANTS:
        ix = index(toks, bb, fl)
        out = {"dev": [], "test": []}
        for k, (name, desc, _) in enumerate(items):
            order = []
            for i, _ in ix.search(an(desc), 50):
                if rows[i][0] not in order:
                    order.append(rows[i][0])
            r = order.index(k) + 1 if k in order else None
            out[b.split_of(name)].append(r)
        s = {sp: b.ndcg_mrr(v) for sp, v in out.items()}
        print(
            f"retrieval bm25 {version:<6} {vname:<22} dev nDCG {s['dev'][0]:.4f} MRR {s['dev'][1]:.4f} | test nDCG {s['test'][0]:.4f} MRR {s['test'][1]:.4f}",
            flush=True,
        )
