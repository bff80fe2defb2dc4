"""Invariants every chunker keeps, shared by the chunker tests."""

from __future__ import annotations

import re
import zlib
from bisect import bisect_left
from itertools import pairwise

import numpy as np

from lcmem.chunkers import Chunker
from lcmem.chunkers.bounds import section_of
from lcmem.embedders.base import Embedder
from lcmem.types import Chunk, Document


def check_chunks(chunker: Chunker, doc: Document | str, chunks: list[Chunk] | None = None):
    """Assert the invariants of ``chunker`` on ``doc``; return the chunks.

    - every chunk is the exact span ``doc.text[start:end]``, non-empty, with no surrounding
      whitespace, and ``token_count`` is its count in the chunker's tokenizer;
    - chunks are in document order (starts and ends strictly increasing);
    - every non-whitespace character of the document lies in some chunk;
    - no chunk is over budget unless it holds at most one token start of the document (a token,
      or the several tokens one character may give, cannot be cut);
    - every chunk spans at most ``chunker.max_chars`` characters (when it has a ceiling);
    - a chunk under ``chunker.min_tokens`` fits with no neighbour of its section (within the
      budget and the ceiling) and is flagged ``short``; no other chunk is;
    - chunking again gives the same chunks.
    """
    if isinstance(doc, str):
        doc = Document(text=doc)
    text = doc.text
    if chunks is None:
        chunks = chunker.chunk(doc)
    tok = chunker.tokenizer
    token_starts: list[int] | None = None
    covered = bytearray(len(text) + 1)
    for c in chunks:
        assert 0 <= c.start < c.end <= len(text), c
        assert text[c.start : c.end] == c.text
        assert c.text.strip() == c.text, f"untrimmed chunk {c.text!r}"
        assert c.token_count == tok.count(c.text), (c.token_count, tok.count(c.text), c.text)
        assert c.doc_path == doc.path
        if c.token_count > chunker.chunk_size:
            if token_starts is None:
                token_starts = sorted({a for a, _ in tok.offsets(text)})
            inside = bisect_left(token_starts, c.end) - bisect_left(token_starts, c.start)
            assert inside <= 1, (
                f"chunk of {c.token_count} tokens > {chunker.chunk_size} holds {inside} "
                f"tokens of the document: {c.text!r}"
            )
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    for a, b in pairwise(chunks):
        assert a.start < b.start and a.end < b.end, ("out of order", a, b)
    cap = chunker.max_chars
    if cap is not None:
        longest = max((c.end - c.start for c in chunks), default=0)
        assert longest <= cap, f"a chunk of {longest} characters > ceiling {cap}"
        check_minimum(chunker, text, chunks, cap)
    missing = [i for i, ch in enumerate(text) if not covered[i] and not ch.isspace()]
    assert not missing, f"characters in no chunk at {missing[:10]}: {text[missing[0]]!r}"
    again = chunker.chunk(doc)
    assert [(c.start, c.end, c.token_count, c.context, c.metadata) for c in again] == [
        (c.start, c.end, c.token_count, c.context, c.metadata) for c in chunks
    ]
    return chunks


def check_minimum(chunker: Chunker, text: str, chunks: list[Chunk], cap: int) -> None:
    """No chunk under the minimum could merge with a neighbour of its section within the
    budget and the ceiling; exactly those chunks are flagged ``short``."""
    tok, budget, low = chunker.tokenizer, chunker.budget, chunker.min_tokens
    for k, c in enumerate(chunks):
        short = c.token_count < low
        assert bool(c.metadata.get("short")) == short, (c.token_count, low, c.metadata)
        if not short:
            continue
        for j in (k - 1, k + 1):
            if not 0 <= j < len(chunks) or section_of(chunks[j]) != section_of(c):
                continue
            a, b = (chunks[j], c) if j < k else (c, chunks[j])
            union = text[a.start : b.end]
            assert len(union) > cap or tok.count(union) > budget, (
                f"short chunk {c.text!r} fits with its neighbour {chunks[j].text!r}"
            )


class HashEmbedder(Embedder):
    """A cheap deterministic test double for sentence embedders: hashed bag of lowercase words,
    L2-normalised (texts sharing words get similar vectors; no words gives a fixed vector)."""

    name = "test-hash-bow"
    dim = 256
    max_tokens = 512

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed(self, texts, kind="document", progress=None):
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            words = re.findall(r"\w+", t.lower())
            if not words:
                out[i, 0] = 1.0
            for w in words:
                out[i, zlib.crc32(w.encode("utf-8", "surrogatepass")) % self.dim] += 1.0
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


def check_packed(chunker: Chunker, text: str, chunks: list[Chunk]) -> None:
    """No two neighbouring chunks of one section (see
    :func:`lcmem.chunkers.bounds.section_of`) would fit the budget and the ceiling together:
    packing left nothing it could still merge."""
    tok, budget, cap = chunker.tokenizer, chunker.budget, chunker.max_chars
    for a, b in pairwise(chunks):
        if section_of(a) != section_of(b) or a.end > b.start:
            continue
        union = text[a.start : b.end]
        assert (cap is not None and len(union) > cap) or tok.count(union) > budget, (
            f"neighbours of one section fit together: {a.text!r} + {b.text!r}"
        )
