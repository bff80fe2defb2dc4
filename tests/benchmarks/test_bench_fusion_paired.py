"""``bench_fusion.py``'s paired comparison: per-query gains, the sign test, the counts."""

from __future__ import annotations

import pytest

from benchmarks.bench_fusion import Case, gain, paired, sign_test


def test_gain_is_hit_at_1_or_reciprocal_rank_at_10():
    assert [gain("conf", r) for r in (1, 2, None)] == [1.0, 0.0, 0.0]
    assert [gain("man", r) for r in (1, 4, 10, 11, None)] == [1.0, 0.25, 0.1, 0.0, 0.0]


def test_sign_test_two_sided():
    assert sign_test(0, 0) == 1.0
    assert sign_test(1, 0) == 1.0  # one query says nothing
    assert sign_test(3, 3) == 1.0
    assert sign_test(0, 6) == pytest.approx(2 / 64)
    assert sign_test(8, 2) == sign_test(2, 8) == pytest.approx(2 * 56 / 1024)


def _case(task: str, split: str, dense: list[int], bm25: list[int]) -> Case:
    def rank_of(ids: list[int]) -> int | None:
        return ids.index(7) + 1 if 7 in ids else None

    as_list = lambda ids: [(i, 1.0 - k / 10) for k, i in enumerate(ids)]  # noqa: E731
    return Case(
        task,
        split,
        "q",
        as_list(dense),
        as_list(bm25),
        rank_of,
        {},
        {},
        1.0,
        {},
        {},
        {},
        {},
        {},
        1,
        1,
    )


def test_paired_counts_queries_against_the_better_half():
    cases = [  # conf test: dense finds 7 first three times, bm25 once
        _case("conf", "test", [7, 1], [1, 7]),
        _case("conf", "test", [7, 1], [1, 7]),
        _case("conf", "test", [7, 1], [7, 1]),
        _case("conf", "test", [1, 7], [7, 1]),
    ]
    # "system" bm25 against the better half (dense): better on 1 query, worse on 2, same on 1
    [row] = paired(cases, "bm25", 200, ["conf"])  # type: ignore[arg-type]
    assert row[:8] == ("conf", "test", 4, "dense", -0.25, 1, 2, 1)
    assert row[8] == pytest.approx(1.0)
