"""Layout of the attended context, the page-score bound, and the architecture check."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.extras import needs

needs("torch", "transformers", extra="llm")

import torch  # noqa: E402

from lcmem.errors import ConfigError  # noqa: E402
from lcmem.kv.attention import Layout, check_supported, page_scores  # noqa: E402


def test_layout_partitions_tokens_without_overlap() -> None:
    layout = Layout(page_size=4, sinks=8, window=10, top_k=2)
    n = 50
    cands = layout.candidates(n)
    ranges = layout.ranges(n, list(cands))  # every candidate: the whole prefix, in order
    covered = [t for b, e in ranges for t in range(b, e)]
    assert covered == list(range(n))
    picked = layout.ranges(n, [cands[1], cands[0]])
    assert picked[1:3] == [(cands[0] * 4, cands[0] * 4 + 4), (cands[1] * 4, cands[1] * 4 + 4)]
    assert picked[-1][1] == n and n - picked[-1][0] >= 10


def test_layout_short_prefix_is_sinks_and_window_only() -> None:
    layout = Layout(page_size=4, sinks=8, window=16, top_k=2)
    assert list(layout.candidates(5)) == []
    assert layout.ranges(5, []) == [(0, 5)]
    assert layout.ranges(20, []) == [(0, 8), (8, 20)]


def test_unbounded_window_attends_everything() -> None:
    layout = Layout(page_size=4, sinks=4, window=None, top_k=None)
    assert layout.ranges(30, []) == [(0, 4), (4, 30)]
    assert layout.max_context(8) is None


def test_page_scores_bound_the_best_logit() -> None:
    torch.manual_seed(0)
    keys = torch.randn(2, 5, 3, 8)  # kv heads, pages, tokens per page, dim
    query = torch.randn(4, 6, 8)  # 2 query heads per kv head, 6 tokens
    bound = page_scores(query, keys.amin(2), keys.amax(2), groups=2)
    q = query.reshape(2, 12, 8)
    actual = torch.einsum("htd,hpkd->htpk", q, keys).amax(dim=(1, 3))
    assert bound.shape == (2, 5)
    assert torch.all(bound >= actual - 1e-5)


def test_unsupported_architecture_names_the_supported_ones() -> None:
    gpt2 = SimpleNamespace(config=SimpleNamespace(model_type="gpt2"), model=None)
    with pytest.raises(ConfigError, match="llama, mistral"):
        check_supported(gpt2)
