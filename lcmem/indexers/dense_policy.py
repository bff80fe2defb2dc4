"""When a library's dense index switches from exact (flat) to approximate, and with what settings.

A new library records ``{"kind": "auto", ...}`` as its ``"faiss"`` manifest entry. It searches
exactly (flat) while small; the index run that leaves it with :data:`SWITCH_AT` chunks or more
converts the index to :data:`APPROXIMATE` (no re-embedding: the vectors are in the flat index)
and records the switch (``structure``, the resolved ``params``, ``switched_at_chunks``) in the
manifest, so ``lcmem status`` can show it and a rebuild from the store makes the same index. A
library given an explicit kind (``flat``, ``ivf``, ``hnsw``), and every library made before
this existed (their manifests say ``flat``), keeps that kind: that is the user override.

The numbers come from ``benchmarks/bench_million.py`` (``benchmarks/results/scale_million.md``).

Example:
    >>> setting = new_setting("auto", switch_at=1000)
    >>> switch(setting, 999) is None, switch(setting, 1000)[0]
    (True, 'hnsw')
    >>> switch(new_setting("flat"), 10**9) is None
    True
"""

from __future__ import annotations

import math
from typing import Any

from lcmem.errors import ConfigError

KINDS = ("auto", "flat", "ivf", "hnsw")
SWITCH_AT = 200_000
"""Chunks at which an ``auto`` library leaves exact search (see the module docstring)."""
APPROXIMATE: dict[str, Any] = {"kind": "hnsw", "hnsw_m": 32, "ef_construction": 80, "ef_search": 64}
"""The approximate index an ``auto`` library switches to. HNSW, because on the real model's
vectors (``benchmarks/bench_ann_real.py``, 25,683 MiniLM man-page chunks, 1,000 queries) it
reached recall@10 0.97 against flat at efSearch 64, where IVF with ``nlist = sqrt(n)`` needed
``nprobe`` 64 of 160 lists (40 % of the vectors) for the same recall. An IVF target gets
``nlist`` :func:`switch_nlist` of the size at the switch."""
RETRAIN_GROWTH = 4
"""An ``auto`` IVF index is trained again (``nlist`` for today's size) once the library holds
this many times the chunks it was trained on: with a fixed ``nlist`` and ``nprobe`` a query
scans a share of the library that stays fixed, so its cost would grow linearly."""


def switch_nlist(n: int) -> int:
    """IVF lists for ``n`` vectors: ``sqrt(n)`` (1,000 at a million; lists of ~1,000 vectors).

    Training costs ``nlist`` times the sample size, and the sample is 64 vectors per list, so
    ``4 sqrt(n)`` (:func:`~lcmem.indexers.faiss.auto_nlist`) would cost 16 times more k-means
    work at the switch for little gain at the ``nprobe`` used.

    Example:
        >>> switch_nlist(1_000_000)
        1000
    """
    return max(1, math.isqrt(max(int(n), 1)))


def new_setting(
    kind: str | None = None,
    switch_at: int | None = None,
    approximate: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``"faiss"`` manifest entry of a new library (``kind`` None means ``auto``;
    ``switch_at`` and ``approximate`` default to :data:`SWITCH_AT` and :data:`APPROXIMATE`).

    Example:
        >>> new_setting("hnsw")
        {'kind': 'hnsw'}
    """
    kind = kind or "auto"
    if kind not in KINDS:
        raise ConfigError(f"faiss kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind != "auto":
        return {"kind": kind}
    switch_at = SWITCH_AT if switch_at is None else switch_at
    if switch_at < 1:
        raise ConfigError(f"the flat -> approximate switch needs switch_at >= 1, got {switch_at}")
    return {
        "kind": "auto",
        "structure": "flat",
        "switch_at": int(switch_at),
        "approximate": dict(approximate or APPROXIMATE),
    }


def index_spec(setting: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """``(kind, FaissIndex parameters)`` that rebuild the index the setting describes now.

    Example:
        >>> index_spec({"kind": "auto", "structure": "ivf", "params": {"nlist": 8, "nprobe": 2}})
        ('ivf', {'nlist': 8, 'nprobe': 2})
        >>> index_spec(None)
        ('flat', {})
    """
    setting = setting or {}
    kind = setting.get("kind", "flat")
    if kind != "auto":
        return kind, {}
    structure = setting.get("structure", "flat")
    return structure, dict(setting.get("params") or {}) if structure != "flat" else {}


def switch(setting: dict[str, Any] | None, n: int) -> tuple[str, dict[str, Any]] | None:
    """``(kind, parameters)`` to convert to now that the index holds ``n`` vectors, else None.

    ``nlist`` of an IVF target is resolved here so that the manifest records the number used.
    """
    setting = setting or {}
    if setting.get("kind") != "auto":
        return None
    structure = setting.get("structure", "flat")
    if structure == "flat" and n < int(setting.get("switch_at", SWITCH_AT)):
        return None
    if structure != "flat":
        trained = int(setting.get("trained_at_chunks") or setting.get("switched_at_chunks") or 0)
        if structure != "ivf" or not trained or n < RETRAIN_GROWTH * trained:
            return None
    params = dict(setting.get("approximate") or APPROXIMATE)
    kind = params.pop("kind")
    if kind == "ivf" and (structure != "flat" or not params.get("nlist")):
        params["nlist"] = switch_nlist(n)
    return kind, params


def switched(setting: dict[str, Any], kind: str, params: dict[str, Any], n: int) -> dict[str, Any]:
    """The manifest entry after the switch to ``kind`` (or a re-training) at ``n`` chunks.

    Example:
        >>> switched(new_setting(switch_at=5), "ivf", {"nlist": 8}, 6)["structure"]
        'ivf'
    """
    first = setting.get("switched_at_chunks") or int(n)
    return {
        **setting,
        "structure": kind,
        "params": dict(params),
        "switched_at_chunks": int(first),
        "trained_at_chunks": int(n),
    }


def describe(setting: dict[str, Any] | None) -> str:
    """One line for ``lcmem status``.

    Example:
        >>> describe(new_setting(switch_at=200_000))
        'auto: flat (exact) until 200,000 chunks, then hnsw'
        >>> describe({"kind": "hnsw"})
        'hnsw'
    """
    setting = setting or {"kind": "flat"}
    kind = setting.get("kind", "flat")
    if kind != "auto":
        return str(kind)
    structure = setting.get("structure", "flat")
    if structure == "flat":
        target = (setting.get("approximate") or APPROXIMATE).get("kind")
        return f"auto: flat (exact) until {int(setting['switch_at']):,} chunks, then {target}"
    params = ", ".join(f"{k} {v}" for k, v in sorted((setting.get("params") or {}).items()))
    at = setting.get("switched_at_chunks")
    return f"auto: {structure} ({params}), switched at {int(at):,} chunks" if at else structure
