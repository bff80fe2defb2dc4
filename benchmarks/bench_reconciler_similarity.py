"""Name similarity of the reconciler: rapidfuzz (lcmem now) against difflib (lcmem before).

Builds the workspace of the seeded 200,000-token EpBench-like story, then asks both
``Reconciler._similar`` implementations (the old one loaded from a base checkout's
``lcmem/memory/reconciler.py``) about 2,000 names, each a known alias with one letter changed.
Prints how often they agree (same best entity; same side of the SAME threshold) and the time
per call, interleaved 5 times (rapidfuzz imported before timing).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/bench_reconciler_similarity.py \\
        /work/main/lcmem/memory/reconciler.py
"""

from __future__ import annotations

import importlib.util
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rapidfuzz  # noqa: F401  (its import is paid before timing)
from epbench import generate

import lcmem.memory.reconciler as new
from lcmem.memory.workspace import EpisodicWorkspace


def main() -> None:
    base = sys.argv[1] if len(sys.argv) > 1 else "/work/main/lcmem/memory/reconciler.py"
    spec = importlib.util.spec_from_file_location("old_reconciler", base)
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    book = generate(200000, 0)
    ws = EpisodicWorkspace()
    for s, e in book.chapters:
        ws.observe(book.text[s:e], source="story", offset=s)
    aliases = ws.reconciler.aliases
    rng = random.Random(0)
    names = list(aliases["person"]) + list(aliases["place"])

    def mutate(name: str) -> str:
        i = rng.randrange(len(name))
        return name[:i] + rng.choice("aeiourst") + name[i + 1 :]

    queries = [
        (mutate(n), "person" if n in aliases["person"] else "place")
        for n in rng.choices(names, k=2000)
    ]
    a, b = old.Reconciler(), new.Reconciler()
    a.aliases = b.aliases = aliases
    a.graph = b.graph = ws.reconciler.graph
    same_best = same_side = 0
    for q, kind in queries:
        x, y = a._similar(q, kind), b._similar(q, kind)
        same_best += [i for i, _ in x[:1]] == [i for i, _ in y[:1]]
        best_x, best_y = (x[0][1] if x else 0.0), (y[0][1] if y else 0.0)
        same_side += (best_x >= new.SAME) == (best_y >= new.SAME)
    times: dict[str, list[float]] = {"difflib": [], "rapidfuzz": []}
    for _ in range(5):
        for label, rec in (("difflib", a), ("rapidfuzz", b)):
            started = time.perf_counter()
            for q, kind in queries:
                rec._similar(q, kind)
            times[label].append(time.perf_counter() - started)
    old_us = statistics.median(times["difflib"]) * 1e6 / len(queries)
    new_us = statistics.median(times["rapidfuzz"]) * 1e6 / len(queries)
    print(f"{len(aliases['person'])} person and {len(aliases['place'])} place aliases")
    print(
        "| names | same best entity | same side of SAME | difflib us/call | rapidfuzz us/call "
        "| rapidfuzz/difflib |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {len(queries)} | {same_best} | {same_side} | {old_us:.1f} | {new_us:.1f} "
        f"| x{new_us / old_us:.2f} |"
    )


if __name__ == "__main__":
    main()
