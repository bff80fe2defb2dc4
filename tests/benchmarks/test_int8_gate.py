"""The int8 quality gate's pieces: the frozen dev/test split and the fp32/int8 comparison."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.int8_gate import _load, passes, rank_changes
from benchmarks.splits import split_of

REPO = Path(__file__).resolve().parents[2]


def test_split_is_frozen() -> None:
    # Changing these values would silently move queries between dev and test.
    assert [split_of(x) for x in ("ls.1.txt", "grep.1.txt", "tar.1.txt", "a", "b")] == [
        "test",
        "dev",
        "test",
        "dev",
        "test",
    ]


def test_split_is_roughly_even() -> None:
    dev = sum(split_of(f"page{i}.1.txt") == "dev" for i in range(2000))
    assert 900 < dev < 1100


def test_passes_at_the_limit_and_fails_beyond() -> None:
    assert passes({"fp32": 0.800, "int8": 0.795}, 0.005)
    assert passes({"fp32": 0.800, "int8": 0.810}, 0.005)
    assert not passes({"fp32": 0.800, "int8": 0.7949}, 0.005)


def test_rank_changes_counts_not_found_as_worst() -> None:
    assert rank_changes([1, None, 2, 5], [2, 3, 2, None]) == (1, 2, 1)


def _summary(path: Path, precision: str, chunker: str, mrr: float) -> Path:
    cells = {s: {"mrr": mrr, "mrr_defline": mrr, "queries": 10} for s in ("all", "dev", "test")}
    data = {
        "benchmark": "bench_code_retrieval",
        "precision": precision,
        "index": {chunker: {"wall_s": 2.0, "cpu_s": 1.0, "embedded": 40, "chunks_added": 40}},
        "results": {chunker: {m: cells for m in ("bm25", "dense", "hybrid")}},
    }
    path.write_text(json.dumps(data))
    return path


def test_load_merges_chunker_runs(tmp_path: Path) -> None:
    runs = _load(
        [
            _summary(tmp_path / "a32.json", "fp32", "ast", 0.4),
            _summary(tmp_path / "w32.json", "fp32", "whole", 0.6),
            _summary(tmp_path / "a8.json", "int8", "ast", 0.4),
        ]
    )
    assert set(runs["fp32"]["results"]) == {"ast", "whole"}
    assert set(runs["int8"]["results"]) == {"ast"}


def test_table_reports_a_failing_mode(tmp_path: Path) -> None:
    fp32 = _summary(tmp_path / "f.json", "fp32", "ast", 0.40)
    int8 = _summary(tmp_path / "i.json", "int8", "ast", 0.39)
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "int8_gate.py"), "--code", str(fp32), str(int8)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "FAILS" in out
    assert "| code, ast (MRR@10) | all | dense | 10 | 0.4000 | 0.3900 | -0.0100 | **FAIL** |" in out
    # bm25 does not use the embedder: a moved bm25 score is flagged, not gated.
    assert "**control moved**" in out
