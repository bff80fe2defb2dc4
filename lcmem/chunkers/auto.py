"""Pick a chunker per document from its kind, and build chunkers by name.

Example:
    >>> from lcmem.tokens import WhitespaceTokenizer
    >>> from lcmem.types import Document
    >>> chunker = get_chunker("auto", chunk_size=50, tokenizer=WhitespaceTokenizer())
    >>> doc = Document(text="# Usage\\n\\nRun it.\\n", metadata={"kind": "markdown"})
    >>> [c.context for c in chunker.chunk(doc)]
    ['Usage']
"""

from __future__ import annotations

from lcmem.chunkers.base import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, Chunker
from lcmem.chunkers.bounds import char_ceiling
from lcmem.chunkers.code import CodeChunker
from lcmem.chunkers.markdown import MarkdownChunker
from lcmem.chunkers.text import RecursiveChunker, SentenceChunker, TokenChunker
from lcmem.chunkers.topic import TopicChunker
from lcmem.chunkers.whole import WholeChunker
from lcmem.errors import ConfigError
from lcmem.tokens import Tokenizer
from lcmem.types import Chunk, Document

__all__ = ["CHUNKERS", "AutoChunker", "get_chunker"]


class AutoChunker(Chunker):
    """Chooses by ``doc.metadata["kind"]``: ``"markdown"`` -> :class:`MarkdownChunker`,
    ``"code"`` -> :class:`CodeChunker` (language from ``metadata["lang"]``), anything else
    (``"rst"``, ``"text"``, ``"pdf"``, missing) -> :class:`RecursiveChunker`. All share one
    budget and tokenizer. A document whose ``metadata["text_format"]`` is ``"markdown"`` (HTML
    pages, rendered with ``#`` headings by :mod:`lcmem.loaders.html`) is chunked as Markdown.

    :class:`~lcmem.chunkers.topic.TopicChunker` is never chosen here: it embeds every sentence
    to find where the topic shifts, then the chunks are embedded again, about twice the
    embedding cost of indexing; ask for it by name (``lcmem index --chunker topic``).

    Example:
        >>> AutoChunker(chunk_size=100).for_kind("code").config()["name"]
        'code'
    """

    name = "auto"
    bounded = False  # the chunker it picks applies the bounds

    @property
    def max_chars(self) -> int | None:
        """The character ceiling of the chunkers it picks."""
        return char_ceiling(self.chunk_size)

    def __init__(
        self,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        super().__init__(chunk_size, chunk_overlap, tokenizer)
        self._by_kind: dict[str, Chunker] = {}

    def for_kind(self, kind: str | None) -> Chunker:
        """The chunker used for documents of ``kind``."""
        key = kind if kind in ("markdown", "code") else "text"
        chunker = self._by_kind.get(key)
        if chunker is None:
            args = (self.chunk_size, self.chunk_overlap, self.tokenizer)
            if key == "markdown":
                chunker = MarkdownChunker(*args)
            elif key == "code":
                chunker = CodeChunker(*args)
            else:
                chunker = RecursiveChunker(*args)
            self._by_kind[key] = chunker
        return chunker

    def _chunk(self, doc: Document) -> list[Chunk]:
        markdown = doc.metadata.get("text_format") == "markdown"  # e.g. an HTML page's text
        return self.for_kind("markdown" if markdown else doc.metadata.get("kind")).chunk(doc)

    def config(self) -> dict:
        return {
            **super().config(),
            "tokenizer": self.tokenizer.name,
            "by_kind": {k: self.for_kind(k).config() for k in ("markdown", "code", "text")},
        }


CHUNKERS: dict[str, type[Chunker]] = {
    "auto": AutoChunker,
    "token": TokenChunker,
    "sentence": SentenceChunker,
    "recursive": RecursiveChunker,
    "markdown": MarkdownChunker,
    "code": CodeChunker,
    "none": WholeChunker,
    "topic": TopicChunker,
}
"""Chunker classes by the name :func:`get_chunker` accepts."""


def get_chunker(name: str, **kwargs) -> Chunker:
    """A chunker by name (``auto``, ``token``, ``sentence``, ``recursive``, ``markdown``,
    ``code``, ``none`` = each document whole, ``topic``).

    Keyword arguments go to its constructor (``chunk_size``, ``chunk_overlap``, ``tokenizer``...).

    Example:
        >>> get_chunker("token", chunk_size=64, chunk_overlap=8)
        TokenChunker(chunk_size=64, overlap=8)
    """
    cls = CHUNKERS.get(name)
    if cls is None:
        raise ConfigError(f"unknown chunker {name!r}: choose one of {', '.join(CHUNKERS)}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad option for chunker {name!r}: {exc}") from exc
