"""Ray indexing against local indexing on the same man pages, into PostgreSQL (issue 18).

Claim: on this 2-core machine, ``Library.index(executor="ray")`` gives the same library as
the local executor (same chunks, vectors with cosine >= 0.99999, same top-10 search results in
the three modes) and costs a stated overhead; throughput with 1 and 2 embedder actors.

Spec (frozen before any tuning; nothing is tuned here, the executor's defaults are used):

- corpus: the first ``--pages`` rendered section-1 man pages (``bench_index.man_pages``, the
  benchmark suite's seeded order), split by position into dev (even) and test (odd);
  ``--split`` picks one; each page is one ``.txt`` file;
- queries: the one-line description of each page of the split (NAME section, after " - "),
  the first ``--queries`` of them;
- runs, interleaved per round (local, ray x1, ray x2, then again): a fresh PostgreSQL
  database each on one throwaway server; wall time covers ``lcmem.open`` (model load) and
  ``index()`` (for Ray: actor start-up and their model loads; the local Ray cluster is started
  once before, ``ray.init(num_cpus=2)``, and its start-up is printed apart);
- local runs embed with 2 threads (every core); each Ray actor embeds with 1 thread and asks
  for at most 1 CPU, leaving 0.25 CPU for read-and-chunk tasks (2 actors: 0.875 CPU each);
- equality against the first local run: chunk set (file, start, end, context, text,
  embedding hash) identical; minimum cosine over every vector; top-10 (file, start) lists
  of every query in dense, bm25 and hybrid modes identical.

Run: ``OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_ray_index.py --pages 400
--split test --rounds 2``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_index import man_pages, write_corpus
from machine import cpu_model, load_average

import lcmem

WORK = Path(__file__).resolve().parent / ".work" / "ray_index"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


# -- PostgreSQL ------------------------------------------------------------------------------
def start_postgres(base: Path) -> tuple[str, Any]:
    """A throwaway PostgreSQL server on 127.0.0.1 (as in tests/conftest.py); URL and a stop
    function."""
    import psycopg

    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    os.chmod(base, 0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LC_ALL": "C"}
    subprocess.run(
        [
            *prefix,
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "lcmem",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = ["-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"]
    subprocess.run(
        [*prefix, str(PG_BIN / "pg_ctl"), *start],
        check=True,
        capture_output=True,
        env=env,
    )
    dsn = f"host=127.0.0.1 port={port} user=lcmem dbname=postgres"
    for _ in range(100):
        try:
            psycopg.connect(dsn).close()
            break
        except psycopg.OperationalError:
            time.sleep(0.2)

    def stop() -> None:
        subprocess.run(
            [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            env=env,
        )

    return f"postgresql+psycopg://lcmem@127.0.0.1:{port}/postgres", stop


def new_database(url: str, name: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    dsn = f"host={u.host} port={u.port} user={u.username} dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return u.set(database=name).render_as_string(hide_password=False)


# -- corpus and queries ----------------------------------------------------------------------
def description(text: str) -> str | None:
    """The one-line description of a rendered man page (NAME: ``cp - copy files``)."""
    m = re.search(r"^NAME\s*\n\s+(.+?)(?:\n\s*\n|\n[A-Z])", text, re.M | re.S)
    if not m:
        return None
    line = " ".join(m.group(1).split())
    parts = re.split(r"\s+[-\u2010\u2013\u2014]+\s+", line, maxsplit=1)
    return parts[1].strip() if len(parts) == 2 and len(parts[1]) > 8 else None


# -- measuring -------------------------------------------------------------------------------
def run_once(url: str, corpus: Path, name: str, executor: str, actors: int | None) -> dict:
    db = new_database(url, name)
    folder = WORK / "idx" / name
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    lib = lcmem.open(url=db, index_dir=folder)
    if executor == "ray":
        report = lib.index([corpus], executor="ray", ray_actors=actors)
    else:
        report = lib.index([corpus])
    seconds = time.perf_counter() - t0
    assert report.errors == [], report.errors[:3]
    return {"lib": lib, "seconds": seconds, "chunks": lib.store.chunk_count(), "report": report}


def chunk_table(lib: Any) -> dict[tuple[str, int, int], tuple[str, str, str]]:
    out = {}
    for batch in lib.store.iter_chunk_texts():
        found = lib.store.get_chunks([r[0] for r in batch])
        for cid, context, text, embed_hash in batch:
            c = found[cid]
            out[(Path(c.doc_path).name, c.start, c.end)] = (context, text, embed_hash)
    return out


def compare(ref: Any, other: Any, queries: list[str]) -> dict:
    a, b = chunk_table(ref), chunk_table(other)
    hashes = sorted({v[2] for v in a.values()})
    dim = ref.embedder.dim
    va, vb = ref.store.get_embeddings(hashes, dim), other.store.get_embeddings(hashes, dim)
    cos = [float(np.dot(va[h], vb[h])) for h in hashes if h in vb]
    same, ties = {}, {}
    for mode in ("dense", "bm25", "hybrid"):
        n = t = 0
        for q in queries:
            ra, rb = ref.search(q, k=10, mode=mode), other.search(q, k=10, mode=mode)
            ha = [(Path(h.path).name, h.chunk.start) for h in ra]
            hb = [(Path(h.path).name, h.chunk.start) for h in rb]
            n += ha == hb
            t += ha != hb and same_up_to_ties(ra, rb)
        same[mode], ties[mode] = n, t
    return {
        "same_chunks": a == b,
        "vectors": len(cos),
        "missing_vectors": len(hashes) - len(cos),
        "min_cos": min(cos) if cos else float("nan"),
        "same_results": same,
        "differ_only_in_tie_order": ties,
    }


def same_up_to_ties(ra: list[Any], rb: list[Any]) -> bool:
    """Whether two top-k lists have the same scores rank by rank and differ only in the order
    of hits with exactly equal scores (chunks of the same text share one embedding; equal
    scores are ranked by chunk id, which follows commit order). The last group of ties may
    be cut differently at k."""
    if [round(h.score, 6) for h in ra] != [round(h.score, 6) for h in rb]:
        return False
    groups: dict[float, tuple[set, set]] = {}
    for a, b in zip(ra, rb, strict=True):
        g = groups.setdefault(round(a.score, 6), (set(), set()))
        g[0].add((a.path, a.chunk.start))
        g[1].add((b.path, b.chunk.start))
    last = round(ra[-1].score, 6) if ra else None
    return all(x == y or s == last for s, (x, y) in groups.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=4000, help="pages before the dev/test split")
    ap.add_argument("--split", choices=["dev", "test", "all"], default="test")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--actors", default="1,2", help="actor counts to run, comma-separated")
    args = ap.parse_args()

    import ray

    pages = man_pages(args.pages)
    if args.split != "all":
        pages = pages[0::2] if args.split == "dev" else pages[1::2]
    corpus = WORK / f"corpus-{args.split}"
    size = write_corpus(pages, corpus)
    queries = [d for p in pages if (d := description(p.read_text(errors="replace")))]
    queries = queries[: args.queries]
    # Ray starts its workers at nice +15 (RAY_worker_niceness); the local run is at the
    # shell's priority. Same priority for both, or a loaded machine measures the nice levels
    # (added after the first 2,000-page attempt showed actors at nice 15; lcmem's own
    # local clusters do the same, lcmem.indexing.ray.same_priority_workers).
    from lcmem.indexing.ray import same_priority_workers

    same_priority_workers()
    t0 = time.perf_counter()
    for attempt in range(3):  # a raylet gives up on its agents after ~30 s on a loaded machine
        try:
            ray.init(
                num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING"
            )
            break
        except Exception as exc:
            print(f"ray.init failed ({exc}); attempt {attempt + 2}/3", flush=True)
            ray.shutdown()
    else:
        raise SystemExit("could not start a local Ray cluster")
    ray_start = time.perf_counter() - t0
    url, stop = start_postgres(Path(tempfile.mkdtemp(prefix="lcmem-bench-pg-")))
    actor_counts = [int(x) for x in args.actors.split(",")]
    plan: list[tuple[str, int | None]] = [("local", None)] + [("ray", n) for n in actor_counts]
    rows: list[dict] = []
    ref = None
    try:
        for r in range(args.rounds):
            for executor, n in plan:
                label = executor if n is None else f"ray x{n}"
                name = f"b_{args.split}_{r}_{executor}{n or ''}"
                res = run_once(url, corpus, name, executor, n)
                res.update(label=label, round=r)
                if ref is None:
                    ref = res
                res["cmp"] = compare(ref["lib"], res["lib"], queries) if res is not ref else None
                print(
                    f"round {r} {label:8s} {res['seconds']:7.1f}s {res['chunks']} chunks "
                    f"{res['chunks'] / res['seconds']:.1f} chunks/s (load {load_average()}) "
                    f"{res['cmp']}",
                    flush=True,
                )
                rows.append(res)
    finally:
        ray.shutdown()
        stop()

    print()
    print(
        f"{len(pages)} man pages ({args.split} split of the first {args.pages}), "
        f"{size / 1e6:.1f} MB, {ref['chunks']} chunks, {len(queries)} queries; "
        f"{os.cpu_count()} CPUs ({cpu_model()}); ray.init(num_cpus=2) took {ray_start:.1f}s"
    )
    print()
    print(
        "| run | round | seconds | chunks/s | x local (same round) | same chunks | min cosine "
        "| same top-10 dense / bm25 / hybrid |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for res in rows:
        local = next(x for x in rows if x["round"] == res["round"] and x["label"] == "local")
        c = res["cmp"]
        same = (
            " / ".join(
                f"{c['same_results'][m]}/{len(queries)}" for m in ("dense", "bm25", "hybrid")
            )
            if c
            else "reference"
        )
        cos = f"{c['min_cos']:.7f}" if c else "-"
        print(
            f"| {res['label']} | {res['round']} | {res['seconds']:.1f} | "
            f"{res['chunks'] / res['seconds']:.1f} | {res['seconds'] / local['seconds']:.2f} | "
            f"{c['same_chunks'] if c else '-'} | "
            f"{cos} | {same} |"
        )
    print()
    for label in dict.fromkeys(x["label"] for x in rows):
        mine = [x["seconds"] for x in rows if x["label"] == label]
        local = [x["seconds"] for x in rows if x["label"] == "local"]
        print(
            f"{label}: median {np.median(mine):.1f}s, "
            f"time ratio to local {np.median(mine) / np.median(local):.2f}"
        )
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
