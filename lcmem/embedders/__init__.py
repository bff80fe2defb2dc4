"""Embedders: texts in, L2-normalised float32 vectors out.

Example:
    >>> from lcmem.embedders import SentenceEmbedder
    >>> SentenceEmbedder().name
    'sentence-transformers/all-MiniLM-L6-v2'
"""

from __future__ import annotations

from lcmem.embedders.base import Embedder
from lcmem.embedders.sentence import DEFAULT_MODEL, SentenceEmbedder

__all__ = ["DEFAULT_MODEL", "Embedder", "SentenceEmbedder"]
