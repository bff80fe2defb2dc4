"""Pick the embedding backend for a model: ONNX Runtime when the model exports, else torch.

The ONNX backend (:class:`~lcmem.embedders.onnx.OnnxEmbedder`) gives the same fp32 vectors as
sentence-transformers without importing torch, so it is the default for every model it can
run; other models keep :class:`~lcmem.embedders.sentence.SentenceEmbedder`.
``LCMEM_EMBED_BACKEND=torch`` forces sentence-transformers (``onnx`` forces ONNX).

Example:
    >>> load_embedder("all-MiniLM-L6-v2")              # doctest: +SKIP
    OnnxEmbedder('all-MiniLM-L6-v2', precision='fp32')
"""

from __future__ import annotations

import os
from pathlib import Path

from lcmem.embedders.base import Embedder
from lcmem.errors import ConfigError

BACKENDS = ("onnx", "torch")


def load_embedder(
    model: str | Path = "all-MiniLM-L6-v2",
    *,
    precision: str = "fp32",
    threads: int | None = None,
    backend: str | None = None,
) -> Embedder:
    """The embedder for ``model``: ONNX Runtime if it runs there, else sentence-transformers.

    Args:
        model: the packaged default's name, a model folder or a cached Hugging Face name.
        precision: ``fp32`` or ``int8`` (int8 needs the ONNX backend).
        threads: inference threads (ONNX backend; ``None``: every core).
        backend: ``onnx``, ``torch`` or ``None`` (``$LCMEM_EMBED_BACKEND``, else automatic).
    """
    from lcmem.embedders.onnx import PRECISIONS, OnnxEmbedder, exportable
    from lcmem.embedders.sentence import SentenceEmbedder

    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    choice = backend or os.environ.get("LCMEM_EMBED_BACKEND") or None
    if choice is not None and choice not in BACKENDS:
        raise ConfigError(f"embedding backend must be onnx or torch, got {choice!r}")
    if choice == "onnx" or (choice is None and exportable(model)):
        return OnnxEmbedder(model, precision=precision, threads=threads)
    if precision != "fp32":
        raise ConfigError(
            f"precision {precision} needs the ONNX backend, which cannot run {model!r}: "
            "use --embed-precision fp32"
        )
    return SentenceEmbedder(model)


def precision_of(embedder: Embedder) -> str:
    """``fp32`` or ``int8``: what an embedder computes in (``fp32`` unless it says)."""
    return str(getattr(embedder, "precision", "fp32"))
