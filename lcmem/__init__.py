"""lcmem: retrieval and memory for documents longer than any context window.

Example:
    >>> import lcmem
    >>> lib = lcmem.open("./.lcmem")                     # doctest: +SKIP
    >>> lib.index(["./docs"])                            # doctest: +SKIP
    >>> hits = lib.search("how to install", k=5)         # doctest: +SKIP

Names are imported on first use, so ``import lcmem`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any


def _version() -> str:
    """The installed distribution's version; pyproject.toml is its one source."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lcmem")
    except PackageNotFoundError:  # a source tree on sys.path, never installed
        return "0+unknown"


_EXPORTS = {
    "open": "lcmem.library",
    "Library": "lcmem.library",
    "IndexReport": "lcmem.report",
    "Document": "lcmem.types",
    "Chunk": "lcmem.types",
    "Hit": "lcmem.types",
    "Span": "lcmem.types",
    "Answer": "lcmem.pipelines.base",
    "errors": "lcmem",
}

if TYPE_CHECKING:  # pragma: no cover
    __version__: str
    from lcmem import errors
    from lcmem.library import Library, open
    from lcmem.pipelines.base import Answer
    from lcmem.report import IndexReport
    from lcmem.types import Chunk, Document, Hit, Span

__all__ = [
    "Answer",
    "Chunk",
    "Document",
    "Hit",
    "IndexReport",
    "Library",
    "Span",
    "errors",
    "open",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # computed on first use: importlib.metadata costs ~0.1 s
        globals()[name] = value = _version()
        return value
    if name == "errors":
        return importlib.import_module("lcmem.errors")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lcmem' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
