"""Embeddings of long inputs from pieces: split-encode-aggregate (SEA) and late chunking.

* :class:`SplitEncodeAggregate` is an :class:`~lcmem.embedders.base.Embedder` that splits each
  input into blocks the base model reads whole (sentences packed to a budget for prose, the AST
  chunker's units for code, or plain token windows), embeds the blocks in batches and aggregates
  them into one vector per input: ``mean``, ``max`` (element-wise) or ``attention`` (a softmax
  over the blocks' similarity to their mean, so blocks on the input's main topic weigh most;
  it needs no query and no training).
* :func:`late_chunk` encodes a long document once with a
  :class:`~lcmem.embedders.longctx.LongContextEmbedder` and pools the token states of each
  chunk's character span, so a chunk's vector is computed with its surroundings in view.

Example:
    >>> import numpy as np
    >>> v = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    >>> aggregate(v, "max").astype(float).round(3).tolist()
    [0.707, 0.707]
    >>> sea = SplitEncodeAggregate(aggregate="mean")                 # doctest: +SKIP
    >>> sea.embed(["a very long text ..."]).shape                    # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lcmem.embedders.base import Embedder, Kind
from lcmem.errors import ConfigError
from lcmem.types import Chunk, Document

if TYPE_CHECKING:
    from lcmem.chunkers.base import Chunker
    from lcmem.embedders.longctx import LongContextEmbedder

AGGREGATES = ("mean", "max", "attention")
SPLITS = ("auto", "sentence", "token", "code")


def aggregate(vectors: np.ndarray, how: str = "mean", temperature: float = 0.05) -> np.ndarray:
    """One unit vector from block vectors ``(k, dim)`` by ``mean``, ``max`` or ``attention``.

    Example:
        >>> v = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
        >>> aggregate(v, "mean").astype(float).round(3).tolist()
        [0.894, 0.447]
        >>> bool(aggregate(v, "attention")[0] > 0.9)       # the majority direction dominates
        True
    """
    if how not in AGGREGATES:
        raise ConfigError(f"unknown aggregate {how!r}: choose one of {', '.join(AGGREGATES)}")
    if len(vectors) == 0:
        raise ConfigError("nothing to aggregate: the input produced no blocks")
    if how == "max":
        vec = vectors.max(axis=0)
    elif how == "attention":
        centre = vectors.mean(axis=0)
        logits = vectors @ centre / temperature
        weights = np.exp(logits - logits.max())
        vec = (weights / weights.sum()) @ vectors
    else:
        vec = vectors.mean(axis=0)
    norm = float(np.linalg.norm(vec))
    return (vec / norm if norm > 0 else vec).astype(np.float32)


class SplitEncodeAggregate(Embedder):
    """Embeds inputs of any length as one vector: split into blocks, encode, aggregate.

    Args:
        base: the block embedder (default: the packaged ``SentenceEmbedder``).
        block_tokens: block budget in the base model's tokens (default: its ``max_tokens``
            minus room for special tokens).
        aggregate: ``mean``, ``max`` or ``attention`` (see :func:`aggregate`).
        split: ``sentence`` (prose), ``token``, ``code`` (AST units) or ``auto`` (``code`` for
            inputs that parse as Python, else ``sentence``).
        tokenizer: counts block budgets (default: the base model's tokenizer).
        max_tokens: recorded reading limit (inputs longer than it are still read whole).

    Example:
        >>> SplitEncodeAggregate(aggregate="max").name               # doctest: +SKIP
        'sentence-transformers/all-MiniLM-L6-v2+sea-max'
    """

    def __init__(
        self,
        base: Embedder | None = None,
        *,
        block_tokens: int | None = None,
        aggregate: str = "mean",
        split: str = "auto",
        temperature: float = 0.05,
        tokenizer: Any = None,
        max_tokens: int = 1 << 20,
    ) -> None:
        if aggregate not in AGGREGATES:
            raise ConfigError(f"unknown aggregate {aggregate!r}: choose one of {AGGREGATES}")
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
        if base is None:
            from lcmem.embedders.auto import load_embedder

            base = load_embedder()
        self.base = base
        self._block_tokens = block_tokens
        self.how = aggregate
        self.split = split
        self.temperature = temperature
        self._tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.name = f"{base.name}+sea-{aggregate}"
        self.model_name = getattr(base, "model_name", base.name)
        self._chunkers: dict[str, Chunker] = {}

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.base.dim

    @property
    def block_tokens(self) -> int:
        """Tokens per block (the base model's window less two special tokens)."""
        return self._block_tokens or max(1, self.base.max_tokens - 2)

    def config(self) -> dict[str, Any]:
        """What a library manifest records about this embedder."""
        return {
            "name": self.name,
            "dim": self.dim,
            "model": getattr(self.base, "model_name", self.base.name),
            "max_tokens": self.max_tokens,
            "strategy": f"sea-{self.how}",
            "block_tokens": self.block_tokens,
            "split": self.split,
        }

    def blocks(self, text: str) -> list[Chunk]:
        """The blocks ``text`` is split into (exact character spans)."""
        kind = self.split
        if kind == "auto":
            kind = "code" if _looks_like_python(text) else "sentence"
        chunks = self._chunker(kind).chunk(Document(text=text, metadata={"lang": "python"}))
        return chunks or [Chunk(text=text, start=0, end=len(text))]

    def embed(
        self,
        texts: Sequence[str],
        kind: Kind = "document",
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """One aggregated unit vector per text; queries are embedded whole by the base model."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if kind == "query":
            return self.base.embed(texts, kind="query", progress=progress)
        pieces = [[b.text for b in self.blocks(t)] for t in texts]
        flat = [p for ps in pieces for p in ps]
        vecs = self.base.embed(flat, kind="document")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        lo = 0
        for i, ps in enumerate(pieces):
            out[i] = aggregate(vecs[lo : lo + len(ps)], self.how, self.temperature)
            lo += len(ps)
        if progress is not None:
            progress(len(texts))
        return out

    def _chunker(self, kind: str) -> Chunker:
        chunker = self._chunkers.get(kind)
        if chunker is None:
            from lcmem.chunkers import get_chunker

            chunker = get_chunker(
                kind, chunk_size=self.block_tokens, chunk_overlap=0, tokenizer=self._tok()
            )
            self._chunkers[kind] = chunker
        return chunker

    def _tok(self) -> Any:
        if self._tokenizer is None:
            from lcmem.tokens import HFTokenizer

            self._tokenizer = _model_tokenizer(self.base) or HFTokenizer.default()
        return self._tokenizer


def late_chunk(
    embedder: LongContextEmbedder,
    doc: Document | str,
    chunks: Sequence[Chunk] | Sequence[tuple[int, int]],
) -> np.ndarray:
    """Late chunking: one unit vector per chunk, pooled from the whole document encoded once.

    The document is read with ``embedder``'s strategy up to ``embedder.max_tokens`` tokens at a
    time (a longer one is read in consecutive windows of that size); each chunk's vector is the
    mean of the token states inside its character span (the chunk's own embedding if it holds
    no token). Returns float32 ``(len(chunks), dim)``.

    Example:
        >>> emb = LongContextEmbedder(strategy="pi", max_tokens=4096)     # doctest: +SKIP
        >>> text = open("README.md").read()                               # doctest: +SKIP
        >>> late_chunk(emb, text, [(0, 100), (100, 200)]).shape           # doctest: +SKIP
        (2, 384)
    """
    text = doc.text if isinstance(doc, Document) else doc
    spans = [(c.start, c.end) if isinstance(c, Chunk) else (int(c[0]), int(c[1])) for c in chunks]
    if not spans:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    states, offsets = document_states(embedder, text)
    return pool_spans(states, offsets, spans, embedder, text)


def document_states(embedder: LongContextEmbedder, text: str) -> tuple[np.ndarray, np.ndarray]:
    """Token states ``(n, dim)`` of ``text`` and their character spans ``(n, 2)``, read in
    windows of ``embedder.max_tokens`` tokens (special tokens dropped)."""
    tok = embedder.tokenizer
    # All tokens of the text without special tokens, then windows re-wrapped with them.
    full = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    body, spans = list(full["input_ids"]), [tuple(o) for o in full["offset_mapping"]]
    empty = embedder.encode_ids([""])[0]
    special = set(tok.all_special_ids)
    head = empty[:1] if empty and empty[0] in special else []
    tail = empty[-1:] if len(empty) > len(head) and empty[-1] in special else []
    step = max(1, embedder.max_tokens)  # the text's own tokens (special ones not counted)
    parts = []
    for lo in range(0, max(1, len(body)), step):
        window = head + body[lo : lo + step] + tail
        states = embedder.token_states(window)
        parts.append(states[len(head) : len(window) - len(tail)].float().cpu().numpy())
    states = np.concatenate(parts) if parts else np.zeros((0, embedder.dim), np.float32)
    return states, np.asarray(spans, dtype=np.int64).reshape(-1, 2)


def pool_spans(
    states: np.ndarray,
    offsets: np.ndarray,
    spans: Sequence[tuple[int, int]],
    embedder: Embedder | None = None,
    text: str | None = None,
) -> np.ndarray:
    """Mean of the token ``states`` whose character ``offsets`` overlap each span; unit rows.

    A span without tokens is embedded on its own by ``embedder`` (zeros if none is given).

    Example:
        >>> st = np.array([[1, 0], [0, 1], [0, 1]], dtype=np.float32)
        >>> off = np.array([[0, 2], [3, 5], [6, 8]])
        >>> pool_spans(st, off, [(0, 2), (3, 8)]).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    dim = states.shape[1]
    out = np.zeros((len(spans), dim), dtype=np.float32)
    starts, ends = offsets[:, 0], offsets[:, 1]
    missing = []
    for i, (a, b) in enumerate(spans):
        sel = (starts < b) & (ends > a) & (ends > starts)
        if sel.any():
            vec = states[sel].mean(axis=0)
            out[i] = vec / max(float(np.linalg.norm(vec)), 1e-12)
        else:
            missing.append(i)
    if missing and embedder is not None and text is not None:
        out[missing] = embedder.embed([text[spans[i][0] : spans[i][1]] for i in missing])
    return out


def _model_tokenizer(embedder: Embedder) -> Any:
    """An :class:`~lcmem.tokens.HFTokenizer` for the embedder's model folder, if it has one."""
    from pathlib import Path

    from lcmem.embedders.sentence import DEFAULT_MODEL, resolve_model_path
    from lcmem.tokens import HFTokenizer

    model = getattr(embedder, "model_name", None)
    if model is None:
        return None
    if model == DEFAULT_MODEL:
        return HFTokenizer.default()
    path = Path(resolve_model_path(str(model)))
    return HFTokenizer(path) if (path / "tokenizer.json").exists() else None


def _looks_like_python(text: str) -> bool:
    import ast

    if "def " not in text and "class " not in text and "import " not in text:
        return False
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True
