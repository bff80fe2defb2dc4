"""Search latency through ``lcmem serve --mcp`` over stdio vs ``Library.search`` in process.

Both sides use the same library, the same queries, the same ``k`` and mode, and are warmed up
first (the embedder and indices loaded, numba kernels compiled) with queries outside the timed
set:

1. in process: ``lcmem.open(store).search(query, k=k, mode=mode)``;
2. over MCP: the real CLI ``python -m lcmem.cli serve --mcp --store STORE`` spawned through the
   SDK's ``stdio_client``, and ``ClientSession.call_tool("search", {...})`` (JSON-RPC over
   pipes, argument validation, a worker-thread hop, JSON serialisation of the hits and their
   text: what an agent pays per call).

The two alternate query by query (one in process, then the same over MCP), so a change in
machine load affects both alike.

Queries are the NAME descriptions ("copy files and directories") of pages drawn at random
(``--seed``) from the library. The chunk ids returned by both sides are compared.

Run: ``.venv/bin/python benchmarks/bench_mcp.py`` (the 2,000-page store of bench_index.py,
copied first so nothing can touch it), or ``--store DIR`` for another library.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

try:
    from benchmarks.machine import cpu_model, load_average
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from machine import cpu_model, load_average  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STORE = REPO / "benchmarks" / ".work" / "index" / "store"
DEFAULT_WORK = REPO / "benchmarks" / ".work" / "mcp"
_HEADER = re.compile(r"^\S")
_DASH = re.compile(r"\s(?:\\?-{1,2}|\u2013|\u2014)\s")


def name_description(text: str) -> str | None:
    """``"copy files and directories"`` from a rendered man page's NAME section."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "NAME" and _HEADER.match(line):
            body = []
            for nxt in lines[i + 1 :]:
                if _HEADER.match(nxt):
                    break
                body.append(nxt.strip())
            parts = _DASH.split(" ".join(body), maxsplit=1)
            return parts[1].strip() if len(parts) == 2 and parts[1].strip() else None
    return None


def make_queries(lib: Any, n: int, seed: int) -> list[str]:
    """``n`` distinct queries: NAME descriptions of random pages, then (for a small library)
    random seven-word windows of their text."""
    rng = random.Random(seed)
    paths = lib.documents()
    rng.shuffle(paths)
    texts = [lib.document_text(p) for p in paths[: n * 2]]
    queries: list[str] = []
    for text in texts:
        q = name_description(text)
        if q and q not in queries:
            queries.append(q)
    for _ in range(n * 20):
        if len(queries) >= n:
            break
        words = rng.choice(texts).split()
        if len(words) > 7:
            i = rng.randrange(len(words) - 7)
            q = " ".join(words[i : i + 7])
            if q not in queries:
                queries.append(q)
    return queries[:n]


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": statistics.median(ms), "p95": q[94], "mean": statistics.fmean(ms)}


async def measure(
    lib: Any, store: str, queries: list[str], warm: list[str], k: int, modes: list[str]
) -> dict[str, Any]:
    """Time each query in process and over MCP, alternating, so both see the same machine."""
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "lcmem.cli", "serve", "--mcp", "--store", store],
        env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)},
        cwd=str(REPO),
    )
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        out["initialize_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        first = await session.call_tool("search", {"query": warm[0], "k": k, "mode": "hybrid"})
        out["first_search_s"] = time.perf_counter() - t1
        assert not first.is_error, first.content
        for mode in modes:
            for q in warm:
                lib.search(q, k=k, mode=mode)
                await session.call_tool("search", {"query": q, "k": k, "mode": mode})
            direct: list[float] = []
            served: list[float] = []
            same = 0
            for q in queries:
                t = time.perf_counter()
                hits = lib.search(q, k=k, mode=mode)
                direct.append(time.perf_counter() - t)
                t = time.perf_counter()
                res = await session.call_tool("search", {"query": q, "k": k, "mode": mode})
                served.append(time.perf_counter() - t)
                assert not res.is_error, res.content
                got = [h["chunk_id"] for h in json.loads(res.content[0].text)["hits"]]
                same += got == [h.chunk.id for h in hits]
            out[mode] = (direct, served, same)
    return out


def table(header: list[str], rows: list[list[str]]) -> str:
    width = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "| " + " | ".join(f"{{:{w}}}" for w in width) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in width) + "|"
    return "\n".join([line.format(*header), sep, *(line.format(*r) for r in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help="library folder")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="scratch folder")
    parser.add_argument("--no-copy", action="store_true", help="use --store in place")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per mode")
    parser.add_argument("--warm", type=int, default=10, help="untimed warm-up queries per mode")
    parser.add_argument("-k", type=int, default=10, help="hits per search")
    parser.add_argument("--modes", default="bm25,hybrid", help="comma-separated modes")
    parser.add_argument("--seed", type=int, default=0, help="which pages give the queries")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    sys.path.insert(0, str(REPO))
    import anyio

    import lcmem

    if not (args.store / "lcmem.db").exists():
        sys.exit(f"no library at {args.store}: run benchmarks/bench_index.py or pass --store")
    store = args.store
    if not args.no_copy:  # nothing this script runs may write into the source store
        store = args.work / "store"
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(args.store, store, ignore=shutil.ignore_patterns("lock"))
    modes = [m for m in args.modes.split(",") if m]

    lib = lcmem.open(store)
    status = lib.status()
    all_queries = make_queries(lib, args.queries + args.warm, args.seed)
    warm, queries = all_queries[: args.warm], all_queries[args.warm :]
    results = anyio.run(measure, lib, str(store), queries, warm, args.k, modes)
    lib.close()

    print(
        f"# MCP search latency — {status['documents']} documents, {status['chunks']} chunks, "
        f"{len(queries)} queries per mode, k={args.k}"
    )
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, load average {load_average()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}\n")
    rows = []
    for mode in modes:
        d_times, m_times, same = results[mode]
        d, m = percentiles(d_times), percentiles(m_times)
        rows.append(
            [
                mode,
                f"{d['p50']:.2f}",
                f"{d['p95']:.2f}",
                f"{m['p50']:.2f}",
                f"{m['p95']:.2f}",
                f"{m['p50'] / d['p50']:.2f}x",
                f"{m['p95'] / d['p95']:.2f}x",
                f"{m['p50'] - d['p50']:+.2f}",
                f"{same}/{len(queries)}",
            ]
        )
    header = ["mode", "direct p50 ms", "direct p95 ms", "MCP p50 ms", "MCP p95 ms"]
    header += ["p50 ratio", "p95 ratio", "p50 overhead ms", "same hits"]
    print(table(header, rows))
    print(
        f"\nserver start to initialize: {results['initialize_s']:.2f} s; first search "
        f"(waits for the background model and index load): {results['first_search_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
