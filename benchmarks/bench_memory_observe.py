"""Observe time and workspace F1 of the episodic memory, two lcmem checkouts side by side.

The part of ``bench_memory.py`` that the reconciler (name similarity) and the rule-based
operator (sentence splitting) decide, without the LLM: generate the seeded EpBench-like story
(``epbench.py``), observe it chapter by chapter into an ``EpisodicWorkspace``, then answer the
questions from the workspace and score F1 against the gold answers. Each checkout runs in its
own process, interleaved A B A B, so the ratio compares like with like on a busy machine.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_memory_observe.py \\
        --trees /work/main,. --sizes 20000,200000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(sizes: list[int], seed: int, per_type: int) -> None:
    sys.path.insert(0, str(HERE))
    from epbench import f1, generate, questions

    from lcmem.memory.workspace import EpisodicWorkspace

    out = {}
    for size in sizes:
        book = generate(size, seed)
        started = time.perf_counter()
        ws = EpisodicWorkspace()
        for s, e in book.chapters:
            ws.observe(book.text[s:e], source="story", offset=s)
        seconds = time.perf_counter() - started
        qs = questions(book, per_type, seed)
        scores = []
        for q in qs:
            res = ws.ask(q.text)
            scores.append(f1(res.answers if res else [], q.gold))
        out[size] = {"seconds": seconds, "f1": statistics.fmean(scores), "n": len(scores)}
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", default="/work/main,.", help="two lcmem checkouts: base,new")
    ap.add_argument("--sizes", default="20000,200000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-type", type=int, default=30)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        child(sizes, args.seed, args.per_type)
        return
    trees = [str(Path(t).resolve()) for t in args.trees.split(",")]
    runs: dict[str, list[dict]] = {t: [] for t in trees}
    for _ in range(args.repeats):
        for tree in trees:  # interleaved: A B A B
            env = {**os.environ, "PYTHONPATH": tree}
            cmd = [sys.executable, __file__, "--child", "--sizes", args.sizes]
            cmd += ["--seed", str(args.seed), "--per-type", str(args.per_type)]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            runs[tree].append(json.loads(done.stdout.strip().splitlines()[-1]))
    base, new = trees
    print(
        "| story tokens | questions | base F1 | new F1 | base observe s (median) | new observe s "
        "(median) | new/base time |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        b = [r[str(size)] for r in runs[base]]
        n = [r[str(size)] for r in runs[new]]
        bt = statistics.median(x["seconds"] for x in b)
        nt = statistics.median(x["seconds"] for x in n)
        print(
            f"| {size} | {b[0]['n']} | {b[0]['f1']:.3f} | {n[0]['f1']:.3f} | {bt:.2f} | {nt:.2f} "
            f"| x{nt / bt:.2f} |"
        )
    print(f"\nbase = {base}, new = {new}; {args.repeats} runs each, interleaved")


if __name__ == "__main__":
    main()
