"""Plain records the store hands out and takes in (no database library needed to use them)."""

from __future__ import annotations

from dataclasses import dataclass

from lcmem.types import Chunk

SCHEMA_VERSION = 1  # of the lcmem tables; both store classes check it


@dataclass
class StoredDocument:
    """What the index run needs to know about a document already in the store."""

    id: int
    path: str
    content_hash: str
    size: int
    mtime_ns: int


@dataclass
class NewChunk:
    """A chunk ready to be written: the chunk, its line range and embedding key."""

    chunk: Chunk
    line_start: int
    line_end: int
    embed_hash: str
