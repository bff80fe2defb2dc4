"""Embedders: texts in, L2-normalised float32 vectors out.

:class:`SentenceEmbedder` is the default (all-MiniLM-L6-v2, packaged). For inputs longer than
its window: :class:`LongContextEmbedder` (training-free position strategies, LongEmbed),
:class:`SplitEncodeAggregate` (split, encode, pool) and :func:`late_chunk` (chunk vectors pooled
from one long encoding); :func:`make_embedder` builds one from a library setting.

Example:
    >>> from lcmem.embedders import SentenceEmbedder
    >>> SentenceEmbedder().name
    'sentence-transformers/all-MiniLM-L6-v2'
    >>> make_embedder(strategy="pi", max_tokens=4096).name
    'sentence-transformers/all-MiniLM-L6-v2+pi@4096'
"""

from __future__ import annotations

from lcmem.embedders.base import Embedder
from lcmem.embedders.longctx import STRATEGIES, LongContextEmbedder, make_embedder
from lcmem.embedders.pooling import SplitEncodeAggregate, aggregate, late_chunk
from lcmem.embedders.sentence import DEFAULT_MODEL, SentenceEmbedder

__all__ = [
    "DEFAULT_MODEL",
    "STRATEGIES",
    "Embedder",
    "LongContextEmbedder",
    "SentenceEmbedder",
    "SplitEncodeAggregate",
    "aggregate",
    "late_chunk",
    "make_embedder",
]
