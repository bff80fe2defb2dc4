"""Training-free context extension for rotary-position (RoPE) models: NTK-aware scaling and
SelfExtend, plus the attention-logit scaling used with absolute-position strategies.

Everything here works on a loaded Hugging Face model without forking its code:

* :func:`ntk_inv_freq` rescales a rotary module's ``inv_freq`` as if its base had been raised to
  ``base * s ** (d / (d - 2))`` (NTK-aware scaling, ``s = n / native``).
* :func:`selfextend_attention` is an attention function registered with transformers'
  ``AttentionInterface`` under :data:`SELFEXTEND`: tokens closer than ``window`` attend with their
  normal relative positions; farther ones with grouped positions ``floor(p / group)`` shifted so
  the two regimes meet at the window edge (Jin et al., 2024, "LLM Maybe LongLM").
* :data:`SCALED_SDPA` is SDPA with the logits multiplied by ``module.config.lcmem_logit_scale``
  (LongEmbed's ``max(1, log n / log 512)`` for extended absolute-position encoders).

Example:
    >>> import torch
    >>> inv = torch.tensor([1.0, 0.1, 0.01])
    >>> ntk_inv_freq(inv, 1.0).tolist() == inv.tolist()    # no extension, no change
    True
    >>> bool(ntk_inv_freq(inv, 4.0)[-1] < inv[-1])           # low frequencies slow down most
    True
"""

from __future__ import annotations

import math
from typing import Any

SCALED_SDPA = "lcmem_scaled_sdpa"
"""Name of the attention implementation that scales logits by ``config.lcmem_logit_scale``."""
SELFEXTEND = "lcmem_selfextend"
"""Name of the SelfExtend attention implementation (reads ``config.lcmem_selfextend``)."""

_QUERY_BLOCK = 512  # queries per block in SelfExtend, bounding memory to heads x 512 x n logits


def ntk_inv_freq(inv_freq: Any, scale: float) -> Any:
    """NTK-aware rotary frequencies for a context ``scale`` times the native one.

    Equivalent to raising the rotary base to ``base * scale ** (d / (d - 2))`` where ``d`` is the
    rotary dimension (``2 * len(inv_freq)``): the highest frequency is kept, the lowest is
    interpolated by ``scale``.
    """
    import torch

    if scale <= 1.0:
        return inv_freq
    half = inv_freq.shape[-1]
    d = 2 * half
    exponent = torch.arange(half, dtype=torch.float64) * 2 / (d - 2)
    return (inv_freq.double() * scale ** (-exponent)).to(inv_freq.dtype)


def logit_scale(n: int, native: int) -> float:
    """LongEmbed's attention-logit factor ``max(1, log n / log native)``.

    Example:
        >>> logit_scale(512, 512), round(logit_scale(4096, 512), 4)
        (1.0, 1.3333)
    """
    return max(1.0, math.log(n) / math.log(native))


def _rotate_half(x: Any) -> Any:
    import torch

    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rotate(x: Any, delta: Any, inv_freq: Any) -> Any:
    """Rotate RoPE-encoded vectors ``x (..., n, d)`` by ``delta (n,)`` further positions.

    RoPE rotations compose (``R(a) R(b) = R(a + b)``), so a query already rotated to position
    ``p`` is moved to position ``p + delta`` without access to the un-rotated projection.
    Uses the half-split layout of Llama-style models.
    """
    import torch

    freqs = delta[:, None].to(torch.float32) * inv_freq[None, :].to(torch.float32)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    return x * cos + _rotate_half(x) * sin


def _scaled_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    factor = float(getattr(module.config, "lcmem_logit_scale", 1.0))
    scaling = kwargs.pop("scaling", None)
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    return sdpa_attention_forward(
        module, query, key, value, attention_mask, scaling=scaling * factor, **kwargs
    )


def selfextend_attention(
    module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs
) -> tuple[Any, None]:
    """SelfExtend attention over RoPE-rotated ``query``/``key`` at positions ``0..n-1``.

    Settings come from ``module.config.lcmem_selfextend`` (``window``, ``group``, ``inv_freq``);
    without them, or when the input is within the window, it is plain SDPA. Only batch size 1
    without padding is supported (long inputs are encoded one at a time).
    """
    import torch

    cfg = getattr(module.config, "lcmem_selfextend", None)
    n = query.shape[2]
    # Sliding-window (local) layers never see past their window: they stay as they are.
    if not cfg or n <= cfg["window"] or getattr(module, "sliding_window", None):
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    window, group, inv_freq = cfg["window"], cfg["group"], cfg["inv_freq"].to(query.device)
    scaling = kwargs.get("scaling") or query.shape[-1] ** -0.5
    groups = getattr(module, "num_key_value_groups", 1)
    if groups > 1:
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    causal = bool(getattr(module, "is_causal", False))
    pos = torch.arange(n, device=query.device)
    shift = window - window // group
    # Keys move to their group position; queries to theirs, shifted by +/- ``shift`` so that a
    # key just outside the window is seen at relative distance ~window (the SelfExtend rule).
    k_group = rotate(key, pos // group - pos, inv_freq)
    q_before = rotate(query, pos // group + shift - pos, inv_freq)
    q_after = None if causal else rotate(query, pos // group - shift - pos, inv_freq)
    out = torch.empty_like(query)
    for lo in range(0, n, _QUERY_BLOCK):
        hi = min(n, lo + _QUERY_BLOCK)
        qi = pos[lo:hi, None]
        kj = pos[None, :]
        near = (qi - kj).abs() < window
        logits = torch.where(
            near,
            query[:, :, lo:hi] @ key.transpose(-1, -2),
            q_before[:, :, lo:hi] @ k_group.transpose(-1, -2),
        )
        if q_after is not None:
            after = (~near) & (kj > qi)
            logits = torch.where(after, q_after[:, :, lo:hi] @ k_group.transpose(-1, -2), logits)
        logits = logits * scaling
        if causal:
            logits = logits.masked_fill(kj > qi, float("-inf"))
        out[:, :, lo:hi] = torch.softmax(logits.float(), dim=-1).to(value.dtype) @ value
    return out.transpose(1, 2).contiguous(), None


def register() -> None:
    """Register :data:`SCALED_SDPA` and :data:`SELFEXTEND` with transformers (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(SCALED_SDPA, _scaled_sdpa)
    AttentionInterface.register(SELFEXTEND, selfextend_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(SCALED_SDPA, sdpa_mask)
    ALL_MASK_ATTENTION_FUNCTIONS.register(SELFEXTEND, sdpa_mask)
