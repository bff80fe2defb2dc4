"""Exact search over >= 200 MB of real text: lcmem's exact index vs ripgrep and ``grep -rF``.

Corpus: ``exact_corpus.py`` (stdlib sources, Debian docs, man pages; files on disk, read by all
three tools). Patterns: 1-10 word phrases cut from the corpus (``make_patterns``), dev = seed 0,
test = seed 1. For each pattern, in turn (lcmem, rg, grep, then the locate variants):

- count: ``ExactIndex.count`` (in-process, index memory-mapped) vs ``rg -F --count-matches``
  and ``grep -rFc`` (separate processes over the folder, files in the page cache);
- locate: ``ExactIndex.locate`` + ``to_chars`` (character offsets, lines, snippets) of the first
  100 matches, and of all matches, vs ``rg -F -n`` and ``grep -rFn`` (every matching line).

Also: build time of the whole index (the code path a library's segments use), index size as a
ratio to the text, incremental cost (an index of 99% of the files, then the other 1% added as one
segment: open + add + save, vs the full build), and correctness (lcmem's count equals a
brute-force overlapping ``str.find`` count on every pattern; rg's non-overlapping count is shown
for reference).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_exact.py --patterns 60``
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import time
from pathlib import Path

try:
    from benchmarks.exact_corpus import corpus_files, make_patterns
except ImportError:  # run as a script
    from exact_corpus import corpus_files, make_patterns  # type: ignore[no-redef]

from lcmem.indexers.exact import ExactDoc, ExactIndex, to_chars


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def brute(texts: list[str], pattern: str) -> int:
    total = 0
    for t in texts:
        i = t.find(pattern)
        while i != -1:
            total += 1
            i = t.find(pattern, i + 1)
    return total


def timed(fn, *args):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


CPU: dict[str, list[float]] = {}


def run(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout


def cpu_timed(key: str, fn, *args):  # type: ignore[no-untyped-def]
    """Run ``fn`` and record the CPU seconds it and its child processes used under ``key``:
    on a loaded machine a process's wall time is mostly waiting for a core."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    c0 = time.process_time()
    out = fn(*args)
    own = time.process_time() - c0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    kids = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    CPU.setdefault(key, []).append(own + kids)
    return out


def build(folder: Path, docs: list[ExactDoc]) -> tuple[ExactIndex, float]:
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    index = ExactIndex(folder)
    index.add(docs)
    index.save()
    return index, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/bench-data/exact/corpus"))
    ap.add_argument("--work", type=Path, default=Path("/work/bench-data/exact"))
    ap.add_argument("--patterns", type=int, default=60, help="per split")
    ap.add_argument("--splits", default="dev,test")
    ap.add_argument(
        "--reuse", action="store_true", help="query the index a previous run built (no builds)"
    )
    ap.add_argument("--no-locate-all", action="store_true", help="skip 'locate all' timings")
    args = ap.parse_args()

    files = corpus_files(args.corpus)
    texts = [p.read_text(encoding="utf-8") for p in files]
    docs = [ExactDoc(i, str(p), "", t) for i, (p, t) in enumerate(zip(files, texts, strict=True))]
    text_bytes = sum(p.stat().st_size for p in files)
    print(f"corpus: {len(files)} files, {text_bytes / 1e6:.1f} MB of UTF-8")

    if not args.reuse:
        build_report(args, docs, text_bytes)
    index = ExactIndex(args.work / "index")  # reopened: memory-mapped, as a library opens it
    folder = str(args.corpus)
    query_report(args, texts, index, folder)


