"""Page scoring by attention mass: the page holding the queried key wins."""

from __future__ import annotations

import numpy as np

from tests.extras import needs

needs("torch", "transformers", extra="llm")

import torch  # noqa: E402

from lcmem.kv.attention import Layout  # noqa: E402
from lcmem.kv.cache import choose_pages, mass_scores  # noqa: E402
from lcmem.kv.pages import PageStore  # noqa: E402


def test_mass_scores_pick_the_page_with_the_matching_key() -> None:
    rng = np.random.default_rng(0)
    layout = Layout(page_size=4, sinks=4, window=8, top_k=1)
    store = PageStore.create(layers=1, heads=2, tokens=40, head_dim=8, page_size=4)
    keys = rng.standard_normal((2, 40, 8)).astype(np.float32) * 0.1
    target = np.zeros(8, np.float32)
    target[3] = 5.0
    keys[0, 17] = target  # page 4, kv head 0
    keys[1, 26] = target  # page 6, kv head 1
    store.write(0, 0, keys, keys)
    query = torch.zeros(4, 2, 8)  # 2 query heads per kv head, 2 tokens
    query[:, :, 3] = 1.0
    scores = mass_scores(store, layout, 0, 40, query, groups=2)
    cands = layout.candidates(40)
    assert scores.shape == (2, len(cands))
    assert torch.allclose(scores.sum(1), torch.full((2,), 4.0))  # 4 query rows, mass 1 each
    pages, _ = choose_pages(layout, store, 0, 40, query, 2, top_k=1, exact=True)
    assert pages == [[4], [6]]
