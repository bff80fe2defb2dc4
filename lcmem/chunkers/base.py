"""The interface every chunker implements.

A chunker turns a :class:`~lcmem.types.Document` into chunks that are exact spans of its text,
measured in tokens of a :class:`~lcmem.tokens.Tokenizer` (the default embedder's by default).

Example:
    >>> from lcmem.chunkers import RecursiveChunker
    >>> from lcmem.tokens import WhitespaceTokenizer
    >>> chunker = RecursiveChunker(chunk_size=4, chunk_overlap=0, tokenizer=WhitespaceTokenizer())
    >>> [c.text for c in chunker.chunk("one two three. four five six.")]
    ['one two three.', 'four five six.']
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from lcmem.chunkers.bounds import MIN_FRACTION, char_ceiling, finish
from lcmem.errors import ConfigError
from lcmem.tokens import HFTokenizer, Tokenizer
from lcmem.types import Chunk, Document

DEFAULT_CHUNK_SIZE = 200
"""Default budget in tokens: the default embedder reads 256, minus room for the context trail."""
DEFAULT_CHUNK_OVERLAP = 20


class Chunker(ABC):
    """Base class: holds the budget and tokenizer, checks them, and accepts str or Document."""

    name: ClassVar[str] = "base"
    bounded: ClassVar[bool] = True
    """Whether :meth:`chunk` applies the character ceiling and the minimum size of
    :mod:`lcmem.chunkers.bounds` (off for chunkers that delegate, or keep documents whole)."""
    #: True when :meth:`chunk_many` gains from many documents at once (it embeds in batches).
    batches: ClassVar[bool] = False

    def __init__(
        self,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ConfigError(f"chunk_size must be at least 1 token, got {chunk_size}")
        if not 0 <= chunk_overlap < chunk_size:
            raise ConfigError(
                f"chunk_overlap must be in [0, chunk_size), got {chunk_overlap} "
                f"with chunk_size={chunk_size}"
            )
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._tokenizer = tokenizer
        self.min_tokens = chunk_size // MIN_FRACTION
        """Chunks under this many tokens are merged with a neighbour they fit with, or flagged
        ``short`` (see :func:`lcmem.chunkers.bounds.merge_short`); 0 turns merging off."""

    @property
    def budget(self) -> int:
        """Most tokens in a chunk (``chunk_size`` unless a subclass lowers it)."""
        return self.chunk_size

    @property
    def max_chars(self) -> int | None:
        """The character ceiling of every chunk (``None``: unbounded)."""
        return char_ceiling(self.budget) if self.bounded else None

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer budgets are counted in (loaded on first use)."""
        if self._tokenizer is None:
            self._tokenizer = HFTokenizer.default()
        return self._tokenizer

    def chunk(self, doc: Document | str) -> list[Chunk]:
        """Split ``doc`` into chunks; each is an exact span of ``doc.text``."""
        if isinstance(doc, str):
            doc = Document(text=doc)
        return self._finish(doc, self._chunk(doc))

    __call__ = chunk

    def chunk_many(self, docs: Sequence[Document | str]) -> list[list[Chunk]]:
        """:meth:`chunk` for many documents; chunkers that embed (topic) batch their work
        across them. One list of chunks per document, in order.

        Example:
            >>> from lcmem.chunkers import RecursiveChunker
            >>> from lcmem.tokens import WhitespaceTokenizer
            >>> c = RecursiveChunker(chunk_size=4, chunk_overlap=0, tokenizer=WhitespaceTokenizer())
            >>> [len(x) for x in c.chunk_many(["a b", "a b c d e f"])]
            [1, 2]
        """
        items = [Document(text=d) if isinstance(d, str) else d for d in docs]
        out = self._chunk_many(items)
        return [self._finish(doc, chunks) for doc, chunks in zip(items, out, strict=True)]

    def _finish(self, doc: Document, chunks: list[Chunk]) -> list[Chunk]:
        """The shared last step of :meth:`chunk` and :meth:`chunk_many`: the character ceiling
        and minimum size of :mod:`lcmem.chunkers.bounds`, then the document's path."""
        if self.bounded and chunks:
            chunks = finish(
                doc.text,
                chunks,
                chunk_size=self.budget,
                tok=self.tokenizer,
                min_tokens=self.min_tokens,
            )
        for c in chunks:
            c.doc_path = doc.path
        return chunks

    def _chunk_many(self, docs: Sequence[Document]) -> list[list[Chunk]]:
        """Subclasses that gain from batching override this; by default one at a time."""
        return [self._chunk(d) for d in docs]

    @abstractmethod
    def _chunk(self, doc: Document) -> list[Chunk]:
        """Subclasses split here."""

    def config(self) -> dict:
        """Settings that change the output, recorded in the library manifest."""
        out = {"name": self.name, "chunk_size": self.chunk_size, "overlap": self.chunk_overlap}
        if self.bounded:
            out["max_chars"] = char_ceiling(self.chunk_size)
            out["min_tokens"] = self.min_tokens
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(chunk_size={self.chunk_size}, overlap={self.chunk_overlap})"


UNSIZED = frozenset({"none"})
"""Chunkers whose output no size or overlap changes."""


def describe_chunker(config: dict) -> str:
    """A chunker's settings as ``lcmem status`` shows them: only those it uses.

    Example:
        >>> describe_chunker({"name": "auto", "chunk_size": 200, "overlap": 20})
        'auto (size 200, overlap 20)'
        >>> describe_chunker({"name": "none", "chunk_size": 200, "overlap": 20})
        'none (each document whole)'
    """
    name = config.get("name")
    if name in UNSIZED:
        return f"{name} (each document whole)"
    return f"{name} (size {config.get('chunk_size')}, overlap {config.get('overlap')})"
