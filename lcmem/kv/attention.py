"""The attention function lcmem registers with transformers, and the context layout it attends.

How it hooks in, with no fork of the model code: the reader runs the model with every
``position_ids`` set to 0, so the model's own rotary embedding is the identity and the
registered function :func:`kv_attention` receives *un-rotated* queries and keys. It looks up
the active :class:`Run` (a context variable) and hands it ``module.layer_idx``; the run gathers
this layer's context from the page store — sinks, retrieved pages in document order, local
window — places it at contiguous positions ``0..C-1`` and the new tokens right after, applies
the rotary embedding itself and calls SDPA with an explicit mask. Every relative distance is
therefore below the laid-out length, whatever the document length.

No mask function is registered for the name on purpose: transformers then passes
``attention_mask=None``, and the run builds the mask of its own layout.

Example:
    >>> layout = Layout(page_size=4, sinks=4, window=8, top_k=1)
    >>> layout.window_start(30)            # page-aligned start of the local window
    20
    >>> layout.candidates(30)              # pages between the sinks and the window
    range(1, 5)
    >>> layout.ranges(30, [3])             # sinks, page 3, window
    [(0, 4), (12, 16), (20, 30)]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from lcmem.errors import ConfigError

ATTN_NAME = "lcmem_kv"
"""Name under which :func:`kv_attention` is registered in transformers' AttentionInterface."""

SUPPORTED = ("llama", "mistral", "qwen2", "qwen3", "gemma")
"""``config.model_type`` values whose attention calls the standard interface after RoPE."""


