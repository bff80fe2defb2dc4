"""What a segment costs a query, and what a background merge costs: the basis of the merge
policy's ``max_segments`` (``lcmem/indexers/exact_merge.py``).

On the 220 MB exact-search corpus (``exact_corpus.py``): the same files indexed as 1 segment
and as 8 segments (files dealt round-robin, as 8 index runs would leave them), both reopened
memory-mapped. After one untimed pass over the patterns (so both are warm: the 1-segment index
was built long before and its pages may have left the cache, the 8 just written are in it),
pattern by pattern in turn (1 segment, 8 segments): count latency, and the
time to open the index (reading ``state.json`` and mapping every segment, what each ``lcmem
grep`` process pays). Finally the 8 segments are merged into one by ``merge_step`` (the code the
background merge process runs), timed, and the merged index's counts compared with the
1-segment index on every pattern.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_exact_segments.py --patterns 60``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

try:
    from benchmarks.exact_corpus import corpus_files, make_patterns
except ImportError:  # run as a script
    from exact_corpus import corpus_files, make_patterns  # type: ignore[no-redef]

from lcmem.indexers.exact import ExactDoc, ExactIndex
from lcmem.indexers.exact_merge import MergePolicy, merge_step


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/bench-data/exact/corpus"))
    ap.add_argument("--one", type=Path, default=Path("/work/bench-data/exact/index"))
    ap.add_argument("--work", type=Path, default=Path("/work/bench-data/exact3/segments"))
    ap.add_argument("--segments", type=int, default=8)
    ap.add_argument("--patterns", type=int, default=60, help="per split")
    args = ap.parse_args()

    files = corpus_files(args.corpus)
    texts = [p.read_text(encoding="utf-8") for p in files]
    docs = [ExactDoc(i, str(p), "", t) for i, (p, t) in enumerate(zip(files, texts, strict=True))]
    shutil.rmtree(args.work, ignore_errors=True)
    t0 = time.perf_counter()
    many = ExactIndex(args.work)
    for k in range(args.segments):
        many.add(docs[k :: args.segments])
        many.save()
    t_build = time.perf_counter() - t0
    del docs
    print(f"{args.segments} segments built in {t_build:.1f} s (each saved, as index runs do)")

    print()
    print("| split | patterns | index | count p50 ms | count p95 ms | open p50 ms | open p95 ms |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for split in ("dev", "test"):
        pats = make_patterns(texts, args.patterns, seed=0 if split == "dev" else 1)
        lat: dict[str, list[float]] = {k: [] for k in ("c1", "cn", "o1", "on")}
        one, many = ExactIndex(args.one), ExactIndex(args.work)
        for pat in pats:  # untimed pass: both indices' pages in the cache, as for a used one
            one.count(pat), many.count(pat)
        wrong = 0
        for pat in pats:
            t0 = time.perf_counter()
            n1 = one.count(pat)
            lat["c1"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            nn = many.count(pat)
            lat["cn"].append(time.perf_counter() - t0)
            wrong += n1 != nn
            t0 = time.perf_counter()
            ExactIndex(args.one)
            lat["o1"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ExactIndex(args.work)
            lat["on"].append(time.perf_counter() - t0)
        for label, c, o in (("1 segment", "c1", "o1"), (f"{args.segments} segments", "cn", "on")):
            print(
                f"| {split} | {len(pats)} | {label} | {statistics.median(lat[c]) * 1e3:.3f} | "
                f"{pct(lat[c], 0.95) * 1e3:.3f} | {statistics.median(lat[o]) * 1e3:.2f} | "
                f"{pct(lat[o], 0.95) * 1e3:.2f} |"
            )
        ratio = statistics.median(lat["cn"]) / statistics.median(lat["c1"])
        print(f"<!-- {split}: count p50 {args.segments} / 1 = {ratio:.2f}x; differ {wrong} -->")

    t0 = time.perf_counter()
    merged = merge_step(args.work, policy=MergePolicy(max_segments=1, max_merge_at_once=64))
    t_merge = time.perf_counter() - t0
    after = ExactIndex(args.work)
    one = ExactIndex(args.one)
    pats = make_patterns(texts, args.patterns, seed=0) + make_patterns(texts, args.patterns, 1)
    wrong = sum(after.count(p) != one.count(p) for p in pats)
    print()
    print(
        f"merge of {len(merged or [])} segments ({after.nbytes / 1e6:.1f} MB) into "
        f"{len(after.segments)}: {t_merge:.1f} s; counts differ from the 1-segment index on "
        f"{wrong}/{len(pats)} patterns"
    )


if __name__ == "__main__":
    main()
