"""Measurement steps of ``bench_million.py`` (spec in its docstring); outputs under ``--out``.

Steps, in order::

    queries   1,000 queries (seed 18) from copy-0 chunk texts -> queries.json
    prepare   approximate indices from the library's flat vectors -> idx/ivf.index, ivfpq.faiss
    hnsw      the HNSW index (slow) -> idx/hnsw.index
    recall    recall@10 against flat, parameter sweeps on dev, chosen setting on test
    latency   p50/p95 of bm25, dense and hybrid per dense index, interleaved, + query embedding
    rss       (--kind K) a fresh process: open time, first query, peak RSS while searching
    disk      size of every component
    churn     remove then re-add 1% of the documents (on a copy of the library)

Every step appends its table to ``OUT/results.md`` and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import cpu_model, load_average

K = 10
SEED = 18
DIM = 384


def _out(args: argparse.Namespace) -> Path:
    return Path(args.out)


def _emit(args: argparse.Namespace, title: str, lines: list[str]) -> None:
    text = (
        f"\n### {title}\n\n"
        + "\n".join(lines)
        + f"\n\n(cpu: {cpu_model()}; load average {load_average()}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n"
    )
    print(text, flush=True)
    with open(_out(args) / "results.md", "a") as fh:
        fh.write(text)


def _rss() -> tuple[float, float]:
    cur = peak = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cur, peak


def _pct(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


# ---------------------------------------------------------------------------- queries
def step_queries(args: argparse.Namespace) -> None:
    db = sqlite3.connect(_out(args) / "lib" / "lcmem.db")
    rows = db.execute(
        "SELECT c.id, c.text FROM lcmem_chunks c JOIN lcmem_documents d ON d.id = c.document_id"
        " WHERE d.path LIKE '%/corpus/r00/%' ORDER BY c.id"
    ).fetchall()
    rng = random.Random(SEED)
    queries = []
    while len(queries) < args.queries:
        cid, text = rows[rng.randrange(len(rows))]
        words = re.findall(r"[A-Za-z][A-Za-z0-9_]{2,}", text)
        if len(words) < 8:
            continue
        n = rng.randint(3, 8)
        start = rng.randrange(len(words) - n + 1)
        queries.append({"chunk": cid, "text": " ".join(words[start : start + n])})
    (_out(args) / "queries.json").write_text(json.dumps(queries, indent=0))
    print(f"{len(queries)} queries from {len(rows)} copy-0 chunks")


def _queries(args: argparse.Namespace) -> list[dict[str, Any]]:
    return json.loads((_out(args) / "queries.json").read_text())


def _split(qs: list[Any]) -> tuple[list[Any], list[Any]]:
    return qs[0::2], qs[1::2]


# ---------------------------------------------------------------------------- replicate
_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


def vary_chunk(text: str, copy: int, key: str) -> str:
    """A variation of one chunk text: 5% of its words replaced by other words of the chunk.

    Example:
        >>> vary_chunk("alpha beta gamma", 0, "k")
        'alpha beta gamma'
    """
    if copy == 0:
        return text
    rng = random.Random(f"{copy}/{key}")
    words = _WORDS.findall(text) or ["lcmem"]
    return _WORDS.sub(lambda m: rng.choice(words) if rng.random() < 0.05 else m.group(0), text)


_WORKER: dict[str, Any] = {}


def _prepare_batch(job: tuple[int, list[tuple[str, list[tuple[str, str, int]]]]]) -> Any:
    """Worker: vary, embed and tokenize one batch of documents (see :func:`step_replicate`)."""
    from benchmarks.hash_embedder import HashTfidfEmbedder
    from lcmem.indexers.analyzer import Analyzer
    from lcmem.types import Chunk, content_hash

    if not _WORKER:
        _WORKER["emb"] = HashTfidfEmbedder()
        _WORKER["analyzer"] = (
            Analyzer.from_config(_WORKER_ANALYZER) if _WORKER_ANALYZER else Analyzer()
        )
    copy, docs = job
    out = []
    for path, rows in docs:
        parts, chunks, at = [], [], 0
        for i, (text, context, ntok) in enumerate(rows):
            varied = vary_chunk(text, copy, f"{path}#{i}")
            chunks.append(Chunk(varied, at, at + len(varied), context or "", ntok or 0))
            parts.append(varied)
            at += len(varied) + 1
        out.append(
            (path.replace("/corpus/", f"/corpus/rep{copy:02d}/", 1), "\n".join(parts), chunks)
        )
    texts = [c.embedding_text() for _, _, cs in out for c in cs]
    vecs = _WORKER["emb"].embed(texts)
    tokens = _WORKER["analyzer"].many(texts)
    return out, vecs, tokens, [content_hash(t) for t in texts]


_WORKER_ANALYZER: dict[str, Any] | None = None


def step_replicate(args: argparse.Namespace) -> None:
    """Grow the library to ``--target`` chunks with varied copies of its documents' chunks.

    The index pipeline chunked copy 0 of the corpus (real text); chunking is most of its cost
    (~0.9 ms of CPU per chunk here, against 0.1 ms for the analyzer and 0.08 ms for the cheap
    embedder), and on 2 shared cores it ran at ~150 chunks/s. So further copies skip the
    chunker: each stored document is copied (path ``.../rep<r>/...``) as the concatenation of
    its chunks, each varied (:func:`vary_chunk`), embedded by the same embedder and tokenized by
    the library's analyzer (3 worker processes), written through lcmem's own store API
    (documents, chunks, cached vectors; one transaction per batch) and added to the library's
    FAISS and BM25 indices, which are then saved.
    """
    import bisect
    import multiprocessing as mp

    import lcmem.indexers.bm25 as bm25_module
    from lcmem.indexers.analyzer import Analyzer  # noqa: F401  (workers import it)
    from lcmem.stores.records import NewChunk
    from lcmem.types import line_starts

    global _WORKER_ANALYZER
    bm25_module._PENDING_LIMIT = 1 << 21  # build speed only: fold BM25 once, at the save
    lib, _ = _open(args, _out(args) / "lib")
    dense, sparse = lib._indices(need_dense=True)
    _WORKER_ANALYZER = lib.manifest.get("analyzer")
    store = lib.store
    db = sqlite3.connect(_out(args) / "lib" / "lcmem.db")
    docs = db.execute(
        "SELECT id, path FROM lcmem_documents WHERE path NOT LIKE '%/rep%' ORDER BY id"
    ).fetchall()
    have = store.chunk_count()
    t0 = time.perf_counter()

    def jobs() -> Any:  # runs in the pool's task thread: its own connection
        rd = sqlite3.connect(_out(args) / "lib" / "lcmem.db")
        reps = rd.execute("SELECT path FROM lcmem_documents WHERE path LIKE '%/rep%'").fetchall()
        done = [int(m.group(1)) for (p,) in reps if (m := re.search(r"/rep(\d+)/", p))]
        planned, copy = have, 1 + max(done, default=0)
        while planned < args.target:
            batch, queued = [], 0
            for doc_id, path in docs:
                if planned + queued >= args.target:
                    break
                rows = rd.execute(
                    "SELECT text, context, token_count FROM lcmem_chunks WHERE document_id = ? "
                    "ORDER BY ordinal",
                    (doc_id,),
                ).fetchall()
                if not rows:
                    continue
                batch.append((path, rows))
                queued += len(rows)
                if queued >= 4096:
                    yield copy, batch
                    planned += queued
                    batch, queued = [], 0
            if batch:
                yield copy, batch
                planned += queued
            copy += 1

    with mp.get_context("fork").Pool(3) as pool:
        for out, vecs, tokens, hashes in pool.imap(_prepare_batch, jobs()):
            ids: list[int] = []
            with store.transaction() as conn:
                store.put_embeddings(conn, dict(zip(hashes, vecs, strict=True)))
                pos = 0
                for path, text, cs in out:
                    doc_id, _ = store.upsert_document(
                        conn,
                        path=path,
                        content_hash=hashes[pos] + str(len(text)),
                        size=len(text),
                        mtime_ns=0,
                        text=text,
                        meta={},
                        existing_id=None,
                    )
                    lines = line_starts(text)
                    news = [
                        NewChunk(
                            c,
                            bisect.bisect_right(lines, c.start),
                            bisect.bisect_right(lines, max(c.start, c.end - 1)),
                            hashes[pos + i],
                        )
                        for i, c in enumerate(cs)
                    ]
                    pos += len(cs)
                    ids += store.insert_chunks(conn, doc_id, news)
            arr = np.asarray(ids, np.int64)
            dense.add(arr, vecs)
            sparse.add(arr, tokens)
            have += len(ids)
            print(f"replicate: {have:,} chunks, {time.perf_counter() - t0:.0f} s", flush=True)
    add_s = time.perf_counter() - t0
    t = time.perf_counter()
    lib.save()
    save_s = time.perf_counter() - t
    _emit(
        args,
        f"Library grown to {store.chunk_count():,} chunks by varied copies",
        [
            f"Chunks of copy 0 (pipeline) varied and added in {add_s:.0f} s; save {save_s:.0f} s;"
            f" peak RSS of the writer {_rss()[1]:.0f} MiB.",
        ],
    )


# ---------------------------------------------------------------------------- vectors
def _flat_vectors(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of the library's flat index, memory-mapped (no copy)."""
    import faiss

    from lcmem.indexers.faiss import FaissIndex

    flat = FaissIndex.load(_out(args) / "idx" / "flat.index", mmap=True, verify=False)
    assert flat.structure == "flat", flat
    idmap = flat._index
    inner = faiss.downcast_index(idmap.index)
    n = int(inner.ntotal)
    vecs = faiss.rev_swig_ptr(inner.get_xb(), n * DIM).reshape(n, DIM)
    ids = faiss.vector_to_array(idmap.id_map).copy()
    _flat_vectors.keep = flat  # type: ignore[attr-defined]  # keeps the mapping alive
    return ids, vecs


