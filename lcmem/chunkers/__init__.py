"""Chunkers: turn a document into exact character spans that fit a token budget.

Importing this package is cheap: tokenizers and markdown-it-py load on first use.

Example:
    >>> from lcmem.chunkers import get_chunker
    >>> get_chunker("recursive", chunk_size=128)
    RecursiveChunker(chunk_size=128, overlap=20)
"""

from lcmem.chunkers.auto import AutoChunker, get_chunker
from lcmem.chunkers.base import Chunker
from lcmem.chunkers.markdown import MarkdownChunker
from lcmem.chunkers.text import RecursiveChunker, SentenceChunker, TokenChunker

__all__ = [
    "AutoChunker",
    "Chunker",
    "MarkdownChunker",
    "RecursiveChunker",
    "SentenceChunker",
    "TokenChunker",
    "get_chunker",
]
