"""The ``none`` chunker: each document is one chunk, so a long document is one vector.

Pair it with a long-context embedder (``lcmem index --chunker none --embed-max-tokens 4096``);
with a plain embedder the text past the model's window is not seen.

Example:
    >>> from lcmem.tokens import WhitespaceTokenizer
    >>> chunks = WholeChunker(tokenizer=WhitespaceTokenizer()).chunk("  one whole text \\n")
    >>> [(c.text, c.start, c.end, c.token_count) for c in chunks]
    [('one whole text', 2, 16, 3)]
"""

from __future__ import annotations

from lcmem.chunkers.base import Chunker
from lcmem.types import Chunk, Document


class WholeChunker(Chunker):
    """One chunk per document: its text without leading/trailing whitespace (an exact span);
    none for a blank document. ``chunk_size`` and ``chunk_overlap`` are accepted and unused, and
    no character ceiling applies (the embedder's ``max_tokens`` decides what it reads)."""

    name = "none"
    bounded = False  # one chunk per document, however long: that is its job

    def _chunk(self, doc: Document) -> list[Chunk]:
        text = doc.text
        stripped = text.strip()
        if not stripped:
            return []
        start = len(text) - len(text.lstrip())
        end = start + len(stripped)
        return [
            Chunk(
                text=text[start:end],
                start=start,
                end=end,
                token_count=self.tokenizer.count(stripped),
            )
        ]

    def config(self) -> dict:
        """Only the name: no size or overlap changes its output."""
        return {"name": self.name}
