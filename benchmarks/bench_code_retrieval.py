"""Code retrieval: find a standard library function from the first sentence of its docstring.

Corpus: the standard library's top-level modules whose names start with a-m
(``/usr/lib/python3.X/[a-m]*.py``; packages, tests and other letters left out; ``--max-files``
takes a deterministic subset), with every function docstring removed from the indexed code:
the docstring's lines are deleted (replaced by ``pass`` when it is the whole body), the rest of
the file is byte-identical. Functions whose docstring shares a line with other code are left
as they are and give no query.

Queries: the first sentence of each removed docstring (up to the first ". " or blank line,
whitespace collapsed), at least 4 words, each sentence used once (a sentence shared by several
functions is dropped); ``--queries`` of them sampled with ``--seed``. The target is the
function's span in the stripped file (decorators to last line).

Systems: three lcmem libraries over the same files, the default embedder (packaged
all-MiniLM-L6-v2) and analyzer, differing only in the chunker: ``CodeChunker`` (AST units),
``TokenChunker`` (fixed windows; both 200 tokens, overlap 20) and one chunk per file (for dense
the embedder truncates it at its 256-token window: the honest whole-file baseline). Each is
searched in ``bm25``, ``dense`` and ``hybrid`` mode for 10 hits. A hit is correct when its chunk
overlaps the target function's span in the target file (whole files: the target file); a
stricter second criterion asks that it hold the function's ``def`` line (a fixed window that
only grazes the function's last lines does not count). Metrics: MRR@10 and Recall@10 (one
target per query, so Recall@10 is the hit rate). Both favour larger chunks, which hold more
words and more neighbouring code, so a third, size-neutral one is reported: the share of
queries whose ``def``-line hit comes within the first ``--read-budget`` tokens (1,000) of the
hits read in rank order (each hit costs its chunk's ``token_count``), with the mean tokens per
chunk. At the end, AST and fixed chunks are compared query by query in each mode.

The stores live in ``benchmarks/.work/code_retrieval/`` and are reused when the stripped files
are unchanged, so a second run only searches. A store whose recorded BM25 analyzer differs from
the current default is built again, its embedding cache carried over (the embedded text does
not depend on the analyzer), so only chunking and BM25 are redone. Rows are printed as they
finish and appended to ``benchmarks/results/code_retrieval.tsv``.

Queries are split into dev and test by their sentence (``splits.split_of``, frozen); both are
reported beside the whole set (nothing is tuned here). ``--embed-precision int8`` builds the
stores with the quantized ONNX model (issue 15's quality gate) in their own folder
(``WORK/int8/``; fp32 stores stay in ``WORK/``), so vectors are never mixed; index CPU seconds
and chunks/s are printed. ``--summary FILE`` writes the metrics as JSON (``int8_gate.py``
compares two).

The packing runs (issue 22) split by function instead: a query is dev when the first byte of
the SHA-1 of ``file:function`` is even; those MRR@10 lines are printed too ("by function").
``--embeddings-from STORE`` fills a new store's embedding cache from another store first (the
same texts are not embedded twice, e.g. for a before/after run with two lcmem versions).

Run: ``.venv/bin/python benchmarks/bench_code_retrieval.py`` (``--max-files 10 --queries 50``
for a quick check).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import random
import re
import shlex
import shutil
import sqlite3
import sys
import sysconfig
import time
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import lcmem
from lcmem.chunkers import CodeChunker, TokenChunker
from lcmem.chunkers.base import Chunker
from lcmem.indexers.analyzer import Analyzer
from lcmem.types import Chunk, Document

try:
    from benchmarks.machine import cpu_model, load_average
    from benchmarks.splits import SPLITS, split_of
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from machine import cpu_model, load_average  # type: ignore[no-redef]
    from splits import SPLITS, split_of  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work" / "code_retrieval"
RESULTS = REPO / "benchmarks" / "results" / "code_retrieval.tsv"
MODES = ("bm25", "dense", "hybrid")
CUTOFF = 10
_SENTENCE_END = re.compile(r"\.\s|\n\s*\n")


class WholeFileChunker(Chunker):
    """One chunk per document (its text without surrounding whitespace): the baseline."""

    name = "whole-file"
    bounded = False  # the baseline is the whole file: no character ceiling, no merging

    def _chunk(self, doc: Document) -> list[Chunk]:
        text = doc.text
        body = text.strip()
        if not body:
            return []
        start = text.index(body)
        n = self.tokenizer.count(body)
        return [Chunk(text=body, start=start, end=start + len(body), token_count=n)]


@dataclass
class Target:
    file: str
    name: str
    start: int
    end: int
    query: str
    def_start: int  # the line of the ``def`` itself (the signature's first line)
    def_end: int


def stdlib_a_m() -> list[Path]:
    """Top-level standard library modules whose names start with a-m, sorted."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in lib.glob("*.py") if p.name[0] in "abcdefghijklm")


