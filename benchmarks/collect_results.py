"""Collect the benchmark result pages (``benchmarks/results/*.md``) into BENCHMARKS.md.

BENCHMARKS.md keeps its hand-written head (everything above the marker comment); below the
marker, each results page is appended under its own ``##`` heading, its own title dropped and
its headings demoted one level. Run it after a benchmark rewrote its page:

    python benchmarks/collect_results.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MARKER = "\n<!-- sections below are collected from benchmarks/results/*.md -->\n"
PAGES = (
    ("chunkers.md", "Chunking throughput (issue 3)"),
    ("code_retrieval.md", "Code retrieval: AST chunks vs fixed windows vs whole files (issue 3)"),
    ("longembed.md", "Long-context embedders: LongEmbed-style passkey and needle (issue 4)"),
    ("kv.md", "KV-page retrieval: passkey, cost, persistence (issue 5)"),
    ("pipelines.md", "Long-document QA pipelines (issue 6)"),
    ("memory.md", "Episodic memory on EpBench-like chronicles (issue 7)"),
    ("memory2.md", "Episodic memory on a second generator: parser vs rules (issue 17)"),
    ("scale.md", "Indexing on Ray into PostgreSQL vs local (issue 18)"),
    ("scale_million.md", "Toward a million chunks: latency, memory, disk, ANN switch (issue 18)"),
    ("onnx.md", "ONNX Runtime embedder: vectors, search latency, indexing, topic speed (issue 15)"),
    ("onnx_graph.md", "The embedder's ONNX graph written without torch (issues 15, 20)"),
    ("int8_gate.md", "int8 embeddings against the quality gate (issue 15)"),
    ("install.md", "Core install vs full install, extras one by one (issue 20)"),
    ("fusion.md", "Hybrid fusion: eighteen tasks, dev and test (issue 16)"),
    ("short_chunks.md", "Chunk bounds: ceiling, minimum size, exact names at 16k (issues 14, 22)"),
    ("exact_libs.md", "Exact search: suffix array vs FM-index (issue 19)"),
    ("exact.md", "Exact search against ripgrep and grep on 220 MB (issue 19)"),
    ("answers.md", "Readable answers: repetition guard and evidence fallback (issue 21)"),
    ("charset.md", "Decoding files that are not UTF-8 (issue 20)"),
    ("html.md", "HTML loader: page furniture and headings (issue 20)"),
    ("bm25_idf.md", "BM25 idf: rank-bm25 vs Lucene (issue 20)"),
    ("bm25_before_after.md", "BM25 speed before and after the idf option (issue 20)"),
    ("memory_libs.md", "Memory operator and reconciler on library code (issue 20)"),
    ("own_versions.md", "Where lcmem keeps its own code: sentence splitter and dates (issue 20)"),
)


def section(name: str, title: str) -> str:
    """One results page as a BENCHMARKS.md section (``""`` if the page does not exist)."""
    path = RESULTS / name
    if not path.exists():
        return ""
    lines = path.read_text().strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    out, fenced = [], False
    for line in lines:
        fenced ^= line.startswith("```")  # headings inside code blocks are not headings
        out.append("#" + line if not fenced and re.match(r"^#{1,5} ", line) else line)
    body = "\n".join(out).strip()
    return (
        f"\n## {title}\n\nFull results and raw rows: `benchmarks/results/{name}` "
        f"(and the `.jsonl`/`.tsv` beside it).\n\n{body}\n"
    )


def main() -> None:
    target = ROOT / "BENCHMARKS.md"
    head = target.read_text().split(MARKER)[0].rstrip() + "\n"
    target.write_text(head + MARKER + "".join(section(n, t) for n, t in PAGES))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
