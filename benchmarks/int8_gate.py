"""Issue 15's int8 quality gate: fp32 against int8 on the two retrieval benchmarks.

Reads the ``--summary`` JSON files that ``bench_quality.py`` (nDCG@10) and
``bench_code_retrieval.py`` (MRR@10, a hit overlapping the function) wrote for each precision
and prints one markdown table (benchmark, split, mode, fp32, int8, delta), the index throughput
of both precisions, and the verdict: int8 passes when no dense or hybrid score of the whole
query set drops by more than ``--max-drop`` (0.005). Dev and test rows are printed too (the
split is frozen, nothing is tuned); bm25 does not use the embedder and is the control (its
delta must be 0).

Run (after the four benchmark runs, see ``benchmarks/results/int8_gate.md``)::

    .venv/bin/python benchmarks/int8_gate.py --quality Q_FP32.json Q_INT8.json \\
        --code C_FP32.json C_INT8.json

Example:
    >>> passes({"fp32": 0.800, "int8": 0.796}, 0.005), passes({"fp32": 0.8, "int8": 0.79}, 0.005)
    (True, False)
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

GATED_MODES = ("dense", "hybrid")
BOOT_LEVEL = 0.95
SUBSETS = ("all", "dev", "test")


def passes(pair: dict[str, float], max_drop: float) -> bool:
    """Whether int8 scores at most ``max_drop`` below fp32 (rounding noise of 1e-9 allowed)."""
    return pair["fp32"] - pair["int8"] <= max_drop + 1e-9


def ndcg_gain(rank: int | None, cutoff: int = 10) -> float:
    """One query's nDCG@cutoff with one relevant document (ideal DCG 1).

    Example:
        >>> ndcg_gain(1), ndcg_gain(3), ndcg_gain(None), ndcg_gain(11)
        (1.0, 0.5, 0.0, 0.0)
    """
    return 1 / math.log2(rank + 1) if rank is not None and rank <= cutoff else 0.0


def reciprocal_rank(rank: int | None, cutoff: int = 10) -> float:
    """One query's reciprocal rank at ``cutoff`` (0 when not found)."""
    return 1 / rank if rank is not None and rank <= cutoff else 0.0


