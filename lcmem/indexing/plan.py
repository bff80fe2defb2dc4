"""Plan an index run: which files to look at, what the store holds for them, what is gone.

Planning reads no file content: it walks the paths (``lcmem.loaders.walk``) and compares each
file's size and mtime with the stored document; the stages read the rest.

Example:
    >>> from lcmem.indexing.plan import unchanged_by_stat     # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lcmem.errors import ConfigError, PathNotFoundError
from lcmem.report import IndexReport
from lcmem.stores.sql import SQLStore, StoredDocument
from lcmem.stores.store import Store


@dataclass
class Plan:
    """What an index run works on.

    Attributes:
        files: the ``SourceFile``s found under the paths, in walk order.
        stored: stored documents under the roots, by path (files that failed to load are
            taken out, so their previous version is kept).
    """

    files: list[Any] = field(default_factory=list)
    stored: dict[str, StoredDocument] = field(default_factory=dict)


def resolve_roots(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Path]]:
    """The paths given (expanded) and the roots that exist (resolved); a clear error when
    nothing was given or none exists."""
    given = [Path(os.fspath(p)).expanduser() for p in paths]
    if not given:
        raise ConfigError("nothing to index: give at least one file or folder")
    missing = [p for p in given if not p.exists() and not p.is_symlink()]
    if len(missing) == len(given):
        raise PathNotFoundError(
            f"{', '.join(map(str, missing))} does not exist: check the path"
            if len(missing) == 1
            else f"none of the paths exist: {', '.join(map(str, missing))}"
        )
    return given, [p.resolve() for p in given if p not in missing]


def plan(
    given: Sequence[Path],
    roots: Sequence[Path],
    store: SQLStore | Store,
    max_file_size: int,
    report: IndexReport,
) -> Plan:
    """Walk ``given`` and load what the store holds under ``roots``; skipped files and walk
    errors go to ``report``."""
    from lcmem.loaders import SourceFile, walk

    out = Plan(stored=store.documents_under(roots))
    for item in walk(given, max_file_size=max_file_size):
        if isinstance(item, SourceFile):
            out.files.append(item)
        elif item.error:
            report.errors.append((str(item.path), item.reason))
            out.stored.pop(str(item.path), None)  # keep what was indexed before
        else:
            report.skipped.append((str(item.path), item.reason))
    return out


def unchanged_by_stat(existing: StoredDocument | None, size: int, mtime_ns: int) -> bool:
    """True when the stored document has this size and mtime (the file is not read again)."""
    return existing is not None and existing.size == size and existing.mtime_ns == mtime_ns


def gone(the_plan: Plan) -> list[StoredDocument]:
    """Stored documents under the roots whose file is no longer found (or is now ignored)."""
    seen = {str(f.path) for f in the_plan.files}
    return [d for p, d in the_plan.stored.items() if p not in seen]