@dataclass(frozen=True)
class Layout:
    """Which past tokens a block attends to.

    Attributes:
        page_size: tokens per page (P).
        sinks: initial tokens always attended (a multiple of P).
        window: recent tokens always attended (rounded down to a page start, so the local
            window holds between ``window`` and ``window + P - 1`` tokens); ``None``: all.
        top_k: pages retrieved from between the sinks and the window; ``None``: all.
    """

    page_size: int = 64
    sinks: int = 128
    window: int | None = 2048
    top_k: int | None = 32

    def window_start(self, n: int) -> int:
        """First token of the local window when ``n`` tokens precede the block."""
        if self.window is None:
            return 0
        p = self.page_size
        return max(0, (n - self.window) // p * p)

    def candidates(self, n: int) -> range:
        """Pages that may be retrieved when ``n`` tokens precede the block."""
        first = self.sinks // self.page_size
        return range(first, max(first, self.window_start(n) // self.page_size))

    def ranges(self, n: int, pages: list[int]) -> list[tuple[int, int]]:
        """Token ranges of the context: sinks, ``pages`` (sorted), then the local window."""
        p = self.page_size
        out = [(0, min(self.sinks, n))]
        out += [(q * p, q * p + p) for q in sorted(pages)]
        out.append((max(self.window_start(n), self.sinks), n))
        return [(b, e) for b, e in out if e > b]

    def max_context(self, block: int) -> int | None:
        """Longest laid-out context plus block, or ``None`` when unbounded."""
        if self.window is None or self.top_k is None:
            return None
        return self.sinks + self.top_k * self.page_size + self.window + self.page_size + block


class Run(Protocol):
    """What a forward pass under :func:`activate` delegates attention to."""

    def attend(self, layer: int, query: Any, key: Any, value: Any, scaling: float) -> Any:
        """Return the attention output ``[1, T, heads, head_dim]`` of this layer."""
        ...


_ACTIVE: ContextVar[Run | None] = ContextVar("lcmem_kv_run", default=None)


def kv_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Any, None]:
    """The attention function registered as :data:`ATTN_NAME` (transformers' signature)."""
    run = _ACTIVE.get()
    if run is None:
        raise RuntimeError(
            f"attention {ATTN_NAME!r} was called outside lcmem.kv; use lcmem.kv.read() instead"
        )
    scale = module.scaling if scaling is None else scaling
    return run.attend(module.layer_idx, query, key, value, float(scale)), None


def register() -> None:
    """Register :func:`kv_attention` with transformers (idempotent)."""
    from transformers import AttentionInterface

    AttentionInterface.register(ATTN_NAME, kv_attention)


def check_supported(model: Any) -> None:
    """Raise a clear error if ``model`` cannot be hooked.

    Raises:
        ConfigError: not a supported decoder-only architecture.
    """
    config = getattr(model, "config", None)
    kind = getattr(config, "model_type", None)
    base = getattr(model, "model", None)
    rope = getattr(config, "rope_parameters", None) or {}
    rope_type = rope.get("rope_type", "default") if isinstance(rope, dict) else "default"
    if (
        kind not in SUPPORTED
        or base is None
        or not hasattr(base, "rotary_emb")
        or rope_type != "default"
    ):
        raise ConfigError(
            f"KV-page retrieval cannot hook model type {kind!r} (rope {rope_type!r}): it supports "
            f"Hugging Face causal LMs of types {', '.join(SUPPORTED)} with default rotary "
            "embeddings; use the rag, coa or rtr pipeline with this model"
        )


@contextlib.contextmanager
def activate(model: Any, run: Run) -> Iterator[None]:
    """Within the block, ``model``'s attention calls go to ``run``."""
    register()
    config = model.config
    previous = config._attn_implementation
    config._attn_implementation = ATTN_NAME
    token = _ACTIVE.set(run)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
        config._attn_implementation = previous


class Rotary:
    """Applies the model's own rotary embedding at chosen positions (cos/sin cached)."""

    def __init__(self, model: Any) -> None:
        self.module = model.model.rotary_emb
        self.scale = float(getattr(self.module, "attention_scaling", 1.0))
        self._cos: Any = None
        self._sin: Any = None

    def table(self, n: int, like: Any) -> tuple[Any, Any]:
        """cos and sin ``[n, head_dim]`` for positions ``0..n-1``."""
        import torch

        if self._cos is None or self._cos.shape[0] < n:
            size = max(n, 1024)
            pos = torch.arange(size, device=like.device)[None]
            cos, sin = self.module(like, pos)
            self._cos, self._sin = cos[0], sin[0]
        return self._cos[:n].to(like.dtype), self._sin[:n].to(like.dtype)

    def apply(self, x: Any, start: int) -> Any:
        """Rotate ``x`` ``[..., T, head_dim]`` as if at positions ``start..start+T-1``."""
        import torch

        n = x.shape[-2]
        cos, sin = self.table(start + n, x)
        cos, sin = cos[start:], sin[start:]
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin

    def unrotate_input(self, x: Any) -> Any:
        """Undo the model's rotation at position 0 (a pure scale by ``attention_scaling``)."""
        return x if self.scale == 1.0 else x / self.scale


def page_scores(query: Any, kmin: Any, kmax: Any, groups: int) -> Any:
    """Upper bound of each page's best attention logit, per KV head (Quest's bound).

    Args:
        query: un-rotated queries ``[q_heads, T, head_dim]``.
        kmin: page representatives, element-wise minimum keys ``[kv_heads, pages, head_dim]``.
        kmax: page representatives, element-wise maximum keys ``[kv_heads, pages, head_dim]``.
        groups: query heads per KV head.

    Returns:
        ``[kv_heads, pages]``: for each KV head, the max over its query heads and the ``T``
        queries of ``sum_c max(q_c * min_c, q_c * max_c)``.
    """
    import torch

    _, t, d = query.shape
    q = query.reshape(kmin.shape[0], groups * t, d)
    bound = torch.bmm(q.clamp(min=0), kmax.transpose(1, 2)) + torch.bmm(
        q.clamp(max=0), kmin.transpose(1, 2)
    )
    return bound.amax(dim=1)


__all__ = [
    "ATTN_NAME",
    "SUPPORTED",
    "Layout",
    "Rotary",
    "Run",
    "activate",
    "check_supported",
    "kv_attention",
    "page_scores",
    "register",
]
