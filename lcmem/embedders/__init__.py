"""Embedders: texts in, L2-normalised float32 vectors out.

:class:`OnnxEmbedder` (ONNX Runtime, no torch) runs the default all-MiniLM-L6-v2 (packaged) and
any sentence-transformers BERT-family model that exports; :class:`SentenceEmbedder` runs any
other model; :func:`load_embedder` picks between them. For inputs longer than
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

from lcmem.embedders.auto import load_embedder
from lcmem.embedders.base import Embedder
from lcmem.embedders.longctx import STRATEGIES, LongContextEmbedder, make_embedder
from lcmem.embedders.onnx import OnnxEmbedder
from lcmem.embedders.pooling import SplitEncodeAggregate, aggregate, late_chunk
from lcmem.embedders.sentence import DEFAULT_MODEL, SentenceEmbedder

__all__ = [
    "DEFAULT_MODEL",
    "STRATEGIES",
    "Embedder",
    "LongContextEmbedder",
    "OnnxEmbedder",
    "SentenceEmbedder",
    "SplitEncodeAggregate",
    "aggregate",
    "late_chunk",
    "load_embedder",
    "make_embedder",
]