def first_sentence(doc: str) -> str:
    """First sentence of a docstring: up to the first '. ' or blank line, one line."""
    doc = doc.strip()
    m = _SENTENCE_END.search(doc)
    head = doc[: m.start() + 1] if m and doc[m.start()] == "." else doc[: m.start()] if m else doc
    return " ".join(head.split())


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return sorted(nodes, key=lambda n: (n.lineno, n.col_offset))


def strip_docstrings(src: str) -> tuple[str, dict[int, str]]:
    """``src`` without function docstrings, and the docstring of each stripped function by its
    index in :func:`_functions` order (the same functions, in the same order, in the result)."""
    tree = ast.parse(src)
    lines = src.splitlines(keepends=True)
    removed: dict[int, str] = {}
    edits: list[tuple[int, int, str]] = []  # (first line, last line) 0-based, replacement
    for k, fn in enumerate(_functions(tree)):
        body = fn.body
        if not (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            continue
        node = body[0]
        a, b = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        before = lines[a].encode()[: node.col_offset].decode(errors="replace")
        after = lines[b].encode()[node.end_col_offset or 0 :].decode(errors="replace")
        if before.strip() or after.strip().rstrip(";").strip() or fn.lineno - 1 == a:
            continue  # shares a line with other code: leave it, no query
        indent = before
        keep_pass = len(body) == 1
        edits.append((a, b, f"{indent}pass\n" if keep_pass else ""))
        removed[k] = node.value.value
    for a, b, new in sorted(edits, reverse=True):
        lines[a : b + 1] = [new] if new else []
    out = "".join(lines)
    ast.parse(out)  # still valid Python
    return out, removed


def prepare(files: list[Path], src_dir: Path) -> list[Target]:
    """Write the stripped files to ``src_dir`` (only if changed) and return every query."""
    src_dir.mkdir(parents=True, exist_ok=True)
    targets: list[Target] = []
    for path in files:
        src = path.read_text(encoding="utf-8")
        try:
            stripped, docs = strip_docstrings(src)
        except SyntaxError:
            continue
        dest = src_dir / path.name
        if not dest.exists() or dest.read_text(encoding="utf-8") != stripped:
            dest.write_text(stripped, encoding="utf-8")
        starts = list(accumulate((len(x) for x in stripped.splitlines(keepends=True)), initial=0))
        for k, fn in enumerate(_functions(ast.parse(stripped))):
            if k not in docs:
                continue
            query = first_sentence(docs[k])
            if len(query.split()) < 4:
                continue
            first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)]) - 1
            last = (fn.end_lineno or fn.lineno) - 1
            start = starts[first]
            end = starts[min(last + 1, len(starts) - 1)]
            def_start, def_end = starts[fn.lineno - 1], starts[min(fn.lineno, len(starts) - 1)]
            targets.append(Target(path.name, fn.name, start, end, query, def_start, def_end))
    # A sentence shared by several functions has no single answer.
    seen: dict[str, int] = {}
    for t in targets:
        seen[t.query] = seen.get(t.query, 0) + 1
    return [t for t in targets if seen[t.query] == 1]


def seed_embeddings(store: Path, source: Path) -> None:
    """Copy the embedding cache of library ``source`` into library ``store`` (made if needed)."""
    lcmem.open(store).close()
    con = sqlite3.connect(store / "lcmem.db")
    try:
        with con:
            con.execute("ATTACH DATABASE ? AS old", (str(source / "lcmem.db"),))
            con.execute(
                "INSERT OR IGNORE INTO lcmem_embeddings (hash, vector) "
                "SELECT hash, vector FROM old.lcmem_embeddings"
            )
        con.execute("DETACH DATABASE old")
    finally:
        con.close()


def chunkers() -> dict[str, Chunker]:
    return {
        "ast (CodeChunker)": CodeChunker(200, 20),
        "fixed (TokenChunker)": TokenChunker(200, 20),
        "whole file": WholeFileChunker(),
    }


def correct(
    hit_path: str | None, hit: tuple[int, int], t: Target, whole: bool
) -> tuple[bool, bool]:
    """(the hit overlaps the target function, the hit holds the function's ``def`` line)."""
    if hit_path is None or Path(hit_path).name != t.file:
        return False, False
    if whole:
        return True, True
    return hit[0] < t.end and t.start < hit[1], hit[0] < t.def_end and t.def_start < hit[1]