def build_report(args: argparse.Namespace, docs: list[ExactDoc], text_bytes: int) -> None:
    """Full build time, size ratio and the cost of adding 1% of the files as a segment."""
    rng = random.Random(42)
    held = set(rng.sample(range(len(docs)), max(1, len(docs) // 100)))
    base = [d for d in docs if d.id not in held]
    extra = [d for d in docs if d.id in held]
    _, t_base = build(args.work / "index-99", base)
    t0 = time.perf_counter()
    inc = ExactIndex(args.work / "index-99")
    inc.add(extra)
    inc.save()
    t_inc = time.perf_counter() - t0
    extra_mb = sum(len(d.text.encode()) for d in extra) / 1e6
    shutil.rmtree(args.work / "index-99", ignore_errors=True)
    _, t_full = build(args.work / "index", docs)
    size = du(args.work / "index")
    print(
        f"full build: {t_full:.1f} s ({text_bytes / 1e6 / t_full:.1f} MB/s); "
        f"99% build {t_base:.1f} s"
    )
    print(
        f"index size: {size / 1e6:.1f} MB = {size / text_bytes:.2f}x the text "
        f"(suffix array 4.00x + text copy 1.00x)"
    )
    print(
        f"incremental: +{len(extra)} files ({extra_mb:.2f} MB, 1%) in {t_inc:.2f} s = "
        f"{100 * t_inc / t_full:.2f}% of the full build"
    )


def query_report(
    args: argparse.Namespace, texts: list[str], index: ExactIndex, folder: str
) -> None:
    """Count and locate latency against rg and grep, pattern by pattern, and correctness."""
    rows = []
    by_words: list[tuple[str, list[int], dict[str, list[float]]]] = []
    for split in args.splits.split(","):
        pats = make_patterns(texts, args.patterns, seed=0 if split == "dev" else 1)
        lat: dict[str, list[float]] = {
            k: [] for k in ("lc", "rg", "grep", "lc_loc100", "lc_locall", "rg_n", "grep_n")
        }
        wrong = rg_equal = 0
        for pat in pats:
            n, t = timed(cpu_timed, f"{split}:lc", index.count, pat)
            lat["lc"].append(t)
            rg_cmd = ["rg", "-F", "--count-matches", "--no-messages", "--", pat, folder]
            out, t = timed(cpu_timed, f"{split}:rg", run, rg_cmd)
            lat["rg"].append(t)
            rg_n = sum(int(line.rsplit(":", 1)[1]) for line in out.splitlines() if ":" in line)
            _, t = timed(cpu_timed, f"{split}:grep", run, ["grep", "-rFc", "--", pat, folder])
            lat["grep"].append(t)
            _, t = timed(lambda p: to_chars(index, index.locate(p, limit=100)), pat)
            lat["lc_loc100"].append(t)
            if not args.no_locate_all:
                _, t = timed(lambda p: to_chars(index, index.locate(p)), pat)
                lat["lc_locall"].append(t)
            _, t = timed(run, ["rg", "-F", "-n", "--no-messages", "--", pat, folder])
            lat["rg_n"].append(t)
            _, t = timed(run, ["grep", "-rFn", "--", pat, folder])
            lat["grep_n"].append(t)
            wrong += n != brute(texts, pat)
            rg_equal += n == rg_n
        rows.append((split, len(pats), lat, wrong, rg_equal))
        by_words.append((split, [len(p.split()) for p in pats], lat))

    print()
    print(
        "| split | patterns | what | lcmem p50 ms | lcmem p95 ms | rg p50 ms | rg p95 ms "
        "| grep -rF p50 ms | grep -rF p95 ms | rg / lcmem (p50) | grep / lcmem (p50) |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for split, n, lat, _, _ in rows:
        med = {k: statistics.median(v) * 1e3 for k, v in lat.items() if v}
        for what, lc, rg, gr in (
            ("count", "lc", "rg", "grep"),
            ("locate first 100", "lc_loc100", "rg_n", "grep_n"),
            ("locate all", "lc_locall", "rg_n", "grep_n"),
        ):
            if lc not in med:
                continue
            print(
                f"| {split} | {n} | {what} | {med[lc]:.3f} | {pct(lat[lc], 0.95) * 1e3:.3f} | "
                f"{med[rg]:.1f} | {pct(lat[rg], 0.95) * 1e3:.1f} | {med[gr]:.1f} | "
                f"{pct(lat[gr], 0.95) * 1e3:.1f} | {med[rg] / med[lc]:.0f}x | "
                f"{med[gr] / med[lc]:.0f}x |"
            )
    print()
    print("CPU time of count (process + children, user + sys; rg may use 2 threads):")
    print("| split | lcmem p50 ms | rg p50 ms | grep p50 ms | rg / lcmem | grep / lcmem |")
    print("|---|---:|---:|---:|---:|---:|")
    for split, *_ in rows:
        c = {k: statistics.median(CPU[f"{split}:{k}"]) * 1e3 for k in ("lc", "rg", "grep")}
        print(
            f"| {split} | {c['lc']:.3f} | {c['rg']:.1f} | {c['grep']:.1f} | "
            f"{c['rg'] / c['lc']:.0f}x | {c['grep'] / c['lc']:.0f}x |"
        )
    print()
    print("count by pattern length (words):")
    print(
        "| split | words | patterns | lcmem p50 ms | lcmem p95 ms | rg p50 ms | rg / lcmem (p50) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for split, words, lat in by_words:
        for lo, hi in ((1, 3), (4, 6), (7, 10)):
            sel = [i for i, w in enumerate(words) if lo <= w <= hi]
            if not sel:
                continue
            lc = [lat["lc"][i] for i in sel]
            rg = [lat["rg"][i] for i in sel]
            print(
                f"| {split} | {lo}-{hi} | {len(sel)} | {statistics.median(lc) * 1e3:.3f} | "
                f"{pct(lc, 0.95) * 1e3:.3f} | {statistics.median(rg) * 1e3:.1f} | "
                f"{statistics.median(rg) / statistics.median(lc):.0f}x |"
            )
    print()
    for split, n, lat, wrong, rg_equal in rows:
        print(
            f"{split}: lcmem count != brute-force overlapping count on {wrong}/{n} patterns; "
            f"equal to rg's non-overlapping count on {rg_equal}/{n}; rg p95 "
            f"{pct(lat['rg'], 0.95) * 1e3:.1f} ms, grep p95 {pct(lat['grep'], 0.95) * 1e3:.1f} ms"
        )


if __name__ == "__main__":
    main()
