"""The local executor: run the stages in this process, batch after batch.

Files are read one at a time, chunked in groups (chunkers that embed, such as ``topic``, get
several documents at once), and every ``batch_chunks`` chunks are embedded, committed in one
transaction and added to the indices: a crash loses at most one batch of work.

Example:
    >>> from lcmem.indexing.local import run            # doctest: +SKIP
    >>> run(lib, the_plan, report, bar, batch_chunks=256)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lcmem.indexing import stages
from lcmem.indexing.plan import Plan, unchanged_by_stat
from lcmem.indexing.stages import Failed, Pending, Unchanged
from lcmem.progress import NullProgress
from lcmem.report import IndexReport
from lcmem.stores.sql import StoredDocument

if TYPE_CHECKING:
    from lcmem.library import Library

CHUNK_GROUP = 32  # documents chunked together by chunkers that embed (topic)
SAVE_EVERY_SECONDS = 120.0  # during long runs, save the indices this often


def run(
    lib: Library, the_plan: Plan, report: IndexReport, bar: NullProgress, batch_chunks: int
) -> None:
    """Index the plan's files into ``lib`` (store and loaded indices); fills ``report``."""
    stored = the_plan.stored
    pending: list[Pending] = []
    ready: list[Pending] = []  # read, waiting to be chunked together
    group = CHUNK_GROUP if getattr(lib.chunker, "batches", False) else 1
    queued = 0
    last_save = time.monotonic()
    touched: list[Unchanged] = []
    for f in the_plan.files:
        path = str(f.path)
        existing = stored.get(path)
        if unchanged_by_stat(existing, f.size, f.mtime_ns):
            report.unchanged.append(path)
            bar.file_done()
            continue
        outcome = stages.read(f, existing)
        if isinstance(outcome, Failed):
            report.errors.append((path, outcome.message))
            stored.pop(path, None)  # keep what was indexed before
            bar.file_done()
            continue
        if isinstance(outcome, Unchanged):
            touched.append(outcome)
            report.unchanged.append(path)
            bar.file_done()
            continue
        ready.append(outcome)
        if len(ready) < group:
            continue
        for item in chunk_and_report(lib, ready, stored, report, bar):
            pending.append(item)
            queued += len(item.chunks)
        ready = []
        if queued >= batch_chunks:
            flush(lib, pending, report, bar)
            pending, queued = [], 0
            if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                lib.save()
                last_save = time.monotonic()
    pending += chunk_and_report(lib, ready, stored, report, bar)
    flush(lib, pending, report, bar)
    stages.touch(lib.store, touched)


def chunk_and_report(
    lib: Library,
    items: list[Pending],
    stored: dict[str, StoredDocument],
    report: IndexReport,
    bar: NullProgress,
) -> list[Pending]:
    """Chunk ``items``; failures go to ``report`` (their previous version is kept)."""
    if not items:
        return []
    done: list[Pending] = []
    for outcome in stages.chunk(lib.chunker, items):
        if isinstance(outcome, Failed):
            report.warnings += [(outcome.path, w) for w in outcome.warnings]
            report.errors.append((outcome.path, outcome.message))
            stored.pop(outcome.path, None)  # keep what was indexed before
            bar.file_done()
            continue
        # After chunking: chunkers add warnings too (code that did not parse...).
        report.warnings += [(outcome.doc.path, w) for w in outcome.doc.warnings]
        done.append(outcome)
        bar.chunks_queued(len(outcome.chunks))
        bar.file_done()
    return done


def flush(lib: Library, pending: list[Pending], report: IndexReport, bar: NullProgress) -> None:
    """Embed what the cache lacks, commit documents and chunks, then update the indices."""
    if not pending:
        return
    embedded = stages.embed(lib.embedder, lib.store, pending, bar.chunks_embedded)
    apply_embedded(report, embedded, len(embedded.fresh))
    all_chunks = [n for p in pending for n in p.chunks]
    tokens = lib.analyzer.many([n.chunk.embedding_text() for n in all_chunks])
    new_ids, old_ids = stages.commit(lib.store, pending, embedded.fresh)
    dense, sparse = lib._indices(need_dense=True)
    stages.drop_from_indices(dense, sparse, old_ids)
    if new_ids:
        import numpy as np

        vectors = np.stack([embedded.vectors[n.embed_hash] for n in all_chunks])
        stages.add_to_indices(dense, sparse, new_ids, vectors, tokens)
    for p in pending:
        (report.updated if p.existing else report.added).append(p.doc.path)
    report.chunks_added += len(new_ids)
    report.chunks_removed += len(old_ids)


def apply_embedded(report: IndexReport, embedded: stages.Embedded, computed: int) -> None:
    """Add a batch's embedding counts and truncation to ``report``."""
    report.embed_seconds += embedded.seconds
    if embedded.truncated:
        seen = dict(report.truncated)
        for path, n in embedded.truncated.items():
            seen[path] = seen.get(path, 0) + n
        report.truncated = list(seen.items())
    report.embedded += computed
    report.embed_cache_hits += embedded.cache_hits
