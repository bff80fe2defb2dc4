"""Which registry library should back the exact index? pydivsufsort vs fm-index.

On the first ``--mb`` MB of the exact-search corpus (see ``exact_corpus.py``), builds:

- ``pydivsufsort`` 0.0.20: libdivsufsort suffix array over the UTF-8 bytes (lcmem's
  ``Segment.write``: text + int32 suffix array as ``.npy``, memory-mapped for queries);
- ``fm-index`` 4.0.0 ``MultiFMIndex`` (Rust FM-index, one string per document), in memory,
  and ``on_disk=True``.

and reports build time, index size (bytes on disk, or the size of its state for fm-index) and
count / locate latency for 1-10 word patterns (dev split, seed 0), queried in turn (A B C A B C)
so the machine's noise hits all alike. Counts are checked equal between libraries.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_exact_libs.py --mb 20 --patterns 200``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

try:
    from benchmarks.exact_corpus import corpus_files, make_patterns
except ImportError:  # run as a script
    from exact_corpus import corpus_files, make_patterns  # type: ignore[no-redef]

from lcmem.indexers.exact import ExactDoc, ExactIndex


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/bench-data/exact/corpus"))
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--patterns", type=int, default=200)
    args = ap.parse_args()
    import fm_index

    texts: list[str] = []
    paths: list[str] = []
    total = 0
    for p in corpus_files(args.corpus):
        t = p.read_text(encoding="utf-8")
        texts.append(t)
        paths.append(str(p))
        total += len(t.encode())
        if total >= args.mb * 1e6:
            break
    print(f"sample: {len(texts)} files, {total / 1e6:.1f} MB")
    tmp = Path(tempfile.mkdtemp(prefix="exact-libs-"))
    try:
        t0 = time.perf_counter()
        sa_index = ExactIndex(tmp / "sa")
        sa_index.add(
            ExactDoc(i, p, "", t) for i, (p, t) in enumerate(zip(paths, texts, strict=True))
        )
        sa_index.save()
        t_sa = time.perf_counter() - t0
        size_sa = du(tmp / "sa")

        t0 = time.perf_counter()
        fm = fm_index.MultiFMIndex(texts)
        t_fm = time.perf_counter() - t0
        size_fm = len(fm.__getstate__())

        t0 = time.perf_counter()
        fm_disk = fm_index.MultiFMIndex(texts, on_disk=True)
        t_fmd = time.perf_counter() - t0

        pats = make_patterns(texts, args.patterns, seed=0)
        lat: dict[str, list[float]] = {k: [] for k in ("sa", "fm", "fmd")}
        loc: dict[str, list[float]] = {k: [] for k in ("sa", "fm")}
        systems = {"sa": sa_index.count, "fm": fm.count_all, "fmd": fm_disk.count_all}
        for pat in pats:
            counts = {}
            for name, fn in systems.items():
                t0 = time.perf_counter()
                counts[name] = fn(pat)
                lat[name].append(time.perf_counter() - t0)
            assert len(set(counts.values())) == 1, (pat, counts)
            t0 = time.perf_counter()
            sa_index.locate(pat)
            loc["sa"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fm.locate(pat)
            loc["fm"].append(time.perf_counter() - t0)
        mb = total / 1e6
        print()
        print("| library | build s | size / text | count p50 ms | count p95 ms | locate p50 ms |")
        print("|---|---:|---:|---:|---:|---:|")
        rows = [
            ("pydivsufsort SA (lcmem segment, mmap)", t_sa, size_sa, "sa", "sa"),
            ("fm-index MultiFMIndex (memory)", t_fm, size_fm, "fm", "fm"),
            ("fm-index MultiFMIndex on_disk", t_fmd, None, "fmd", None),
        ]
        for name, tb, size, key, lkey in rows:
            ratio = f"{size / total:.2f}" if size else "n/a"
            locs = f"{statistics.median(loc[lkey]) * 1e3:.3f}" if lkey else "-"
            print(
                f"| {name} | {tb:.1f} | {ratio} | {statistics.median(lat[key]) * 1e3:.3f} | "
                f"{pct(lat[key], 0.95) * 1e3:.3f} | {locs} |"
            )
        print(f"\n{len(pats)} patterns, counts equal across libraries; text {mb:.1f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
