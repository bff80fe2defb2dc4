"""Index each corpus of ``fusion_tasks.py`` once and cache every query's candidate lists.

For each corpus a real lcmem library is built (``Library.index``: default chunker, packaged
embedder, BM25 analyzer), then every query is searched in the dense and the BM25 index alone
for the top ``--depth`` chunks (200). The file ``WORK/<corpus>.json.gz`` holds the queries
(task, split, text, target), the chunk table (id -> document, start, end, tokens) and both
lists with their raw scores, so fusion functions can be tuned and compared offline
(``bench_fusion.py``) without embedding anything again.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fusion_cache.py --corpus man,code``
(all four corpora: about 9,000 chunks to embed, 8-15 min per 1,000 chunks on a loaded 2-core
machine... see BENCHMARKS for the sizes measured).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fusion_confirm import conf3_corpus
from fusion_heldout import conf_corpus
from fusion_heldout4 import ref_corpus
from fusion_heldout5 import code_nz_corpus, para2_corpus, passkey16_corpus, passkey_b16_corpus
from fusion_replicate import CORPORA as REPLICATION
from fusion_tasks import CORPORA

CORPORA = {**CORPORA, "conf": conf_corpus}  # round 3's held-out corpus (fusion_heldout.py)
CORPORA["ref"] = ref_corpus  # round 4's held-out corpus (fusion_heldout4.py)
# round 5's held-out corpora (fusion_heldout5.py)
CORPORA |= {"passkey16": passkey16_corpus, "passkey_b16": passkey_b16_corpus}
CORPORA |= {"code_nz": code_nz_corpus, "para2": para2_corpus}
# round 5's replication blocks (fusion_replicate.py): man_r1..man_r5, conf_r1..conf_r3
CORPORA |= REPLICATION
CORPORA["conf3"] = conf3_corpus  # confirmation task (fusion_confirm.py): man sections 2, 3, 7

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work" / "fusion"


def build(name: str, work: Path, depth: int) -> Path:
    """Index corpus ``name`` and write its cached candidate lists; returns the file."""
    import lcmem

    t0 = time.perf_counter()
    corpus = CORPORA[name]()
    folder = work / name / "docs"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for doc, text in corpus.docs.items():
        (folder / doc).write_text(text, encoding="utf-8")
    print(
        f"{name}: {len(corpus.docs)} documents, {len(corpus.queries)} queries "
        f"({time.perf_counter() - t0:.1f}s to generate) {corpus.notes}",
        flush=True,
    )
    store = work / name / "store"
    with lcmem.open(store) as lib:
        t1 = time.perf_counter()
        report = lib.index([folder], progress=None)
        print(
            f"{name}: indexed in {time.perf_counter() - t1:.1f}s, {report.embedded} chunks "
            f"embedded, {lib.status()['chunks']} chunks",
            flush=True,
        )
        dense, sparse = lib._indices()
        ids = [int(i) for i in lib.store.chunk_ids()]
        chunks = {
            c.id: [Path(c.doc_path or "").name, c.start, c.end, c.token_count]
            for c in lib.get_chunks(ids)
        }
        texts = [q.text for q in corpus.queries]
        t2 = time.perf_counter()
        vectors = lib.embedder.embed(texts, kind="query")
        embed_s = time.perf_counter() - t2
        lists = {}
        for q, vec in zip(corpus.queries, vectors, strict=True):
            d = dense.search(vec, depth)
            b = sparse.search(lib.analyzer(q.text), depth)
            lists[q.qid] = {
                "dense": [[int(i), round(float(s), 6)] for i, s in d],
                "bm25": [[int(i), round(float(s), 6)] for i, s in b],
            }
    out = work / f"{name}.json.gz"
    payload = {
        "corpus": name,
        "depth": depth,
        "notes": corpus.notes,
        "queries": [asdict(q) for q in corpus.queries],
        "chunks": chunks,
        "lists": lists,
        "query_embed_seconds": embed_s,
    }
    with gzip.open(out, "wt", encoding="utf-8") as fh:
        json.dump(payload, fh)
    print(f"{name}: wrote {out} ({time.perf_counter() - t0:.1f}s in all)", flush=True)
    return out


def complete(name: str, work: Path) -> None:
    """Add score completion to ``WORK/<name>.json.gz``: for each query, the exact dense score of
    every BM25 candidate missing from the dense list (``dense_of``) and the BM25 score of every
    dense candidate missing from the BM25 list (``bm25_of``; absent ids score 0)."""
    import lcmem

    path = work / f"{name}.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        payload = json.load(fh)
    t0 = time.perf_counter()
    with lcmem.open(work / name / "store") as lib:
        dense, sparse = lib._indices()
        queries = payload["queries"]
        vectors = lib.embedder.embed([q["text"] for q in queries], kind="query")
        for q, vec in zip(queries, vectors, strict=True):
            lists = payload["lists"][q["qid"]]
            d_ids = {i for i, _ in lists["dense"]}
            b_ids = {i for i, _ in lists["bm25"]}
            need_d = sorted(b_ids - d_ids)
            need_b = sorted(d_ids - b_ids)
            got_d = dense.search(vec, len(need_d), allowed=need_d) if need_d else []
            got_b = (
                sparse.search(lib.analyzer(q["text"]), len(need_b), allowed=need_b)
                if need_b
                else []
            )
            lists["dense_of"] = [[int(i), round(float(s), 6)] for i, s in got_d]
            lists["bm25_of"] = [[int(i), round(float(s), 6)] for i, s in got_b]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump(payload, fh)
    print(f"{name}: completed in {time.perf_counter() - t0:.1f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=",".join(CORPORA), help="comma-separated corpora")
    parser.add_argument("--depth", type=int, default=200, help="candidates cached per list")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument(
        "--complete-only", action="store_true", help="only add score completion to cached files"
    )
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args.work.mkdir(parents=True, exist_ok=True)
    for name in args.corpus.split(","):
        if not args.complete_only:
            build(name, args.work, args.depth)
        complete(name, args.work)


if __name__ == "__main__":
    main()
