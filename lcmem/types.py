"""Plain data types shared by every part of lcmem.

A :class:`Document` is the text of one source (a file, a string). A :class:`Chunk` is an
exact character span of a document, so ``doc.text[chunk.start:chunk.end] == chunk.text``
always holds. A :class:`Hit` is a chunk returned by a search, with its score.

Example:
    >>> doc = Document(text="Hello world. Bye.", path="greeting.txt")
    >>> chunk = Chunk(text="Hello world.", start=0, end=12)
    >>> chunk.text == doc.text[chunk.start:chunk.end]
    True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


def content_hash(text: str) -> str:
    """Stable hex digest of a text (blake2b, 16 bytes), used to detect unchanged content.

    Example:
        >>> len(content_hash("abc"))
        32
    """
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def line_starts(text: str) -> list[int]:
    """Offsets where each ``\\n``-separated line starts; ``bisect_right(starts, offset)`` is the
    1-based line of ``offset``.

    Example:
        >>> line_starts("a\\nbc\\n")
        [0, 2, 5]
    """
    starts = [0]
    find = text.find
    i = find("\n")
    while i != -1:
        starts.append(i + 1)
        i = find("\n", i + 1)
    return starts


@dataclass
class Document:
    """The full text of one source.

    Attributes:
        text: the decoded text; every chunk points into it by character offsets.
        path: where it came from (an absolute file path, or any identifier).
        metadata: free-form fields (``lang``, ``ext``, ``title``...) copied onto its chunks
            and filterable with ``where=``.
        warnings: problems met while loading that did not stop it (replacement characters...).
    """

    text: str
    path: str = "<string>"
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def hash(self) -> str:
        """Content hash of ``text``."""
        return content_hash(self.text)


@dataclass
class Chunk:
    """An exact span ``[start, end)`` of a document's text.

    Attributes:
        text: ``doc.text[start:end]``.
        start, end: character offsets in the document.
        context: where the chunk sits, as a trail such as ``"Install > From source"``
            (headings for prose, ``"class Parser > def feed"`` for code); ``""`` if none.
        token_count: size in the chunker's tokenizer.
        metadata: chunker-specific fields (heading level, symbols...).
        id: database id, set once stored (also the id in every index).
        doc_path: path of the source document, set when known.
        line_start, line_end: 1-based inclusive line range in the document, set once stored.
        section: the part of the document a chunker cut the chunk from, when its context
            trail does not say it (the code chunker: a scope's header or its body). Only the
            minimum-size merge of :mod:`lcmem.chunkers.bounds` reads it (chunks of one part
            may merge); it is not stored. ``None``: the context trail decides.
    """

    text: str
    start: int
    end: int
    context: str = ""
    token_count: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    doc_path: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    section: Any = field(default=None, repr=False, compare=False)

    @property
    def hash(self) -> str:
        """Content hash of ``text``."""
        return content_hash(self.text)

    def embedding_text(self) -> str:
        """The text given to the embedder: the context trail, then the chunk itself.

        Example:
            >>> Chunk(text="pip install x", start=0, end=13, context="Install").embedding_text()
            'Install\\npip install x'
        """
        return f"{self.context}\n{self.text}" if self.context else self.text


@dataclass(frozen=True)
class Span:
    """A character span of a source document, with its 1-based inclusive line range."""

    path: str
    start: int
    end: int
    line_start: int
    line_end: int


@dataclass
class Hit:
    """One search result.

    Attributes:
        chunk: the matching chunk (text, span, context path).
        score: the score of the mode used (fused score for hybrid, cosine for dense, BM25 for
            bm25); higher is better.
        rank: 1-based position in the result list.
        scores: per-index details, e.g. ``{"dense": 0.71, "bm25": 12.3}`` when known; a hybrid
            hit also has each index's rank, fusion weight and weighted share of the score
            (``dense_rank``, ``dense_weight``, ``dense_part``, ``bm25_...``, and ``boost`` when
            the query's quoted words or identifiers raised the BM25 weight).
        others: with ``group="document"``, the document's other matching chunks, best first.
    """

    chunk: Chunk
    score: float
    rank: int = 0
    scores: dict[str, float] = field(default_factory=dict)
    others: list[Hit] = field(default_factory=list)

    @property
    def span(self) -> Span:
        """Where the hit lies in its source."""
        c = self.chunk
        return Span(
            path=c.doc_path or "<string>",
            start=c.start,
            end=c.end,
            line_start=c.line_start or 0,
            line_end=c.line_end or 0,
        )

    @property
    def path(self) -> str:
        return self.chunk.doc_path or "<string>"

    @property
    def text(self) -> str:
        return self.chunk.text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, shared by ``lcmem search/ask --json`` and the MCP tools.

        Example:
            >>> c = Chunk(text="tar -x", start=3, end=9, doc_path="tar.txt", id=7)
            >>> Hit(c, 0.5, rank=1).to_dict()["path"]
            'tar.txt'
        """
        c = self.chunk
        out = {
            "rank": self.rank,
            "score": float(self.score),
            "scores": {k: float(v) for k, v in self.scores.items()},
            "path": self.path,
            "chunk_id": c.id,
            "start": c.start,
            "end": c.end,
            "line_start": c.line_start,
            "line_end": c.line_end,
            "context": c.context,
            "text": c.text,
            "metadata": c.metadata,
        }
        if self.others:
            out["others"] = [o.to_dict() for o in self.others]
        return out
