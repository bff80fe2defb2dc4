"""Retrieval quality of lcmem on man pages: find a page from its one-line NAME description.

For ``--pages`` pages of a man section (``manpages.py``), the query is the description in the
NAME section ("ls - list directory contents" -> "list directory contents") and the document is
the page with its NAME section removed, one ``.txt`` file per page. Pages whose description is
missing or shared by several pages are left out (counted). The documents are indexed with the
real CLI, then every query is searched in each mode (``bm25``, ``dense``, ``hybrid``) for
``--k`` chunks, chunk hits are collapsed to documents (first occurrence kept), and nDCG@10,
Recall@10 and MRR@10 are computed (one relevant document per query, binary relevance).

Queries are also split into dev and test by the page's file name (``splits.split_of``, frozen);
both are reported (nothing is tuned here). ``--embed-precision int8`` indexes with the
quantized ONNX model (issue 15's quality gate); each precision has its own store, so vectors
are never mixed, and index throughput (chunks/s of wall and CPU time) is printed.

Run: ``.venv/bin/python benchmarks/bench_quality.py`` (``--pages 30`` for a quick check). The
store in ``WORK/quality-PRECISION/`` is reused when the corpus is unchanged (``--fresh``
rebuilds it); ``--summary FILE`` writes the metrics as JSON (``int8_gate.py`` compares two).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

try:
    from benchmarks.bench_index import (
        child_env,
        cli_index,
        cpu_model,
        load_average,
        man_pages,
        snapshot_code,
    )
    from benchmarks.splits import SPLITS, split_of
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from bench_index import (  # type: ignore[no-redef]
        child_env,
        cli_index,
        cpu_model,
        load_average,
        man_pages,
        snapshot_code,
    )
    from splits import SPLITS, split_of  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK = REPO / "benchmarks" / ".work"
MODES = ("bm25", "dense", "hybrid")
CUTOFF = 10
_HEADER = re.compile(r"^\S")  # a section heading of rendered man text starts in column 0
_DASH = re.compile(r"\s(?:\\?-{1,2}|\u2013|\u2014)\s")  # "name - description" separators


# -- queries and documents -----------------------------------------------------------------------
def name_section(lines: list[str]) -> tuple[int, int] | None:
    """``(first, end)`` line numbers of the NAME section (its heading included), or None."""
    for i, line in enumerate(lines):
        if line.strip() == "NAME" and _HEADER.match(line):
            end = i + 1
            while end < len(lines) and not _HEADER.match(lines[end]):
                end += 1
            return i, end
    return None


def split_page(text: str) -> tuple[str | None, str]:
    """(NAME description or None, page text without its NAME section).

    Example:
        >>> split_page("LS(1)\\n\\nNAME\\n       ls - list directory contents\\n\\nSYNOPSIS\\n")
        ('list directory contents', 'LS(1)\\n\\nSYNOPSIS\\n')
    """
    lines = text.splitlines(keepends=True)
    span = name_section(lines)
    if span is None:
        return None, text
    first, end = span
    body = " ".join("".join(lines[first + 1 : end]).split())
    parts = _DASH.split(body, maxsplit=1)
    description = parts[1].strip() if len(parts) == 2 else ""
    return description or None, "".join(lines[:first] + lines[end:])


@dataclass
class Corpus:
    """Queries (description -> document file name) and what was left out."""

    queries: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    n_pages: int = 0


def build_corpus(pages: list[Path], folder: Path) -> Corpus:
    """Write the kept documents into ``folder`` (files whose bytes are unchanged are left
    alone, so an existing store sees no change) and return the queries."""
    split = {p.name: split_page(p.read_text(encoding="utf-8")) for p in pages}
    counts = Counter(d.lower() for d, _ in split.values() if d)
    corpus = Corpus(n_pages=len(pages))
    docs: dict[str, str] = {}
    for name, (description, body) in split.items():
        if description is None:
            corpus.missing.append(name)
        elif counts[description.lower()] > 1:
            corpus.duplicate.append(name)
        else:
            corpus.queries[description] = name
            docs[name] = body
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.name not in docs:
            old.unlink() if old.is_file() else shutil.rmtree(old)
    for name, body in docs.items():
        path, data = folder / name, body.encode("utf-8")
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    return corpus


# -- metrics -------------------------------------------------------------------------------------
def doc_rank(paths: list[str], relevant: str) -> int | None:
    """1-based rank of ``relevant`` among the documents of chunk hits ``paths`` (each document
    counted at its first chunk), or None if absent."""
    seen: list[str] = []
    for p in paths:
        name = Path(p).name
        if name not in seen:
            seen.append(name)
            if name == relevant:
                return len(seen)
    return None


def metrics(ranks: list[int | None], cutoff: int = CUTOFF) -> dict[str, float]:
    """nDCG, recall and MRR at ``cutoff`` for one relevant document per query, plus the share
    found at any rank. With one relevant document the ideal DCG is 1.

    Example:
        >>> metrics([1, 2, None])["mrr"]
        0.5
    """
    hit = [r for r in ranks if r is not None and r <= cutoff]
    n = len(ranks) or 1
    return {
        "ndcg": sum(1 / math.log2(r + 1) for r in hit) / n,
        "recall": len(hit) / n,
        "mrr": sum(1 / r for r in hit) / n,
        "found": sum(r is not None for r in ranks) / n,
    }


def run_queries(
    store: Path, queries: dict[str, str], mode: str, k: int, threads: int | None = None
) -> dict[str, object]:
    """Search every query in ``mode``; ranks of the relevant documents and latencies (s)."""
    import lcmem

    ranks: list[int | None] = []
    seconds: list[float] = []
    with lcmem.open(store, threads=threads) as lib:
        lib.search("warm up the indices and the model", k=k, mode=mode)  # type: ignore[arg-type]
        for query, relevant in queries.items():
            t0 = time.perf_counter()
            hits = lib.search(query, k=k, mode=mode)  # type: ignore[arg-type]
            seconds.append(time.perf_counter() - t0)
            ranks.append(doc_rank([h.path for h in hits], relevant))
    return {"ranks": ranks, "seconds": seconds}


# -- report --------------------------------------------------------------------------------------
def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    width = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "| " + " | ".join(f"{{:{w}}}" for w in width) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in width) + "|"
    return "\n".join([line.format(*header), sep, *(line.format(*r) for r in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000, help="man pages to draw queries from")
    parser.add_argument("--section", default="1", help="man section")
    parser.add_argument("--seed", type=int, default=0, help="page order")
    parser.add_argument("--k", type=int, default=50, help="chunks retrieved per query")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated search modes")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="embedding threads (OMP/torch and lcmem's --threads; default: every core)",
    )
    parser.add_argument(
        "--embed-precision",
        choices=("fp32", "int8"),
        default="fp32",
        help="embedding precision of the store (lcmem index --embed-precision)",
    )
    parser.add_argument("--summary", type=Path, default=None, help="write metrics as JSON here")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="scratch folder")
    parser.add_argument("--fresh", action="store_true", help="rebuild the store from scratch")
    args = parser.parse_args()
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    work = args.work.resolve() / f"quality-{args.embed_precision}"
    # One version of lcmem for the whole run (the CLI subprocess and the searches here), even
    # if the work tree changes meanwhile.
    code, version = snapshot_code(work / "code")
    env = child_env(args.threads, code)
    os.environ.update(env)  # thread count, before torch is imported by the searches below
    sys.path.insert(0, str(code))
    folder, store = work / "corpus", work / "store"
    load_start = load_average()
    pages = man_pages(args.pages, args.section, args.seed)
    corpus = build_corpus(pages, folder)
    n_docs = len(corpus.queries)
    print(
        f"{corpus.n_pages} pages: {n_docs} kept, {len(corpus.missing)} without a NAME "
        f"description, {len(corpus.duplicate)} with a description shared with another page",
        flush=True,
    )
    if args.fresh and store.exists():
        shutil.rmtree(store)
    extra = ["--embed-precision", args.embed_precision]
    if args.threads:
        extra += ["--threads", str(args.threads)]
    index_s, index_cpu, report = cli_index(folder, store, env, extra)
    embedded = report["embedded"]
    print(
        f"index ({args.embed_precision}): {index_s:.1f} s wall, {index_cpu:.1f} s CPU "
        f"({report['summary']}, {report['chunks_added']} chunks added, {embedded} embedded"
        + (
            f": {embedded / index_s:.1f} chunks/s wall, {embedded / index_cpu:.1f} chunks/s CPU)"
            if embedded
            else ")"
        ),
        flush=True,
    )

    import lcmem

    with lcmem.open(store, threads=args.threads) as lib:
        n_chunks = lib.status()["chunks"]
        recorded = lib.manifest.get("embedder", {}).get("precision", "fp32")
    if recorded != args.embed_precision:
        sys.exit(f"store {store} holds {recorded} vectors, not {args.embed_precision}")
    gcloud = {q for q, name in corpus.queries.items() if name.startswith("gcloud")}
    subsets = {
        "all": set(corpus.queries),
        "non-gcloud": set(corpus.queries) - gcloud,
        "gcloud_*": gcloud,
        **{s: {q for q, name in corpus.queries.items() if split_of(name) == s} for s in SPLITS},
    }
    header = [
        "mode",
        "queries",
        "nDCG@10",
        "Recall@10",
        "MRR@10",
        f"found in top {args.k} chunks",
        "latency p50 / p95 ms",
    ]
    rows: list[list[str]] = []
    per_query: dict[str, dict[str, object]] = {}
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for mode in args.modes.split(","):
        t0 = time.perf_counter()
        res = run_queries(store, corpus.queries, mode, args.k, args.threads)
        print(f"{mode}: {len(corpus.queries)} queries in {time.perf_counter() - t0:.1f}s")
        per_query[mode] = res
        ranks_of = dict(zip(corpus.queries, res["ranks"], strict=True))  # type: ignore[call-overload]
        secs = sorted(res["seconds"])  # type: ignore[call-overload]
        lat = f"{1e3 * statistics.median(secs):.1f} / {1e3 * secs[int(0.95 * (len(secs) - 1))]:.1f}"
        for subset, qs in subsets.items():
            if not qs:
                continue
            m = metrics([ranks_of[q] for q in qs])
            summary.setdefault(mode, {})[subset] = {**m, "queries": len(qs)}
            rows.append(
                [
                    mode if subset == "all" else f"  {subset}",
                    str(len(qs)),
                    f"{m['ndcg']:.3f}",
                    f"{m['recall']:.3f}",
                    f"{m['mrr']:.3f}",
                    f"{m['found']:.3f}",
                    lat if subset == "all" else "",
                ]
            )
    (work / "per_query.json").write_text(
        json.dumps({"queries": corpus.queries, "results": per_query}, indent=1)
    )
    print()
    print(table(header, rows))
    print()
    print(
        f"corpus: {corpus.n_pages} pages of man section {args.section}; {n_docs} documents and "
        f"queries kept ({len(gcloud)} gcloud_*), {n_chunks} chunks; skipped "
        f"{len(corpus.missing)} without a NAME description and {len(corpus.duplicate)} sharing "
        "one"
    )
    import onnxruntime

    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, embed precision "
        f"{args.embed_precision}, onnxruntime {onnxruntime.__version__}, threads "
        f"{args.threads or 'default'}, Python {platform.python_version()}"
    )
    print(f"load average (1/5/15 min): start {load_start}; end {load_average()}")
    print(f"lcmem: {version} (copied to {code}; imported from {Path(lcmem.__file__).parent})")
    print(f"command: {command}")
    if args.summary:
        args.summary.write_text(
            json.dumps(
                {
                    "benchmark": "bench_quality",
                    "metric": "ndcg",
                    "precision": args.embed_precision,
                    "pages": corpus.n_pages,
                    "documents": n_docs,
                    "chunks": n_chunks,
                    "index": {
                        "wall_s": index_s,
                        "cpu_s": index_cpu,
                        "embedded": embedded,
                        "chunks_added": report["chunks_added"],
                    },
                    "results": summary,
                    "lcmem": version,
                    "command": command,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
