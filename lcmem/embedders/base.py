"""The interface of embedders: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

Kind = Literal["document", "query"]


class Embedder(ABC):
    """Turns texts into unit vectors of a fixed dimension.

    Attributes:
        name: identifies the model and settings; recorded in a library's manifest.
        dim: vector dimension.
        max_tokens: longest input (in the model's tokens) the embedder reads whole.
    """

    name: str
    dim: int
    max_tokens: int

    @abstractmethod
    def embed(
        self,
        texts: Sequence[str],
        kind: Kind = "document",
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed ``texts``; returns float32 ``(len(texts), dim)``, rows of unit norm.

        ``progress(n)``, if given, is called as each batch of ``n`` texts is done.
        """

    def lost_tokens(self, texts: Sequence[str]) -> list[int]:
        """Per text, how many of its own tokens (the model's special tokens aside) the
        embedder cuts off and never reads; zeros when it reads every text whole or cannot tell.

        Example:
            >>> from tests.chunkers.checks import HashEmbedder   # doctest: +SKIP
            >>> HashEmbedder().lost_tokens(["a b c"])            # doctest: +SKIP
            [0]
        """
        return [0] * len(texts)

    def _prefix(self, kind: Kind) -> str:
        """The instruction prefix for ``kind`` (``query_prefix`` / ``document_prefix``, if set)."""
        name = "query_prefix" if kind == "query" else "document_prefix"
        return str(getattr(self, name, "") or "")

    def _embed_by_length(
        self,
        lengths: Sequence[int],
        run: Callable[[list[int]], np.ndarray],
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """``run(indices)`` over batches of ``batch_size`` similar-length inputs, longest first
        (each batch pads little); rows come back in input order, ``progress(n)`` after each.

        Example:
            >>> class Lengths(Embedder):
            ...     dim, batch_size = 1, 2
            ...     def embed(self, texts, kind="document", progress=None):
            ...         run = lambda idx: np.array([[len(texts[i])] for i in idx], np.float32)
            ...         return self._embed_by_length([len(t) for t in texts], run)
            >>> Lengths().embed(["a", "abc", "ab"]).ravel().tolist()
            [1.0, 3.0, 2.0]
        """
        order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
        out = np.empty((len(lengths), self.dim), dtype=np.float32)
        batch = int(getattr(self, "batch_size", 32))
        for lo in range(0, len(order), batch):
            idx = order[lo : lo + batch]
            out[idx] = run(idx)
            if progress is not None:
                progress(len(idx))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """One query vector of shape ``(dim,)``."""
        return self.embed([text], kind="query")[0]
