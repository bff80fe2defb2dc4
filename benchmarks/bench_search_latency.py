"""Whole-process latency of ``lcmem search``: before (torch query path) vs after (ONNX Runtime).

Claim (issue 15): on a library of >= 20,000 chunks, ``lcmem search QUERY`` (hybrid) takes a
median <= 1.0 s wall as a whole process, with the before/after pair measured in the same run;
``--mode dense`` and ``--mode bm25`` are reported too.

Method: "before" is lcmem at ``--before-ref`` (default: the commit this branch started from),
extracted with ``git archive``; "after" is the work tree's ``lcmem/``, copied at start. Both
search the same library (``--store``: made by ``lcmem index``; the ONNX fp32 and torch
embedders share it, same model). For each of ``--runs`` rounds, each mode, the two sides run
in alternating order as separate ``python -m lcmem.cli search`` processes; wall and CPU seconds
(user + system of the child) are recorded and their medians printed. One untimed warm-up of
each side first (disk cache, byte code; the ONNX file is already exported). Byte code is
written to a cache folder under ``--work`` (``PYTHONPYCACHEPREFIX``), as after an install.

Queries: a frozen list of ten man-page questions, five ``dev`` (the only ones looked at while
changing the start-up path) and five ``test``; run ``r`` uses query ``r`` of each split, and
medians are printed per split and overall.

Run: ``python benchmarks/bench_search_latency.py --store LIB --runs 5``
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model, load_average

REPO = Path(__file__).resolve().parent.parent
BASE_REF = "6cda8c7"  # main when issue 15's branch started
MODES = ("hybrid", "dense", "bm25")
QUERIES = {  # frozen 2026-12-07 before the second round of start-up work
    "dev": (
        "compress files",
        "list directory contents",
        "show running processes",
        "change file permissions",
        "copy files between hosts",
    ),
    "test": (
        "print lines matching a pattern",
        "configure a network interface",
        "count words in a file",
        "schedule a command to run later",
        "display disk usage",
    ),
}


def extract(ref: str, dest: Path) -> Path:
    """``lcmem/`` at git ``ref`` into ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    data = subprocess.run(
        ["git", "archive", ref, "lcmem"], cwd=REPO, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def snapshot(dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(REPO / "lcmem", dest / "lcmem", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def search_once(code: Path, store: Path, query: str, mode: str, k: int) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(code), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    # Byte code cached as after a normal install (pip compiles it), kept apart from the venv:
    # with PYTHONDONTWRITEBYTECODE every process would compile SQLAlchemy, torch... from source.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(code.parent / "pycache")
    cmd = [sys.executable, "-m", "lcmem.cli", "search", query, "--store", str(store)]
    cmd += ["-k", str(k), "--mode", mode, "--json"]
    c0, t0 = cpu(), time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=code, capture_output=True, text=True)
    wall, used = time.perf_counter() - t0, cpu() - c0
    if proc.returncode != 0 or not json.loads(proc.stdout):
        sys.exit(f"search failed ({code}, {mode}):\n{proc.stderr[-3000:]}")
    return wall, used


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--before-ref", default=BASE_REF)
    ap.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".work" / "search_latency")
    args = ap.parse_args()
    sides = {
        "before": extract(args.before_ref, args.work / "before"),
        "after": snapshot(args.work / "after"),
    }
    import sqlite3

    con = sqlite3.connect(f"file:{args.store / 'lcmem.db'}?mode=ro", uri=True)
    n_chunks = con.execute("SELECT count(*) FROM lcmem_chunks").fetchone()[0]
    con.close()
    modes = args.modes.split(",")
    for code in sides.values():  # warm-up, untimed
        search_once(code, args.store, QUERIES["dev"][0], "hybrid", args.k)
    times: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for r in range(args.runs):
        for split, queries in QUERIES.items():
            query = queries[r % len(queries)]
            for mode in modes:
                order = list(sides) if r % 2 == 0 else list(sides)[::-1]
                for side in order:
                    res = search_once(sides[side], args.store, query, mode, args.k)
                    times.setdefault((side, mode, split), []).append(res)
    print(
        f"# {cpu_model()}; load {load_average()}; library {args.store} ({n_chunks} chunks); "
        f"k {args.k}; {args.runs} runs per split; before = {args.before_ref}"
    )
    print(
        f"{'mode':<8}{'split':<6}{'before wall':>12}{'after wall':>12}{'before cpu':>12}"
        f"{'after cpu':>11}{'wall ratio':>12}{'cpu ratio':>11}"
    )
    for mode in modes:
        for split in (*QUERIES, "all"):
            splits = list(QUERIES) if split == "all" else [split]
            b = [x for s in splits for x in times[("before", mode, s)]]
            a = [x for s in splits for x in times[("after", mode, s)]]
            bw, aw = statistics.median(w for w, _ in b), statistics.median(w for w, _ in a)
            bc, ac = statistics.median(c for _, c in b), statistics.median(c for _, c in a)
            print(
                f"{mode:<8}{split:<6}{bw:>12.2f}{aw:>12.2f}{bc:>12.2f}{ac:>11.2f}"
                f"{bw / aw:>12.2f}{bc / ac:>11.2f}"
            )
    print("all runs (wall s):")
    for (side, mode, split), vals in sorted(times.items()):
        print(f"  {side:<7}{mode:<8}{split:<6}" + " ".join(f"{w:.2f}" for w, _ in vals))


if __name__ == "__main__":
    main()