def reset_if_analyzer_changed(store: Path) -> bool:
    """Build ``store`` again if its BM25 analyzer is not the current default, keeping its
    embedding cache (vectors are keyed by the embedded text, which the analyzer does not touch).
    Returns whether it was reset."""
    db = store / "lcmem.db"
    if not db.exists():
        return False
    with lcmem.open(store) as lib:
        recorded = lib.manifest.get("analyzer")
    if recorded is None or Analyzer.from_config(recorded).config() == Analyzer().config():
        return False
    old = store.with_name(store.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    store.rename(old)
    lcmem.open(store).close()  # creates the empty store and its tables
    con = sqlite3.connect(db)
    try:
        with con:
            con.execute("ATTACH DATABASE ? AS old", (str(old / "lcmem.db"),))
            con.execute(
                "INSERT OR IGNORE INTO lcmem_embeddings (hash, vector) "
                "SELECT hash, vector FROM old.lcmem_embeddings"
            )
        con.execute("DETACH DATABASE old")
    finally:
        con.close()
    shutil.rmtree(old)
    return True


def read_rank(hits_ok: list[bool], tokens: list[int], budget: int) -> bool:
    """Whether the first correct hit is reached within ``budget`` tokens read in rank order.

    Example:
        >>> read_rank([False, True], [600, 300], 1000), read_rank([False, True], [900, 300], 1000)
        (True, False)
    """
    used = 0
    for ok, n in zip(hits_ok, tokens, strict=True):
        used += n
        if used > budget:
            return False
        if ok:
            return True
    return False


def compare(a: list[int], b: list[int]) -> tuple[int, int, int]:
    """(queries where ``a`` ranks the target higher, lower, the same) from 1-based ranks, 0 =
    not found.

    Example:
        >>> compare([1, 0, 3, 2], [2, 1, 3, 0])
        (2, 1, 1)
    """
    key = [1 / r if r else 0.0 for r in a], [1 / r if r else 0.0 for r in b]
    pairs = list(zip(*key, strict=True))
    return (
        sum(x > y for x, y in pairs),
        sum(x < y for x, y in pairs),
        sum(x == y for x, y in pairs),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-files", type=int, default=0, help="use at most N files (0 = all)")
    ap.add_argument("--queries", type=int, default=400, help="queries sampled (default 400)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument(
        "--read-budget", type=int, default=1000, help="tokens read for the size-neutral metric"
    )
    ap.add_argument(
        "--embed-precision",
        choices=("fp32", "int8"),
        default="fp32",
        help="embedding precision of the stores (int8 stores live in WORK/int8/)",
    )
    ap.add_argument("--threads", type=int, default=None, help="embedding threads (default: all)")
    ap.add_argument(
        "--chunkers",
        default="ast,fixed,whole",
        help="comma-separated subset of ast, fixed, whole (default: all three)",
    )
    ap.add_argument("--results", type=Path, default=RESULTS, help="TSV log appended to")
    ap.add_argument("--summary", type=Path, default=None, help="write metrics as JSON here")
    ap.add_argument("--embeddings-from", type=Path, help="a store whose embeddings to reuse")
    args = ap.parse_args()
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])

    files = stdlib_a_m()
    if args.max_files and len(files) > args.max_files:
        files = sorted(random.Random(args.seed).sample(files, args.max_files))
    src_dir = args.work / "src"
    targets = prepare(files, src_dir)
    rng = random.Random(args.seed)
    queries = rng.sample(targets, min(args.queries, len(targets)))
    size = sum(p.stat().st_size for p in src_dir.glob("*.py")) / 1e6
    print(
        f"corpus: {len(files)} stdlib a-m modules ({size:.2f} MB stripped): "
        f"{', '.join(p.stem for p in files)}",
        flush=True,
    )
    print(
        f"queries: {len(queries)} of {len(targets)} usable docstring first sentences "
        f"(seed {args.seed})",
        flush=True,
    )
    print(f"analyzer: {Analyzer().config()}", flush=True)
    split = {t.query: split_of(t.query) for t in queries}
    print(
        "split: " + ", ".join(f"{s} {sum(v == s for v in split.values())}" for s in SPLITS),
        flush=True,
    )
    precision = args.embed_precision
    store_root = args.work if precision == "fp32" else args.work / precision
    wanted = set(args.chunkers.split(","))
    results: Path = args.results
    results.parent.mkdir(parents=True, exist_ok=True)
    new_file = not results.exists()
    rows: list[tuple[str, str, float, float, float, float, float, float]] = []
    ranks: dict[tuple[str, str], list[int]] = {}  # (chunker, mode) -> def-line rank per query
    summary: dict[str, dict[str, dict[str, dict[str, float]]]] = {}  # chunker/mode/subset
    index_stats: dict[str, dict[str, float]] = {}
    overlap_ranks: dict[str, dict[str, list[int]]] = {}  # chunker -> mode -> rank (0: none)
    with results.open("a", encoding="utf-8") as log:
        if new_file:
            log.write(
                "when\tchunker\tmode\tfiles\tqueries\tchunks\tmrr10_overlap\trecall10_overlap"
                "\tmrr10_defline\trecall10_defline\tms_per_query\tload\ttokens_per_chunk"
                "\tread_budget\tdefline_within_budget\tsplit_identifiers\tprecision\n"
            )
        for label, chunker in chunkers().items():
            key = re.sub(r"\W+", "-", label.split()[0])
            if key not in wanted:
                continue
            store = store_root / key
            if args.embeddings_from is not None and not (store / "lcmem.db").exists():
                seed_embeddings(store, args.embeddings_from)
            if reset_if_analyzer_changed(store):
                print(f"{label}: analyzer changed, store rebuilt (embeddings kept)", flush=True)
            whole = label == "whole file"
            t0, cpu0 = time.perf_counter(), time.process_time()
            with lcmem.open(
                store, chunker=chunker, embed_precision=precision, threads=args.threads
            ) as lib:
                report = lib.index([src_dir])
                index_s, index_cpu = time.perf_counter() - t0, time.process_time() - cpu0
                index_stats[label] = {
                    "wall_s": index_s,
                    "cpu_s": index_cpu,
                    "embedded": report.embedded,
                    "chunks_added": report.chunks_added,
                }
                if report.embedded:
                    print(
                        f"{label} ({precision}): {report.embedded} chunks embedded in "
                        f"{index_s:.1f} s wall, {index_cpu:.1f} s CPU: "
                        f"{report.embedded / index_s:.1f} chunks/s wall, "
                        f"{report.embedded / index_cpu:.1f} chunks/s CPU",
                        flush=True,
                    )
                n_chunks = lib.status().get("chunks", 0)
                split_ids = lib.analyzer.split_identifiers
                tok_chunk = sum(
                    c.token_count for c in lib.get_chunks(lib.store.chunk_ids().tolist())
                ) / max(1, n_chunks)
                print(
                    f"{label}: {n_chunks} chunks ({tok_chunk:.0f} tokens each on average), "
                    f"indexed in {time.perf_counter() - t0:.0f} s ({report})",
                    flush=True,
                )
                for mode in MODES:
                    lib.search("warm up", k=CUTOFF, mode=mode)  # type: ignore[arg-type]
                    rr, found = [0.0, 0.0], [0, 0]  # overlap criterion, def-line criterion
                    within = 0
                    mode_ranks: list[int] = []
                    first_overlap: list[int] = []
                    per_split = {s: [0.0, 0.0, 0] for s in SPLITS}  # rr overlap, rr def, n
                    by_split: dict[str, list[list[float]]] = {"dev": [], "test": []}
                    t1 = time.perf_counter()
                    for t in queries:
                        hits = lib.search(t.query, k=CUTOFF, mode=mode)  # type: ignore[arg-type]
                        done = [False, False]
                        oks = [
                            correct(h.chunk.doc_path, (h.chunk.start, h.chunk.end), t, whole)
                            for h in hits
                        ]
                        for rank, ok in enumerate(oks, 1):
                            for c in (0, 1):
                                if ok[c] and not done[c]:
                                    rr[c] += 1 / rank
                                    found[c] += 1
                                    done[c] = True
                        cell = per_split[split[t.query]]
                        cell[2] += 1
                        for c in (0, 1):
                            hit = [r for r, ok in enumerate(oks, 1) if ok[c]]
                            cell[c] += 1 / hit[0] if hit else 0.0
                            if c == 0:
                                first_overlap.append(hit[0] if hit else 0)
                        first = [r for r, ok in enumerate(oks, 1) if ok[1]]
                        mode_ranks.append(first[0] if first else 0)
                        over = [r for r, ok in enumerate(oks, 1) if ok[0]]
                        by_split[split_of(f"{t.file}:{t.name}")].append(
                            [1 / over[0] if over else 0.0, 1 / first[0] if first else 0.0]
                        )
                        within += read_rank(
                            [ok[1] for ok in oks],
                            [h.chunk.token_count for h in hits],
                            args.read_budget,
                        )
                    ms = (time.perf_counter() - t1) * 1000 / max(1, len(queries))
                    nq = len(queries)
                    mrr, rec = rr[0] / nq, found[0] / nq
                    mrr_d, rec_d = rr[1] / nq, found[1] / nq
                    read = within / nq
                    ranks[(label, mode)] = mode_ranks
                    overlap_ranks.setdefault(label, {})[mode] = first_overlap
                    for sp, rrs in by_split.items():
                        n_sp = max(1, len(rrs))
                        print(
                            f"  {label:<22} {mode:<7} {sp:<4} by function (n {len(rrs)}): "
                            f"MRR@10 overlap "
                            f"{sum(x[0] for x in rrs) / n_sp:.4f}, def line "
                            f"{sum(x[1] for x in rrs) / n_sp:.4f}",
                            flush=True,
                        )
                    rows.append((label, mode, mrr, rec, ms, mrr_d, rec_d, read))
                    print(
                        f"  {label:<22} {mode:<7} overlap: MRR@10 {mrr:.3f} R@10 {rec:.3f}; "
                        f"def line: MRR@10 {mrr_d:.3f} R@10 {rec_d:.3f}; within "
                        f"{args.read_budget} tokens {read:.3f}; {ms:.0f} ms/query",
                        flush=True,
                    )
                    cells = summary.setdefault(label, {}).setdefault(mode, {})
                    cells["all"] = {"mrr": mrr, "mrr_defline": mrr_d, "queries": nq}
                    for s, (r_o, r_d, n) in per_split.items():
                        cells[s] = {"mrr": r_o / max(1, n), "mrr_defline": r_d / max(1, n)}
                        cells[s]["queries"] = n
                        print(
                            f"  {'':<22} {'':<7} {s:<4} ({n} queries) overlap MRR@10 "
                            f"{r_o / max(1, n):.3f}; def line MRR@10 {r_d / max(1, n):.3f}",
                            flush=True,
                        )
                    log.write(
                        f"{time.strftime('%FT%T')}\t{label}\t{mode}\t{len(files)}\t"
                        f"{nq}\t{n_chunks}\t{mrr:.4f}\t{rec:.4f}\t{mrr_d:.4f}\t{rec_d:.4f}\t"
                        f"{ms:.1f}\t{load_average()}\t{tok_chunk:.1f}\t{args.read_budget}\t"
                        f"{read:.4f}\t{split_ids}\t{precision}\n"
                    )
                    log.flush()

    for name, a, b in (("overlaps the function", 2, 3), ("holds its def line", 5, 6)):
        print(f"\nMRR@10 / Recall@10, a hit {name}")
        print(f"{'chunker':<22} " + " ".join(f"{m:>15}" for m in MODES))
        for label in dict.fromkeys(r[0] for r in rows):
            cells = {r[1]: r for r in rows if r[0] == label}
            print(
                f"{label:<22} "
                + " ".join(f"{cells[m][a]:>8.3f}/{cells[m][b]:<6.3f}" for m in MODES if m in cells)
            )
    print(f"\nDef-line hit within the first {args.read_budget} tokens read")
    for label in dict.fromkeys(r[0] for r in rows):
        cells = {r[1]: r for r in rows if r[0] == label}
        print(f"{label:<22} " + " ".join(f"{cells[m][7]:>15.3f}" for m in MODES if m in cells))
    ast_label, fixed_label = list(chunkers())[:2]
    if ast_label not in {r[0] for r in rows} or fixed_label not in {r[0] for r in rows}:
        print(f"command: {command}")
        return
    print("\nQuery by query, def-line rank: AST better / fixed better / same")
    for mode in MODES:
        if (ast_label, mode) in ranks and (fixed_label, mode) in ranks:
            won, lost, same = compare(ranks[(ast_label, mode)], ranks[(fixed_label, mode)])
            print(f"  {mode:<7} {won} / {lost} / {same}")
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, load {load_average()} at the end, "
        f"Python {platform.python_version()}"
    )
    print(f"command: {command}")
    if args.summary:
        args.summary.write_text(
            json.dumps(
                {
                    "benchmark": "bench_code_retrieval",
                    "metric": "mrr",
                    "precision": precision,
                    "files": len(files),
                    "queries": len(queries),
                    "index": index_stats,
                    "results": summary,
                    "query_ids": [t.query for t in queries],
                    "ranks": overlap_ranks,
                    "command": command,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