def paired_interval(
    a: list[float], b: list[float], n: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """:data:`BOOT_LEVEL` interval of ``mean(b) - mean(a)`` by resampling queries (paired).

    Example:
        >>> lo, hi = paired_interval([0.0, 1.0] * 50, [0.0, 1.0] * 50)
        >>> (lo, hi) == (0.0, 0.0)
        True
    """
    import numpy as np

    diff = np.asarray(b) - np.asarray(a)
    idx = np.random.default_rng(seed).integers(0, len(diff), size=(n, len(diff)))
    means = diff[idx].mean(axis=1)
    tail = (1 - BOOT_LEVEL) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def rank_changes(fp32: list[int | None], int8: list[int | None]) -> tuple[int, int, int]:
    """(queries where int8 ranks the relevant document higher, lower, the same); None = not
    found.

    Example:
        >>> rank_changes([1, 2, None, 3], [1, 1, 4, None])
        (2, 1, 1)
    """
    key = [[1 / r if r else 0.0 for r in ranks] for ranks in (fp32, int8)]
    pairs = list(zip(*key, strict=True))
    return (
        sum(b > a for a, b in pairs),
        sum(b < a for a, b in pairs),
        sum(a == b for a, b in pairs),
    )


def _load(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Summaries by precision; several files of one precision (code runs of different
    chunkers) are merged, their ``results`` and ``index`` by chunker."""
    out: dict[str, dict[str, Any]] = {}
    for p in paths:
        data = json.loads(p.read_text())
        have = out.get(data["precision"])
        if have is None:
            out[data["precision"]] = data
        elif data["benchmark"] == "bench_code_retrieval":
            have["results"].update(data["results"])
            have["index"].update(data["index"])
            have.setdefault("ranks", {}).update(data.get("ranks", {}))
        else:
            raise SystemExit(f"two {data['precision']} summaries of {data['benchmark']}")
    if set(out) != {"fp32", "int8"}:
        raise SystemExit(f"need one fp32 and one int8 summary, got {sorted(out)} from {paths}")
    return out


def rows_quality(runs: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, dict]]:
    """``(benchmark, split, mode, {precision: nDCG@10, "queries": n})`` rows."""
    fp32 = runs["fp32"]
    name = f"man pages ({fp32['pages']} pages, nDCG@10)"
    rows = []
    for mode, subsets in fp32["results"].items():
        for subset in SUBSETS:
            if subset in subsets:
                pair = {p: runs[p]["results"][mode][subset]["ndcg"] for p in runs}
                rows.append((name, subset, mode, {**pair, "queries": subsets[subset]["queries"]}))
    return rows


def rows_code(runs: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, dict]]:
    """``(benchmark, split, mode, {precision: MRR@10, "queries": n})`` rows, one block per
    chunker present in both runs."""
    rows = []
    for chunker, modes in runs["fp32"]["results"].items():
        if chunker not in runs["int8"]["results"]:
            continue
        name = f"code, {chunker} (MRR@10)"
        for mode, subsets in modes.items():
            for subset in SUBSETS:
                pair = {p: runs[p]["results"][chunker][mode][subset]["mrr"] for p in runs}
                rows.append((name, subset, mode, {**pair, "queries": subsets[subset]["queries"]}))
    return rows


def throughput(name: str, runs: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown rows: chunks embedded, wall and CPU seconds, chunks/s, int8 / fp32."""

    def stats(run: dict[str, Any]) -> list[dict[str, float]]:
        idx = run["index"]
        return [idx] if "cpu_s" in idx else list(idx.values())

    out, rate = [], {}
    for p in ("fp32", "int8"):
        parts = stats(runs[p])
        n = sum(s["embedded"] for s in parts)
        wall, cpu = sum(s["wall_s"] for s in parts), sum(s["cpu_s"] for s in parts)
        rate[p] = (n / wall if wall else 0.0, n / cpu if cpu else 0.0)
        out.append(
            f"| {name} | {p} | {n} | {wall:.1f} | {cpu:.1f} | {rate[p][0]:.1f} | {rate[p][1]:.1f} |"
        )
    if rate["fp32"][1]:
        out.append(
            f"| {name} | int8 / fp32 | | | | {rate['int8'][0] / rate['fp32'][0]:.2f}x "
            f"| {rate['int8'][1] / rate['fp32'][1]:.2f}x |"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quality", type=Path, nargs=2, metavar="JSON", help="bench_quality runs")
    ap.add_argument(
        "--code", type=Path, nargs="+", metavar="JSON", help="bench_code_retrieval runs"
    )
    ap.add_argument(
        "--quality-ranks",
        type=Path,
        nargs=2,
        metavar="JSON",
        help="bench_quality's per_query.json of fp32 and int8: queries whose rank changed",
    )
    ap.add_argument("--max-drop", type=float, default=0.005, help="largest allowed drop")
    args = ap.parse_args()
    groups = []
    if args.quality:
        groups.append(("man pages", _load(args.quality), rows_quality))
    if args.code:
        groups.append(("code", _load(args.code), rows_code))
    print("| benchmark | split | mode | queries | fp32 | int8 | delta | gate |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    failed, checked = [], 0
    for _, runs, make in groups:
        for bench, subset, mode, pair in make(runs):
            delta = pair["int8"] - pair["fp32"]
            gated = mode in GATED_MODES and subset == "all"
            ok = passes(pair, args.max_drop)
            mark = ("pass" if ok else "**FAIL**") if gated else ("" if ok else "(drop)")
            if mode == "bm25":
                mark = "control" if abs(delta) < 1e-12 else "**control moved**"
            checked += gated
            if gated and not ok:
                failed.append(f"{bench} {mode}")
            print(
                f"| {bench} | {subset} | {mode} | {pair['queries']} | {pair['fp32']:.4f} "
                f"| {pair['int8']:.4f} | {delta:+.4f} | {mark} |"
            )
    print()
    print(
        "| benchmark | precision | chunks embedded | wall s | CPU s | chunks/s wall "
        "| chunks/s CPU |"
    )

    print("|---|---|---:|---:|---:|---:|---:|")
    for name, runs, _ in groups:
        for line in throughput(name, runs):
            print(line)
    print()
    pairs: list[tuple[str, str, list, list, Callable[[int], float]]] = []
    if args.quality_ranks:
        fp32, int8 = (json.loads(p.read_text()) for p in args.quality_ranks)
        if fp32["queries"] != int8["queries"]:
            raise SystemExit("the two per_query.json files hold different queries")
        for mode in fp32["results"]:
            r32, r8 = fp32["results"][mode]["ranks"], int8["results"][mode]["ranks"]
            pairs.append(("man pages (nDCG@10)", mode, r32, r8, ndcg_gain))
    if args.code:
        code = _load(args.code)
        both = [c for c in code["fp32"].get("ranks", {}) if c in code["int8"].get("ranks", {})]
        if both and code["fp32"]["query_ids"] != code["int8"]["query_ids"]:
            raise SystemExit("the two code summaries hold different queries")
        for chunker in both:
            for mode, r32 in code["fp32"]["ranks"][chunker].items():
                r8 = code["int8"]["ranks"][chunker][mode]
                nones = [r or None for r in r32], [r or None for r in r8]
                pairs.append((f"code, {chunker} (MRR@10)", mode, *nones, reciprocal_rank))
    if pairs:
        print(
            "| benchmark, query by query | mode | int8 better | int8 worse | same | delta "
            f"| {BOOT_LEVEL:.0%} interval (paired bootstrap) |"
        )
        print("|---|---|---:|---:|---:|---:|---|")
        for name, mode, r32, r8, gain in pairs:
            won, lost, same = rank_changes(r32, r8)
            a, b = [gain(r) for r in r32], [gain(r) for r in r8]
            lo, hi = paired_interval(a, b)
            delta = (sum(b) - sum(a)) / len(a)
            print(
                f"| {name} | {mode} | {won} | {lost} | {same} | {delta:+.4f} "
                f"| [{lo:+.4f}, {hi:+.4f}] |"
            )
        print()
    verdict = "PASSES" if not failed else "FAILS (" + "; ".join(failed) + ")"
    print(
        f"verdict: int8 {verdict} the gate (max drop {args.max_drop} in dense and hybrid, "
        f"whole query set; {checked} gated rows)"
    )


if __name__ == "__main__":
    main()
