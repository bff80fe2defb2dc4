"""``lcmem grep --count`` as whole processes, and the MCP ``grep`` tool, vs ``rg -c -F``.

The in-process API counts ~500x faster than ripgrep scans the 220 MB corpus
(``results/exact.md``); this script measures the two other ways a user reaches the index:

- **CLI**: one ``lcmem grep PATTERN --count --store LIB`` process per query (interpreter start,
  imports, opening the library, mapping the index, counting), against one
  ``rg -c -F PATTERN CORPUS`` process, in turn (A B A B ...), each timed from outside with
  ``os.wait4`` (wall clock and the child's CPU seconds);
- **MCP**: one ``lcmem serve --mcp`` server over stdio, started once; each query is a
  ``tools/call grep`` round trip (JSON-RPC over pipes, count_only) timed in the client;
- **API**: ``Library.count`` in this process on the library opened once (the facade over
  ``ExactIndex.count``: it also checks the store's generation on every call).

Warm (default): both sides after one untimed warm-up query each, files and index in the page
cache. ``--cold``: before every timed process the corpus files (for rg) or the index files (for
lcmem) are dropped from the page cache with ``posix_fadvise(DONTNEED)`` (no root needed, only
these files are touched), so each reads from disk what it needs: rg the whole corpus, lcmem a few
pages of the suffix array and text. The MCP server is not run with ``--cold`` (its mapping keeps
the pages resident).

Python writes no bytecode cache here (``PYTHONDONTWRITEBYTECODE`` is set on this box), which
an installed package has: run with it unset so the CLI imports cached bytecode, as a user's does.

The library: every corpus file stored as a document (no chunks, no embeddings: ``grep`` reads
only the store's document table and the exact index), then the exact index built from the store
as ``lcmem index`` builds it. Patterns: ``exact_corpus.make_patterns``, dev seed 0, test seed 1.

Run::

    python benchmarks/bench_exact_cli.py --setup          # once: the library (minutes)
    OMP_NUM_THREADS=1 python benchmarks/bench_exact_cli.py --patterns 10
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:
    from benchmarks.exact_corpus import corpus_files, make_patterns
except ImportError:  # run as a script
    from exact_corpus import corpus_files, make_patterns  # type: ignore[no-redef]

CORPUS = Path("/work/bench-data/exact/corpus")
LIBRARY = Path("/work/bench-data/exact3/library")


def setup(corpus: Path, folder: Path) -> None:
    """Store every corpus file as a document, then build the exact index from the store."""
    import lcmem

    files = corpus_files(corpus)
    lib = lcmem.open(folder)
    t0 = time.perf_counter()
    with lib.store.transaction() as conn:
        for p in files:
            data = p.read_bytes()
            lib.store.upsert_document(
                conn,
                path=str(p),
                content_hash=hashlib.blake2b(data, digest_size=16).hexdigest(),
                size=len(data),
                mtime_ns=p.stat().st_mtime_ns,
                text=data.decode("utf-8"),
                meta={},
                existing_id=None,
            )
    t1 = time.perf_counter()
    lib._exact()  # the exact index, built from the store as an index run builds it
    lib.save()
    t2 = time.perf_counter()
    print(f"stored {len(files)} documents in {t1 - t0:.1f} s; exact index in {t2 - t1:.1f} s")
    lib.close()


def evict(folder: Path) -> None:
    """Drop the page-cache pages of every file under ``folder`` (as after a reboot)."""
    for p in folder.rglob("*"):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def timed_process(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + sys) and stdout of one whole process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, out


def rg_total(out: str) -> int:
    return sum(int(line.rsplit(":", 1)[1]) for line in out.splitlines() if ":" in line)


class McpClient:
    """A stdio JSON-RPC client of ``lcmem serve --mcp`` (newline-delimited messages)."""

    def __init__(self, store: Path) -> None:
        cmd = [sys.executable, "-m", "lcmem.cli", "serve", "--mcp", "--store", str(store)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.next_id = 0
        self.call(
            "initialize",
            {
                "protocolVersion": "2025-03-26",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, msg: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def call(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        assert self.proc.stdout is not None
        while True:
            msg = json.loads(self.proc.stdout.readline())
            if msg.get("id") == self.next_id:
                return msg

    def count(self, pattern: str) -> int:
        args = {"pattern": pattern, "count_only": True}
        reply = self.call("tools/call", {"name": "grep", "arguments": args})
        result = reply["result"]
        data = result.get("structuredContent") or json.loads(result["content"][0]["text"])
        return int(data["count"])

    def cpu_seconds(self) -> float:
        """The server process's CPU time so far (user + sys, clock-tick resolution)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--library", type=Path, default=LIBRARY)
    ap.add_argument("--setup", action="store_true", help="build the library, then stop")
    ap.add_argument("--patterns", type=int, default=10, help="per split")
    ap.add_argument("--splits", default="dev,test")
    ap.add_argument("--cold", action="store_true", help="drop the files' cached pages first")
    args = ap.parse_args()
    if args.setup:
        setup(args.corpus, args.library)
        return

    texts = [p.read_text(encoding="utf-8") for p in corpus_files(args.corpus)]
    lcmem_cmd = [sys.executable, "-m", "lcmem.cli", "grep", "--count", "--store"]
    mcp = None if args.cold else McpClient(args.library)
    import lcmem

    lib = lcmem.open(args.library)
    lib.count("warm-up")
    cold = "cold" if args.cold else "warm"
    print(
        "| split | patterns | what | lcmem p50 ms | lcmem p95 ms | rg p50 ms | rg / lcmem (p50) |"
    )
    print("|---|---:|---|---:|---:|---:|---:|")
    try:
        for split in args.splits.split(","):
            pats = make_patterns(texts, args.patterns, seed=0 if split == "dev" else 1)
            keys = ("cli", "cli_cpu", "rg", "rg_cpu", "mcp", "api", "api_cpu")
            t: dict[str, list[float]] = {k: [] for k in keys}
            wrong = 0
            if mcp:
                mcp.count(pats[0])  # warm-up, untimed
            timed_process([*lcmem_cmd, str(args.library), "--", pats[0]])
            timed_process(["rg", "-c", "-F", "--", pats[0], str(args.corpus)])
            for pat in pats:
                if args.cold:
                    evict(args.library / "exact")
                wall, cpu, out = timed_process([*lcmem_cmd, str(args.library), "--", pat])
                t["cli"].append(wall)
                t["cli_cpu"].append(cpu)
                n_cli = int(out.strip() or 0)
                if args.cold:
                    evict(args.corpus)
                wall, cpu, out = timed_process(["rg", "-c", "-F", "--", pat, str(args.corpus)])
                t["rg"].append(wall)
                t["rg_cpu"].append(cpu)
                if mcp:
                    t0 = time.perf_counter()
                    n_mcp = mcp.count(pat)
                    t["mcp"].append(time.perf_counter() - t0)
                    wrong += n_cli != n_mcp
                    t0, c0 = time.perf_counter(), time.process_time()
                    n_api = lib.count(pat)
                    t["api"].append(time.perf_counter() - t0)
                    t["api_cpu"].append(time.process_time() - c0)
                    wrong += n_cli != n_api
            med = {k: statistics.median(v) * 1e3 for k, v in t.items() if v}
            p95 = {k: sorted(v)[round(0.95 * (len(v) - 1))] * 1e3 for k, v in t.items() if v}
            for what, a, b in (
                (f"CLI process, wall, {cold}", "cli", "rg"),
                (f"CLI process, CPU, {cold}", "cli_cpu", "rg_cpu"),
                ("MCP round trip, wall, warm", "mcp", "rg"),
                ("API Library.count, wall, warm", "api", "rg"),
                ("API Library.count, CPU, warm", "api_cpu", "rg_cpu"),
            ):
                if a not in med:
                    continue
                print(
                    f"| {split} | {len(pats)} | {what} | {med[a]:.3f} | {p95[a]:.3f} | "
                    f"{med[b]:.1f} | {med[b] / med[a]:.1f}x |"
                )
            if mcp:
                print(f"<!-- {split}: CLI, MCP and API counts differ on {wrong}/{len(pats)} -->")
                # server CPU per call: ticks are 10 ms, so over many calls
                calls = 20 * len(pats)
                c0 = mcp.cpu_seconds()
                for i in range(calls):
                    mcp.count(pats[i % len(pats)])
                per_call = (mcp.cpu_seconds() - c0) / calls * 1e3
                print(
                    f"| {split} | {len(pats)} | MCP server CPU per call (mean of {calls}) | "
                    f"{per_call:.3f} | | {med['rg_cpu']:.1f} (CPU) | "
                    f"{med['rg_cpu'] / max(per_call, 1e-9):.0f}x |"
                )
    finally:
        if mcp:
            mcp.close()


if __name__ == "__main__":
    main()
