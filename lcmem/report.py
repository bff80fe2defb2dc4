"""The report an index run returns: what was added, updated, removed, skipped, and why.

Example:
    >>> r = IndexReport(added=["a.md"])
    >>> r.ok, r.summary()
    (True, '1 added, 0 updated, 0 removed, 0 unchanged, 0 skipped, 0 errors')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class IndexReport:
    """Outcome of :meth:`lcmem.Library.index`.

    Attributes:
        added, updated, removed, unchanged: document paths by what happened to them.
        skipped: ``(path, reason)`` for files left out on purpose (ignored, binary, too large).
        errors: ``(path, message)`` for files that could not be read or parsed; the rest of
            the run went on and a previously indexed version of such a file is kept.
        warnings: ``(path, message)`` for files indexed with a problem (replacement characters).
        chunks_added, chunks_removed: chunk rows written and deleted.
        embedded: chunks whose vector was computed; ``embed_cache_hits``: reused from the cache.
        truncated: ``(path, tokens)`` for documents whose text the embedder cut: how many of
            its tokens it never read (summed over its chunks).
        seconds: wall time of the run.
    """

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    truncated: list[tuple[str, int]] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    embedded: int = 0
    embed_cache_hits: int = 0
    embed_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.errors

    def summary(self) -> str:
        """One line for humans."""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped, "
            f"{len(self.errors)} errors"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (used by ``lcmem index --json``)."""
        d = asdict(self)
        d["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        d["errors"] = [{"path": p, "error": m} for p, m in self.errors]
        d["warnings"] = [{"path": p, "warning": m} for p, m in self.warnings]
        d["truncated"] = {
            "documents": len(self.truncated),
            "tokens": sum(n for _, n in self.truncated),
            "by_path": [{"path": p, "tokens": n} for p, n in self.truncated],
        }
        d["summary"] = self.summary()
        return d
