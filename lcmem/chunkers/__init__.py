"""Chunkers: turn a document into exact character spans that fit a token budget.

Importing this package is cheap: tokenizers, markdown-it-py and tree-sitter load on first use.

Example:
    >>> from lcmem.chunkers import get_chunker
    >>> get_chunker("recursive", chunk_size=128)
    RecursiveChunker(chunk_size=128, overlap=20)
"""

from lcmem.chunkers.auto import AutoChunker, get_chunker
from lcmem.chunkers.base import Chunker
from lcmem.chunkers.code import CodeChunker
from lcmem.chunkers.markdown import MarkdownChunker
from lcmem.chunkers.text import RecursiveChunker, SentenceChunker, TokenChunker
from lcmem.chunkers.topic import TopicChunker

__all__ = [
    "AutoChunker",
    "Chunker",
    "CodeChunker",
    "MarkdownChunker",
    "RecursiveChunker",
    "SentenceChunker",
    "TokenChunker",
    "TopicChunker",
    "get_chunker",
]
