"""The cache layer: what one forward pass attends to, per layer, given a page store.

:class:`PrefillRun` reads one block of a document: it retrieves the top-k pages for the block
(scored with the block's mean query), attends to sinks + pages + local window + the block
itself, then writes the block's keys and values into the store. :class:`AskRun` answers a
question: the question block scores pages with each of its queries (by default the attention
mass every question token puts on each page, see :func:`mass_scores`), and the chosen context
(gathered and rotated once per layer) serves the question and every generated token, whose own
keys and values are kept in a small tail that never touches the document's store.

Example:
    >>> import torch
    >>> q = torch.zeros(2, 3, 4); kv = torch.zeros(1, 5, 4)
    >>> attend_block(q, kv, kv, torch.zeros(1, 3, 4), torch.zeros(1, 3, 4), 0.5).shape
    torch.Size([1, 3, 2, 4])
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from lcmem.kv.attention import Layout, Rotary, page_scores
from lcmem.kv.pages import PageStore, Ranges


def attend_block(
    query: Any, ctx_keys: Any, ctx_values: Any, keys: Any, values: Any, scaling: float
) -> Any:
    """SDPA of a block over ``context + block`` (causal inside the block).

    Args:
        query: rotated queries ``[q_heads, T, d]`` of the block.
        ctx_keys: rotated keys ``[kv_heads, C, d]`` before the block.
        ctx_values: values ``[kv_heads, C, d]`` before the block.
        keys: rotated keys ``[kv_heads, T, d]`` of the block.
        values: values ``[kv_heads, T, d]`` of the block.
        scaling: softmax scale.

    Returns:
        ``[1, T, q_heads, d]``, the layout transformers expects back.
    """
    import torch
    import torch.nn.functional as F

    k = torch.cat((ctx_keys, keys), dim=1)
    v = torch.cat((ctx_values, values), dim=1)
    t, c = query.shape[1], ctx_keys.shape[1]
    mask = None
    if t > 1:  # bottom-right causal: the whole context, then the block's past
        mask = torch.ones(t, c + t, dtype=torch.bool, device=query.device)
        mask[:, c:] = torch.ones(t, t, dtype=torch.bool, device=query.device).tril()
    out = F.scaled_dot_product_attention(
        query[None], k[None], v[None], attn_mask=mask, scale=scaling, enable_gqa=True
    )
    return out.transpose(1, 2)


def choose_pages(
    layout: Layout,
    store: PageStore,
    layer: int,
    n: int,
    query: Any,
    groups: int,
    top_k: int | None,
    scored: bool = False,
    exact: bool = False,
    rotary: Rotary | None = None,
) -> tuple[list[list[int]], Any]:
    """Pages each KV head retrieves when ``n`` tokens precede a block with ``query``.

    Pages are scored with Quest's bound from the page representatives, or, if ``exact``,
    with :func:`mass_scores`. Returns the pages per KV head and, when computed (always if
    ``scored``), the candidates' scores ``[kv_heads, candidates]`` (``None`` otherwise).
    """
    import torch

    cands = layout.candidates(n)
    heads = store.shape.heads
    take_all = top_k is None or len(cands) <= top_k
    if not len(cands) or top_k == 0 or (take_all and not scored):
        return ([[] for _ in range(heads)] if top_k == 0 else [list(cands)] * heads), None
    if exact:
        scores = mass_scores(store, layout, layer, n, query, groups, rotary)
    else:
        sl = slice(cands.start, cands.stop)
        kmin = torch.from_numpy(store.kmin[layer, :, sl])
        kmax = torch.from_numpy(store.kmax[layer, :, sl])
        scores = page_scores(query.float(), kmin, kmax, groups)
    if take_all or top_k is None:
        return [list(cands)] * heads, scores
    best = scores.topk(int(top_k), dim=1).indices + cands.start
    return [sorted(row) for row in best.tolist()], scores


def mass_scores(
    store: PageStore,
    layout: Layout,
    layer: int,
    n: int,
    query: Any,
    groups: int,
    rotary: Rotary | None = None,
    distance: int = 1024,
) -> Any:
    """Attention mass each candidate page gets from ``query``, per KV head (SnapKV-style vote).

    Every query token's softmax over the candidate tokens is summed per page, then over the
    query tokens and the query heads of each KV head. With ``rotary``, queries are rotated
    ``distance`` positions ahead of the (un-rotated) keys, so every candidate is scored as if
    it lay that far back, as it would in the laid-out context; without it the dot products
    are position-free, which over-rewards keys that merely resemble the query token. Reads this
    layer's candidate keys (one contiguous range per head), so it costs O(document) per
    question, which is what lets a name in the question find the one page that holds it.

    Returns:
        ``[kv_heads, candidates]``.
    """
    import torch

    cands = layout.candidates(n)
    p = layout.page_size
    start, end = cands.start * p, cands.stop * p
    heads = store.shape.heads
    if rotary is not None:
        query = rotary.apply(query, distance)
    q = query.float().reshape(heads, -1, query.shape[-1])  # [kv_heads, groups * T, d]
    out = torch.empty(heads, len(cands))
    for h in range(heads):
        keys, _ = store._read(layer, h, start, end)
        logits = q[h] @ torch.from_numpy(np.array(keys, np.float32)).T  # [G*T, tokens]
        mass = torch.softmax(logits, dim=-1).reshape(q.shape[1], len(cands), p).sum(-1)
        out[h] = mass.sum(0)
    return out


def _gather(store: PageStore, layout: Layout, layer: int, n: int, pages: list[list[int]]) -> Any:
    import torch

    ranges: list[Ranges] = [layout.ranges(n, p) for p in pages]
    k, v = store.gather(layer, ranges)
    return torch.from_numpy(k), torch.from_numpy(v)


class PrefillRun:
    """Reads tokens ``start..start+T`` of a document into ``store`` (one forward pass)."""

    def __init__(
        self, store: PageStore, layout: Layout, rotary: Rotary, start: int, groups: int
    ) -> None:
        self.store, self.layout, self.rotary = store, layout, rotary
        self.start, self.groups = start, groups

    def attend(self, layer: int, query: Any, key: Any, value: Any, scaling: float) -> Any:
        q = self.rotary.unrotate_input(query[0])
        k = self.rotary.unrotate_input(key[0])
        v = value[0]
        n = self.start
        pages, _ = choose_pages(
            self.layout,
            self.store,
            layer,
            n,
            q.mean(dim=1, keepdim=True),
            self.groups,
            self.layout.top_k,
        )
        kc, vc = _gather(self.store, self.layout, layer, n, pages)
        kc = kc.to(q.dtype)
        c = kc.shape[1]
        rot = self.rotary
        out = attend_block(
            rot.apply(q, c), rot.apply(kc, 0), vc.to(v.dtype), rot.apply(k, c), v, scaling
        )
        self.store.write(layer, n, k.float().numpy(), v.float().numpy())
        return out


class AskRun:
    """Answers after the ``n`` stored tokens: the question block, then one token at a time."""

    def __init__(
        self,
        store: PageStore,
        layout: Layout,
        rotary: Rotary,
        n: int,
        groups: int,
        top_k: int | None,
        exact: bool = True,
    ) -> None:
        self.store, self.layout, self.rotary = store, layout, rotary
        self.n, self.groups, self.top_k, self.exact = n, groups, top_k, exact
        self._ctx: dict[int, tuple[Any, Any]] = {}
        self._tail: dict[int, tuple[Any, Any]] = {}
        self.votes: Counter[int] = Counter()
        """How many (layer, KV head) pairs retrieved each page."""
        self.weight: dict[int, float] = {}
        """Sum over (layer, KV head) of each retrieved page's standardized score."""
        self.context_tokens = 0

    def attend(self, layer: int, query: Any, key: Any, value: Any, scaling: float) -> Any:
        import torch

        q = self.rotary.unrotate_input(query[0])
        k = self.rotary.unrotate_input(key[0])
        v = value[0]
        if layer not in self._ctx:
            pages, scores = choose_pages(
                self.layout,
                self.store,
                layer,
                self.n,
                q,
                self.groups,
                self.top_k,
                scored=True,
                exact=self.exact,
                rotary=self.rotary,
            )
            self._weigh(pages, scores)
            kc, vc = _gather(self.store, self.layout, layer, self.n, pages)
            self._ctx[layer] = (self.rotary.apply(kc.to(q.dtype), 0), vc.to(v.dtype))
            self.context_tokens = int(kc.shape[1])
            empty = kc.new_zeros((kc.shape[0], 0, kc.shape[2])).to(q.dtype)
            self._tail[layer] = (empty, empty.clone())
        ctx_k, ctx_v = self._ctx[layer]
        tail_k, tail_v = self._tail[layer]
        at = ctx_k.shape[1] + tail_k.shape[1]
        kr = self.rotary.apply(k, at)
        out = attend_block(
            self.rotary.apply(q, at),
            torch.cat((ctx_k, tail_k), dim=1),
            torch.cat((ctx_v, tail_v), dim=1),
            kr,
            v,
            scaling,
        )
        self._tail[layer] = (torch.cat((tail_k, kr), dim=1), torch.cat((tail_v, v), dim=1))
        return out

    def _weigh(self, pages: list[list[int]], scores: Any) -> None:
        first = self.layout.candidates(self.n).start
        for h, row in enumerate(pages):
            self.votes.update(row)
            if scores is None or not row:
                continue
            z = scores[h]
            z = ((z - z.mean()) / (z.std() + 1e-6)) if z.numel() > 1 else z * 0
            for page in row:
                self.weight[page] = self.weight.get(page, 0.0) + float(z[page - first])

    def retrieved(self) -> list[tuple[int, int]]:
        """``(page, votes)`` of every retrieved page, most voted then best scored first."""
        return sorted(
            self.votes.items(), key=lambda pv: (-pv[1], -self.weight.get(pv[0], 0.0), pv[0])
        )


__all__ = ["AskRun", "PrefillRun", "attend_block", "choose_pages"]