def _query_vectors(args: argparse.Namespace) -> tuple[np.ndarray, list[float]]:
    """Query vectors (cached in qvecs.npy) and the embedding time of each query."""
    from benchmarks.hash_embedder import HashTfidfEmbedder

    qs = _queries(args)
    emb = HashTfidfEmbedder()
    times, vecs = [], []
    for q in qs:
        t = time.perf_counter()
        vecs.append(emb.embed_query(q["text"]))
        times.append(time.perf_counter() - t)
    return np.stack(vecs).astype(np.float32), times


def step_flatcopy(args: argparse.Namespace) -> None:
    """Keep a copy of the library's flat index (idx/flat.index) for the flat measurements."""
    t = time.perf_counter()
    shutil.copyfile(_out(args) / "lib" / "faiss.index", _out(args) / "idx" / "flat.index")
    print(f"copied in {time.perf_counter() - t:.1f} s")


def step_flatstore(args: argparse.Namespace) -> None:
    """Build ``idx/flat.index`` (the exact index used as ground truth and for the flat latency
    rows) from the store's cached vectors of every chunk, once the library's own dense index is
    the approximate one (after the switch ``flatcopy`` would copy the HNSW file). Same ids and
    vectors as the library's dense index."""
    import faiss

    from lcmem.indexers.faiss import FaissIndex

    faiss.omp_set_num_threads(1)
    db = sqlite3.connect(_out(args) / "lib" / "lcmem.db", timeout=60)
    flat = FaissIndex(DIM, kind="flat")
    t, last = time.perf_counter(), 0
    while True:
        rows = db.execute(
            "SELECT c.id, e.vector FROM lcmem_chunks c JOIN lcmem_embeddings e "
            "ON e.hash = c.embed_hash WHERE c.id > ? ORDER BY c.id LIMIT 50000",
            (last,),
        ).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        ids = np.fromiter((r[0] for r in rows), np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(-1, DIM)
        flat.add(ids, vecs)
    total = db.execute("SELECT count(*) FROM lcmem_chunks").fetchone()[0]
    assert len(flat) == total, (len(flat), total)
    flat.save(_out(args) / "idx" / "flat.index")
    print(f"flat from the store: {len(flat):,} vectors in {time.perf_counter() - t:.1f} s")


def step_install(args: argparse.Namespace) -> None:
    """Make the library what an ``auto`` library is after its switch at this size: the
    approximate index (``idx/hnsw.index``, built by the ``hnsw`` step exactly as
    ``FaissIndex.convert`` does, in resumable batches) becomes ``faiss.index`` and the manifest
    records the switch. (``Library._switch_dense`` would build the same index in-process; at a
    million vectors on this loaded machine that is the ``hnsw`` step's time.)"""
    from lcmem.indexers import dense_policy
    from lcmem.indexers.faiss import FaissIndex

    lib, _ = _open(args, _out(args) / "lib")
    t = time.perf_counter()
    lib._indices(need_dense=True)
    open_flat = time.perf_counter() - t
    n = len(lib._dense)
    hnsw = FaissIndex.load(_out(args) / "idx" / "hnsw.index", mmap=True)
    assert len(hnsw) == n and np.array_equal(hnsw.ids(), lib._dense.ids())
    setting = dense_policy.new_setting("auto")
    kind, params = dense_policy.switch(setting, n)
    assert kind == hnsw.structure, (kind, hnsw.structure)
    with lib._lock():
        lib._dense = hnsw
        lib.manifest = {**lib.manifest, "faiss": dense_policy.switched(setting, kind, params, n)}
        lib.store.set_meta("manifest", lib.manifest)
        t = time.perf_counter()
        lib.save()
        save_s = time.perf_counter() - t
    _emit(
        args,
        f"The library at {n:,} chunks after its switch flat -> {kind}",
        [
            f"Open with the flat index (before): {open_flat:.2f} s; save after the switch: "
            f"{save_s:.1f} s. Manifest `faiss`: `{json.dumps(lib.manifest['faiss'])}`.",
        ],
    )


def step_prepare(args: argparse.Namespace) -> None:
    """IVF-PQ (raw FAISS) on the library IVF centroids; only the PQ is trained."""
    import faiss

    faiss.omp_set_num_threads(1)
    out = _out(args) / "idx"
    ids, vecs = _flat_vectors(args)
    n = len(ids)
    from lcmem.indexers.dense_policy import switch_nlist

    t = time.perf_counter()
    ivf = _flat_vectors.keep.convert("ivf", nlist=switch_nlist(n), nprobe=64)  # type: ignore[attr-defined]
    ivf_s = time.perf_counter() - t
    ivf.save(out / "ivf.index")
    nlist = ivf.nlist
    centroids = ivf._index.quantizer.reconstruct_n(0, nlist)
    del ivf
    t = time.perf_counter()
    quantizer = faiss.IndexFlatIP(DIM)
    quantizer.add(centroids)
    pq = faiss.IndexIVFPQ(quantizer, DIM, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(n, size=min(n, 65_536), replace=False)
    pq.train(np.ascontiguousarray(vecs[np.sort(sample)]))
    for lo in range(0, n, 100_000):
        hi = min(n, lo + 100_000)
        pq.add_with_ids(np.ascontiguousarray(vecs[lo:hi]), np.arange(lo, hi))
    pq_s = time.perf_counter() - t
    faiss.write_index(pq, str(out / "ivfpq.faiss"))
    size = (out / "ivfpq.faiss").stat().st_size / 2**20
    _emit(
        args,
        f"IVF-PQ built from the flat vectors ({n:,} vectors)",
        [
            "| index | parameters | build seconds | file MiB |",
            "|---|---|---|---|",
            f"| ivf (lcmem `ivf`, FaissIndex.convert) | nlist {nlist} | {ivf_s:.0f} "
            f"| {(out / 'ivf.index').stat().st_size / 2**20:.0f} |",
            f"| ivf-pq (raw FAISS) | the same {nlist} IVF centroids, PQ 48x8 | {pq_s:.0f} "
            f"| {size:.0f} |",
        ],
    )


def step_hnsw(args: argparse.Namespace) -> None:
    """HNSW over the flat vectors, resumable: a first run may start on the vectors saved so far
    (``--flat PATH``, e.g. the library's flat index after copy 0) and a later run adds the rest.
    The build time is the sum of the runs (``idx/hnsw.json``)."""
    import faiss

    from lcmem.indexers.dense_policy import APPROXIMATE
    from lcmem.indexers.faiss import FaissIndex

    faiss.omp_set_num_threads(int(os.environ.get("HNSW_THREADS", "1")))  # CPU time is reported
    idx = _out(args) / "idx"
    idx.mkdir(exist_ok=True)
    src = Path(args.flat) if args.flat else idx / "flat.index"
    flat = FaissIndex.load(src, mmap=True, verify=False)
    inner = faiss.downcast_index(flat._index.index)
    n = int(inner.ntotal)
    vecs = faiss.rev_swig_ptr(inner.get_xb(), n * DIM).reshape(n, DIM)
    ids = faiss.vector_to_array(flat._index.id_map).copy()
    partial, log = idx / "hnsw.partial.index", idx / "hnsw.json"
    done = json.loads(log.read_text()) if log.exists() else {"seconds": 0.0, "runs": []}
    params = {k: v for k, v in APPROXIMATE.items() if k != "kind"}
    if partial.exists():
        index = FaissIndex.load(partial, mmap=False, verify=False)
    else:
        index = FaissIndex(DIM, kind="hnsw", **params)
    have = index.ids()
    todo = np.flatnonzero(~np.isin(ids, have))
    t = time.perf_counter()
    cpu0 = time.process_time()
    step = 50_000
    for lo in range(0, len(todo), step):
        sel = todo[lo : lo + step]
        index.add(ids[sel], vecs[sel])
        print(f"hnsw +{lo + len(sel):,}/{len(todo):,} {time.perf_counter() - t:.0f} s", flush=True)
    secs = time.perf_counter() - t
    done["seconds"] += secs
    cpu = time.process_time() - cpu0
    done["cpu_seconds"] = done.get("cpu_seconds", 0.0) + cpu
    done["runs"].append(
        {"added": len(todo), "seconds": secs, "cpu_seconds": cpu, "total": len(index)}
    )
    complete = args.flat is None
    target = idx / ("hnsw.index" if complete else "hnsw.partial.index")
    index.save(target)
    log.write_text(json.dumps(done))
    if not complete:
        return
    size = target.stat().st_size / 2**20
    per = done["cpu_seconds"] / max(1, len(index)) * 1000
    _emit(
        args,
        "HNSW built from the flat vectors",
        [
            "| index | parameters | build wall seconds | CPU ms per vector | file MiB |",
            "|---|---|---|---|---|",
            f"| hnsw (lcmem `hnsw`) | {params} | {done['seconds']:.0f} "
            f"(runs: {done['runs']}) | {per:.2f} | {size:.0f} |",
        ],
    )


def step_hnsw_follow(args: argparse.Namespace) -> None:
    """Finish ``idx/hnsw.partial.index`` from the store while the library grows: every chunk
    id missing from it is added with its cached vector (``lcmem_embeddings``), polling until
    the library holds ``--target`` chunks; then saved as ``idx/hnsw.index``. (Overlaps the
    HNSW build with the ``replicate`` step, as a second machine would.)"""
    import faiss

    from lcmem.indexers.faiss import FaissIndex

    faiss.omp_set_num_threads(int(os.environ.get("HNSW_THREADS", "1")))
    idx = _out(args) / "idx"
    log = idx / "hnsw.json"
    done = json.loads(log.read_text())
    index = FaissIndex.load(idx / "hnsw.partial.index", mmap=False, verify=False)
    have = index.ids()
    db = sqlite3.connect(_out(args) / "lib" / "lcmem.db", timeout=60)
    t, cpu0 = time.perf_counter(), time.process_time()
    last = 0
    added = 0
    while True:
        rows = db.execute(
            "SELECT c.id, e.vector FROM lcmem_chunks c JOIN lcmem_embeddings e "
            "ON e.hash = c.embed_hash WHERE c.id > ? ORDER BY c.id LIMIT 20000",
            (last,),
        ).fetchall()
        if not rows:
            total = db.execute("SELECT count(*) FROM lcmem_chunks").fetchone()[0]
            if total >= args.target and len(index) >= total:
                break
            time.sleep(10)
            continue
        last = rows[-1][0]
        ids = np.fromiter((r[0] for r in rows), np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(-1, DIM)
        keep = ~np.isin(ids, have)
        if keep.any():
            index.add(ids[keep], vecs[keep])
            added += int(keep.sum())
        print(f"hnsw follow: {len(index):,} {time.perf_counter() - t:.0f} s", flush=True)
    secs, cpu = time.perf_counter() - t, time.process_time() - cpu0
    done["seconds"] += secs
    done["cpu_seconds"] = done.get("cpu_seconds", 0.0) + cpu
    done["runs"].append({"added": added, "seconds": secs, "cpu_seconds": cpu, "total": len(index)})
    index.save(idx / "hnsw.index")
    log.write_text(json.dumps(done))
    print(json.dumps(done))


# ---------------------------------------------------------------------------- recall
class _PQ:
    """Raw FAISS IVF-PQ over positions, optionally re-ranked with the exact flat vectors."""

    def __init__(self, args: argparse.Namespace, ids: np.ndarray, refine: int = 0) -> None:
        import faiss

        self.pq = faiss.read_index(str(_out(args) / "idx" / "ivfpq.faiss"))
        self.ids = ids
        self.refine = refine
        if refine:
            flat = faiss.downcast_index(_flat_vectors.keep._index.index)  # type: ignore[attr-defined]
            self.index = faiss.IndexRefine(self.pq, flat)
            self.index.k_factor = refine
        else:
            self.index = self.pq

    def search_many(self, q: np.ndarray, k: int, nprobe: int) -> list[list[int]]:
        import faiss

        self.pq.nprobe = nprobe
        if self.refine:
            params = faiss.IndexRefineSearchParameters(k_factor=self.refine)
            params.base_index_params = faiss.SearchParametersIVF(nprobe=nprobe)
            _, lab = self.index.search(q, k, params=params)
        else:
            _, lab = self.index.search(q, k)
        return [[int(self.ids[p]) for p in row if p >= 0] for row in lab]


def _recall(truth: list[list[int]], got: list[list[int]]) -> float:
    return float(
        np.mean([len(set(t) & set(g)) / max(1, len(t)) for t, g in zip(truth, got, strict=True)])
    )


def step_recall(args: argparse.Namespace) -> None:
    import faiss

    from lcmem.indexers.faiss import FaissIndex

    faiss.omp_set_num_threads(1)
    ids, _ = _flat_vectors(args)
    flat = _flat_vectors.keep  # type: ignore[attr-defined]
    qv, _ = _query_vectors(args)
    dev, test = np.arange(len(qv))[0::2], np.arange(len(qv))[1::2]
    t = time.perf_counter()
    truth = [[i for i, _ in r] for r in flat.search_many(qv, K)]
    flat_s = (time.perf_counter() - t) / len(qv)
    lines = [
        f"Ground truth: exact flat top-{K} ({flat_s * 1000:.1f} ms/query batched).",
        "",
        "| index | setting | recall@10 dev | recall@10 test | ms/query (batch of 500, 1 thread) |",
        "|---|---|---|---|---|",
    ]

    def row(name: str, setting: str, fn: Any) -> None:
        res = {}
        for split, sel in (("dev", dev), ("test", test)):
            t0 = time.perf_counter()
            got = fn(qv[sel])
            res[split] = (
                _recall([truth[i] for i in sel], got),
                (time.perf_counter() - t0) / len(sel),
            )
        lines.append(
            f"| {name} | {setting} | {res['dev'][0]:.4f} | {res['test'][0]:.4f} | "
            f"{res['test'][1] * 1000:.2f} |"
        )
        print(lines[-1], flush=True)

    idx = _out(args) / "idx"
    if (idx / "ivf.index").exists():
        ivf = FaissIndex.load(idx / "ivf.index", mmap=True, verify=False)
        for nprobe in (16, 64, 256):
            ivf._nprobe = nprobe
            row(
                "ivf",
                f"nlist {ivf.nlist}, nprobe {nprobe}",
                lambda q: [[i for i, _ in r] for r in ivf.search_many(q, K)],
            )
        del ivf
    if (idx / "hnsw.index").exists():
        hnsw = FaissIndex.load(idx / "hnsw.index", mmap=True, verify=False)
        for ef in (16, 32, 64, 128, 256):
            hnsw._ef_search = ef
            row(
                "hnsw",
                f"M {hnsw._hnsw_m}, efSearch {ef}",
                lambda q: [[i for i, _ in r] for r in hnsw.search_many(q, K)],
            )
        del hnsw
    if (idx / "ivfpq.faiss").exists():
        for refine in (0, 4, 10):
            pq = _PQ(args, ids, refine)
            for nprobe in (16, 32, 64):
                row(
                    "ivf-pq",
                    f"PQ48x8, nprobe {nprobe}, re-rank {refine or 'none'}",
                    lambda q, pq=pq, nprobe=nprobe: pq.search_many(q, K, nprobe),
                )
    _emit(
        args, f"Recall@10 of approximate dense indices against flat ({len(ids):,} vectors)", lines
    )


# ---------------------------------------------------------------------------- latency
def _open(args: argparse.Namespace, folder: Path) -> tuple[Any, Any]:
    import lcmem
    from benchmarks.hash_embedder import HashTfidfEmbedder

    emb = HashTfidfEmbedder()
    return lcmem.open(folder, embedder=emb), emb


def _shadow(args: argparse.Namespace, kind: str) -> Path:
    """A library folder whose faiss.index is ``idx/<kind>.index`` (everything else linked)."""
    lib = _out(args) / "lib"
    if kind == "hnsw":
        return lib
    folder = _out(args) / f"lib_{kind}"
    folder.mkdir(exist_ok=True)
    for name in ("lcmem.db", "bm25", "manifest.json", "index_state.json"):
        link = folder / name
        if not link.exists():
            link.symlink_to(lib / name)
    target = folder / "faiss.index"
    if not target.exists():
        target.symlink_to(_out(args) / "idx" / f"{kind}.index")
    return folder


def step_latency(args: argparse.Namespace) -> None:
    from lcmem.indexers.faiss import FaissIndex

    qs = _queries(args)
    qv, embed_times = _query_vectors(args)
    test = list(range(1, len(qs), 2))[: args.queries // 2]
    lib, _ = _open(args, _out(args) / "lib")
    lib.search("warm up", k=K)
    approx = lib._dense
    knob = "_ef_search" if approx.structure == "hnsw" else "_nprobe"
    dense = {f"{approx.structure} {knob.strip('_')} {p}": approx for p in args.nprobes}
    dense["flat"] = FaissIndex.load(_out(args) / "idx" / "flat.index")
    current = {"vec": None}
    lib._embedder.embed_query = lambda text: current["vec"]  # embedding timed separately
    runs: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    configs = [("bm25", "bm25", "flat")]
    for kind in dense:
        configs += [(f"dense {kind}", "dense", kind), (f"hybrid {kind}", "hybrid", kind)]
    for qi in test:
        current["vec"] = qv[qi]
        for name, mode, kind in configs:
            lib._dense = dense[kind]
            if kind != "flat":
                setattr(approx, knob, int(kind.rsplit(" ", 1)[1]))
            t, c = time.perf_counter(), time.process_time()
            lib.search(qs[qi]["text"], k=K, mode=mode)
            runs.setdefault(name, []).append(time.perf_counter() - t)
            cpu.setdefault(name, []).append(time.process_time() - c)
    p50, p95 = _pct([embed_times[i] for i in test])
    lines = [
        f"{len(test)} test queries, each run through every configuration in turn (interleaved),"
        " `Library.search(k=10)` end to end (analyzer, index, fusion, chunk rows from SQLite)"
        " with the query vector precomputed; the query's embedding is timed on its own.",
        "",
        "Wall time is what a caller waited on this shared machine (load average "
        f"{load_average()} at the end, 2 cores, niceness {os.nice(0)}); CPU time is what the "
        "search itself consumed (the process's CPU clock).",
        "",
        "| search | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms |",
        "|---|---|---|---|---|",
        f"| query embedding (hash TF-IDF embedder, not the real model) | {p50:.2f} | {p95:.2f} "
        "| | |",
    ]
    for name, _, _ in configs:
        p50, p95 = _pct(runs[name])
        c50, c95 = _pct(cpu[name])
        lines.append(f"| {name} | {p50:.2f} | {p95:.2f} | {c50:.2f} | {c95:.2f} |")
    lines.append(f"\nApproximate index: {approx!r}; flat: exact.")
    _emit(args, f"Query latency at {lib.store.chunk_count():,} chunks", lines)


# ---------------------------------------------------------------------------- rss
def step_rss(args: argparse.Namespace) -> None:
    """Fresh process: open time, first query, peak RSS while searching (one dense kind)."""
    from benchmarks.hash_embedder import HashTfidfEmbedder

    folder = _shadow(args, args.kind)
    qs = _queries(args)[1::2][: args.queries // 2]
    t = time.perf_counter()
    emb = HashTfidfEmbedder()
    emb_s = time.perf_counter() - t
    rss0 = _rss()[0]
    import lcmem

    t = time.perf_counter()
    lib = lcmem.open(folder, embedder=emb)
    lib._indices(need_dense=True)
    open_s = time.perf_counter() - t
    rss_open = _rss()[0]
    t = time.perf_counter()
    lib.search(qs[0]["text"], k=K)
    first_s = time.perf_counter() - t
    for mode in ("hybrid", "dense", "bm25"):
        for q in qs:
            lib.search(q["text"], k=K, mode=mode)
    cur, peak = _rss()
    chosen = (
        json.loads((_out(args) / "chosen.json").read_text())
        if (_out(args) / "chosen.json").exists()
        else {}
    )
    _emit(
        args,
        f"Open and memory, dense index `{args.kind}` ({lib._dense.structure}, fresh process)",
        [
            "| measure | value |",
            "|---|---|",
            f"| embedder construction (not part of open) | {emb_s:.2f} s |",
            f"| open: `lcmem.open` + both indices loaded and checked current | {open_s:.2f} s |",
            f"| first hybrid query after open | {first_s * 1000:.0f} ms |",
            f"| RSS before open (Python + embedder) | {rss0:.0f} MiB |",
            f"| RSS after open | {rss_open:.0f} MiB |",
            f"| RSS after {3 * len(qs)} searches (hybrid, dense, bm25) | {cur:.0f} MiB |",
            f"| peak RSS (VmHWM) | {peak:.0f} MiB |",
            f"| settings | {chosen.get(args.kind, 'index defaults')} |",
        ],
    )


def step_opencpu(args: argparse.Namespace) -> None:
    """Open in a fresh process, wall and CPU time (this machine's load makes wall ~7x CPU)."""
    from benchmarks.hash_embedder import HashTfidfEmbedder

    emb = HashTfidfEmbedder()
    import lcmem

    w, c = time.perf_counter(), time.process_time()
    lib = lcmem.open(_out(args) / "lib", embedder=emb)
    lib._indices(need_dense=True)
    open_w, open_c = time.perf_counter() - w, time.process_time() - c
    w, c = time.perf_counter(), time.process_time()
    lib.search("copy files recursively", k=K)
    first_w, first_c = time.perf_counter() - w, time.process_time() - c
    _emit(
        args,
        "Open, wall and CPU time (fresh process, embedder built before)",
        [
            "| step | wall s | CPU s |",
            "|---|---|---|",
            f"| `lcmem.open` + both indices loaded (incl. lazy imports) | {open_w:.2f} "
            f"| {open_c:.2f} |",
            f"| first hybrid search | {first_w:.3f} | {first_c:.3f} |",
        ],
    )


# ---------------------------------------------------------------------------- disk
def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def step_disk(args: argparse.Namespace) -> None:
    lib = _out(args) / "lib"
    lines = ["| component | MiB |", "|---|---|"]
    for name in ("lcmem.db", "lcmem.db-wal", "faiss.index", "bm25", "exact"):
        if (lib / name).exists():
            lines.append(f"| {name} (library) | {_du(lib / name) / 2**20:.0f} |")
    for p in sorted((lib / "bm25").glob("*")):
        lines.append(f"| &nbsp; bm25/{p.name} | {p.stat().st_size / 2**20:.1f} |")
    for p in sorted(q for q in (_out(args) / "idx").glob("*") if q.is_file()):
        lines.append(f"| idx/{p.name} (alternative dense index) | {p.stat().st_size / 2**20:.0f} |")
    db = sqlite3.connect(lib / "lcmem.db")
    try:
        for name, size in db.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 8"
        ):
            lines.append(f"| &nbsp; SQLite {name} | {size / 2**20:.0f} |")
    except sqlite3.Error as e:
        lines.append(f"| SQLite per table | not available ({e}) |")
    n = db.execute("SELECT count(*) FROM lcmem_chunks").fetchone()[0]
    d = db.execute("SELECT count(*) FROM lcmem_documents").fetchone()[0]
    meta = json.loads((lib / "bm25" / "bm25.json").read_text())
    lines.append(
        f"\n{n:,} chunks in {d:,} documents; BM25: {meta['n_postings']:,} postings, "
        f"{meta.get('n_terms', len(meta.get('vocabulary', []))):,} terms."
    )
    _emit(args, "Disk size per component", lines)


# ---------------------------------------------------------------------------- churn
def step_churn(args: argparse.Namespace) -> None:
    """Remove, then add back, documents holding 1% of the chunks (in place; run it last).

    Documents are picked (seed 18) among the pipeline-indexed files of ``corpus/r00``; files of
    that folder never indexed are moved away first, so each ``Library.index(["corpus/r00"])``
    sees exactly the change (unchanged files are skipped by size and mtime)."""
    lib, _ = _open(args, _out(args) / "lib")
    t = time.perf_counter()
    lib._indices(need_dense=True)
    open_s = time.perf_counter() - t
    root = _out(args) / "corpus" / "r00"
    db = sqlite3.connect(_out(args) / "lib" / "lcmem.db")
    rows = db.execute(
        "SELECT d.path, count(c.id) FROM lcmem_documents d JOIN lcmem_chunks c "
        "ON c.document_id = d.id WHERE d.path LIKE ? GROUP BY d.id ORDER BY d.id",
        (f"{root}/%",),
    ).fetchall()
    indexed = {Path(p) for p, _ in rows}
    aside, never = _out(args) / "aside", _out(args) / "never_indexed"
    aside.mkdir(exist_ok=True)
    never.mkdir(exist_ok=True)
    for f in root.glob("*.txt"):
        if f not in indexed:
            f.rename(never / f.name)
    total = lib.store.chunk_count()
    rng = random.Random(SEED)
    order = list(rows)
    rng.shuffle(order)
    pick, chunks = [], 0
    for path, n in order:
        if chunks >= total // 100:
            break
        pick.append(Path(path))
        chunks += n
    for p in pick:
        p.rename(aside / p.name)
    lines = [
        f"Dense index `{lib._dense.structure}`; {len(pick)} documents holding {chunks:,} of "
        f"{total:,} chunks. `Library.index([corpus/r00])` after moving them away, then after "
        "moving them back; each run ends by saving both indices (timed alone after it too).",
        "",
        "| step | chunks | index run, s | a save alone, s |",
        "|---|---|---|---|",
    ]
    try:
        t = time.perf_counter()
        rep = lib.index([root])
        total_s = time.perf_counter() - t
        t = time.perf_counter()
        lib.save()
        save_s = time.perf_counter() - t
        lines.append(f"| remove 1% | -{rep.chunks_removed:,} | {total_s:.1f} | {save_s:.1f} |")
    finally:
        for p in pick:
            (aside / p.name).rename(p)
    t = time.perf_counter()
    rep = lib.index([root])
    total_s = time.perf_counter() - t
    lines.append(f"| add 1% back | +{rep.chunks_added:,} | {total_s:.1f} | |")
    lines.append(
        f"\nopen before: {open_s:.1f} s; chunks after: {lib.store.chunk_count():,}; dense "
        f"{lib._dense!r}; peak RSS {_rss()[1]:.0f} MiB"
    )
    _emit(args, "Adding and removing 1% of the library", lines)


STEPS = {
    "queries": step_queries,
    "replicate": step_replicate,
    "flatcopy": step_flatcopy,
    "flatstore": step_flatstore,
    "install": step_install,
    "hnsw_follow": step_hnsw_follow,
    "prepare": step_prepare,
    "hnsw": step_hnsw,
    "recall": step_recall,
    "latency": step_latency,
    "rss": step_rss,
    "disk": step_disk,
    "opencpu": step_opencpu,
    "churn": step_churn,
}
