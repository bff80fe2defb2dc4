"""The Ray executor: the same stages, spread over a Ray cluster with Ray Data.

The driver plans the run (walk, size/mtime check against the store). Ray Data then reads and
chunks the files in parallel tasks, and a pool of embedder actors (one model load each,
``num_gpus`` each when asked) embeds each batch of documents and writes documents, chunks and
vectors to the store in one idempotent transaction per batch (documents looked up by path,
left alone when their stored content hash is already this one). Ray restarts a killed actor
and retries its batch; a retried batch that had committed changes nothing. The driver then
deletes the documents that are gone and brings FAISS and BM25 in line with the store, as
when a library is opened (vectors come from the store's cache, nothing is embedded twice).

Workers open the library themselves (``Library(target, index_dir=...)``): the store must be
reachable from every node (PostgreSQL for a real cluster; a SQLite folder works on one
machine) and lcmem must be installed on every node. Embedder and chunker are rebuilt from
the library's manifest.

Example:
    >>> lib = lcmem.open(url="postgresql+psycopg://lcmem@db/lib")      # doctest: +SKIP
    >>> lib.index(["./docs"], executor="ray", ray_address="auto")       # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lcmem.errors import ConfigError
from lcmem.indexing import stages
from lcmem.indexing.plan import Plan, unchanged_by_stat
from lcmem.indexing.stages import Failed, Pending, Unchanged
from lcmem.progress import NullProgress
from lcmem.report import IndexReport
from lcmem.stores.sql import NewChunk, StoredDocument
from lcmem.types import Chunk, Document

if TYPE_CHECKING:
    from lcmem.library import Library

READ_BATCH = 8  # files read and chunked per Ray Data task
WRITE_BATCH = 16  # documents embedded and committed per actor call (one transaction)
READ_CPUS = 0.25  # CPUs a read-and-chunk task asks for
ACTOR_CPUS = 1.0  # CPUs (and embedding threads) per embedder actor, at most

_OPEN: dict[tuple[str, str], Library] = {}  # per worker process: the library, opened once


def import_ray() -> Any:
    """``ray``, or a one-line error naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ConfigError("indexing on Ray needs the ray extra: pip install 'lcmem[ray]'") from exc
    return ray


def connect(address: str | None) -> Any:
    """Join the Ray cluster at ``address`` (``auto``: a running cluster, else a local one;
    ``local`` or ``None``: a new local one), unless this process already has."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address in (None, "local"):
        same_priority_workers()
        ray.init(include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    elif address == "auto":
        try:
            ray.init(address="auto", logging_level="WARNING", log_to_driver=False)
        except ConnectionError:
            same_priority_workers()
            ray.init(include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    else:
        ray.init(address=address, logging_level="WARNING", log_to_driver=False)
    return ray


def same_priority_workers() -> None:
    """Before a local cluster starts: its workers run at this process's priority.

    Ray starts worker processes 15 nice levels below the raylet (``RAY_worker_niceness``,
    default 15), so on a machine shared with other work the embedder actors got a small
    share of the CPU next to a local run of the same code (issue 18's 2,000-page run:
    actors at nice 15 beside processes at nice 10). A user who wants them lower still runs
    ``nice lcmem index --ray``; an explicit ``RAY_worker_niceness`` is kept.
    """
    import os

    os.environ.setdefault("RAY_worker_niceness", "0")


def run(
    lib: Library,
    the_plan: Plan,
    report: IndexReport,
    bar: NullProgress,
    *,
    address: str | None = "auto",
    actors: int | None = None,
    num_gpus: float | None = None,
    write_batch: int | None = None,
) -> None:
    """Index the plan's files into ``lib``'s store on Ray; fills ``report``.

    Args:
        address: the cluster (see :func:`connect`).
        actors: embedder actors (default: one per two CPUs of the cluster, at least one;
            with GPUs, one per GPU).
        num_gpus: GPUs per embedder actor (default: 1 when the cluster has GPUs, else 0).
        write_batch: documents embedded and committed per transaction (default
            :data:`WRITE_BATCH`); a killed actor loses at most one batch, which Ray retries.
    """
    ray = connect(address)
    cluster = ray.cluster_resources()
    gpus = float(cluster.get("GPU", 0))
    if num_gpus is None:
        num_gpus = 1.0 if gpus >= 1 else 0.0
    cpus = float(cluster.get("CPU", 2))
    if actors is None:
        per = int(gpus // num_gpus) if num_gpus else int(cpus) // 2
        actors = max(1, per)
    # Actors must leave room for a read-and-chunk task, or they wait for input forever.
    actor_cpus = min(ACTOR_CPUS, max(0.1, (cpus - READ_CPUS) / actors))
    items = []
    order: dict[str, int] = {}
    for f in the_plan.files:
        path = str(f.path)
        order[path] = len(order)
        existing = the_plan.stored.get(path)
        if unchanged_by_stat(existing, f.size, f.mtime_ns):
            report.unchanged.append(path)
            bar.file_done()
            continue
        items.append(_file_row(f, existing))
    touched: list[Unchanged] = []
    if items:
        _quiet_ray_data(ray, bar)
        spec = {"target": lib.location, "index_dir": str(lib.folder)}
        # at least two blocks per actor, so that every actor gets batches to embed
        blocks = min(len(items), max(2 * actors, -(-len(items) // READ_BATCH)))
        ds = ray.data.from_items(items, override_num_blocks=blocks)
        # Reading and chunking are light next to embedding: a quarter CPU per task, which
        # also keeps Ray Data from fusing them into the embedder actors.
        ds = ds.map_batches(
            read_and_chunk, fn_kwargs=spec, batch_size=READ_BATCH, num_cpus=READ_CPUS
        )
        ds = ds.map_batches(
            EmbedWriter,
            fn_constructor_kwargs={**spec, "threads": max(1, round(actor_cpus))},
            batch_size=max(1, write_batch or WRITE_BATCH),
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=actor_cpus,
            num_gpus=num_gpus,
        )
        outcomes = [json.loads(r["payload"]) for r in ds.iter_rows()]
        outcomes.sort(key=lambda o: order.get(o["path"], 0))
        for o in outcomes:
            _apply(o, the_plan.stored, report, bar, touched)
    stages.touch(lib.store, touched)


def _quiet_ray_data(ray: Any, bar: NullProgress) -> None:
    """No Ray Data progress bars or per-run log lines unless lcmem shows progress itself."""
    import logging

    ctx = ray.data.DataContext.get_current()
    shown = type(bar) is not NullProgress
    ctx.enable_progress_bars = shown
    if not shown:
        logging.getLogger("ray.data").setLevel(logging.WARNING)


def _file_row(f: Any, existing: StoredDocument | None) -> dict[str, Any]:
    return {
        "path": str(f.path),
        "root": str(f.root),
        "size": int(f.size),
        "mtime_ns": int(f.mtime_ns),
        "existing": json.dumps(existing.__dict__ if existing else None),
    }


def _apply(
    o: dict[str, Any],
    stored: dict[str, StoredDocument],
    report: IndexReport,
    bar: NullProgress,
    touched: list[Unchanged],
) -> None:
    """Add one document's outcome to the report, as the local executor would."""
    path = o["path"]
    report.warnings += [(path, w) for w in o.get("warnings", [])]
    kind = o["kind"]
    if kind == "failed":
        report.errors.append((path, o["message"]))
        stored.pop(path, None)  # keep what was indexed before
    elif kind == "unchanged":
        touched.append(Unchanged(path, o["doc_id"], o["size"], o["mtime_ns"]))
        report.unchanged.append(path)
    else:
        existing = o["existing"]
        (report.updated if existing else report.added).append(path)
        report.chunks_added += o["written"]
        report.chunks_removed += o["replaced"]
        report.embedded += o["embedded"]
        report.embed_cache_hits += o["cache_hits"]
        report.embed_seconds += o["embed_seconds"]
        if o["truncated"]:
            report.truncated.append((path, o["truncated"]))
        bar.chunks_queued(o["written"])
        bar.chunks_embedded(o["written"])
    bar.file_done()


def _library(target: str, index_dir: str, threads: int | None = None) -> Library:
    """The library in this worker process, opened once (embedder and chunker from its
    manifest)."""
    key = (target, index_dir)
    if key not in _OPEN:
        from lcmem.library import Library

        _OPEN[key] = Library(target, index_dir=index_dir, threads=threads)
    return _OPEN[key]


def read_and_chunk(batch: dict[str, np.ndarray], target: str, index_dir: str) -> dict[str, Any]:
    """Ray Data task: read and chunk a batch of files; one JSON payload per file."""
    from lcmem.loaders import SourceFile

    lib = _library(target, index_dir)
    out: list[str] = []
    ready: list[Pending] = []
    for path, root, size, mtime_ns, existing_json in zip(
        batch["path"],
        batch["root"],
        batch["size"],
        batch["mtime_ns"],
        batch["existing"],
        strict=True,
    ):
        data = json.loads(existing_json)
        existing = StoredDocument(**data) if data else None
        f = SourceFile(Path(path), Path(root), int(size), int(mtime_ns))
        outcome = stages.read(f, existing)
        if isinstance(outcome, Pending):
            ready.append(outcome)
        else:
            out.append(json.dumps(_outcome_dict(outcome)))
    if ready:
        for outcome in stages.chunk(lib.chunker, ready):
            if isinstance(outcome, Failed):
                out.append(json.dumps(_outcome_dict(outcome)))
            else:
                out.append(json.dumps({"kind": "pending", **_pending_dict(outcome)}))
    return {"payload": np.asarray(out, dtype=object)}


class EmbedWriter:
    """Ray Data actor: embeds a batch of chunked documents and commits it idempotently.

    One per actor process: the embedder is loaded once, in ``__init__``.
    """

    def __init__(self, target: str, index_dir: str, threads: int | None = None) -> None:
        self.lib = _library(target, index_dir, threads)
        self.embedder = self.lib.embedder  # the model load, once per actor

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        rows = [json.loads(p) for p in batch["payload"]]
        pending = [_pending_from(r) for r in rows if r["kind"] == "pending"]
        out = [json.dumps(r) for r in rows if r["kind"] != "pending"]
        if pending:
            embedded = stages.embed(self.embedder, self.lib.store, pending)
            done = stages.commit_idempotent(self.lib.store, pending, embedded.fresh)
            computed = _computed_per_document(pending, embedded)
            for p, (_status, written, replaced) in zip(pending, done, strict=True):
                path = p.doc.path
                out.append(
                    json.dumps(
                        {
                            "kind": "written",
                            "path": path,
                            "existing": p.existing is not None,
                            "written": written,
                            "replaced": replaced,
                            "embedded": computed[path],
                            "cache_hits": len(p.chunks) - computed[path],
                            "embed_seconds": embedded.seconds / len(pending),
                            "truncated": embedded.truncated.get(path, 0),
                            "warnings": list(p.doc.warnings),
                        }
                    )
                )
        return {"payload": np.asarray(out, dtype=object)}


def _computed_per_document(pending: list[Pending], embedded: stages.Embedded) -> dict[str, int]:
    """Vectors computed in this batch, credited to the first document holding each text."""
    seen: set[str] = set()
    out: dict[str, int] = {}
    for p in pending:
        n = 0
        for c in p.chunks:
            if c.embed_hash in embedded.fresh and c.embed_hash not in seen:
                seen.add(c.embed_hash)
                n += 1
        out[p.doc.path] = n
    return out


def _outcome_dict(outcome: Unchanged | Failed) -> dict[str, Any]:
    if isinstance(outcome, Unchanged):
        return {"kind": "unchanged", **outcome.__dict__}
    return {"kind": "failed", **outcome.__dict__}


def _pending_dict(p: Pending) -> dict[str, Any]:
    return {
        "path": p.doc.path,
        "text": p.doc.text,
        "meta": p.doc.metadata,
        "warnings": p.doc.warnings,
        "raw_hash": p.raw_hash,
        "size": p.size,
        "mtime_ns": p.mtime_ns,
        "existing": p.existing.__dict__ if p.existing else None,
        "chunks": [
            {
                "text": n.chunk.text,
                "start": n.chunk.start,
                "end": n.chunk.end,
                "context": n.chunk.context,
                "token_count": n.chunk.token_count,
                "metadata": n.chunk.metadata,
                "line_start": n.line_start,
                "line_end": n.line_end,
                "embed_hash": n.embed_hash,
            }
            for n in p.chunks
        ],
    }


def _pending_from(r: dict[str, Any]) -> Pending:
    doc = Document(r["text"], path=r["path"], metadata=r["meta"], warnings=r["warnings"])
    chunks = [
        NewChunk(
            Chunk(
                text=c["text"],
                start=c["start"],
                end=c["end"],
                context=c["context"],
                token_count=c["token_count"],
                metadata=c["metadata"],
                doc_path=r["path"],
            ),
            c["line_start"],
            c["line_end"],
            c["embed_hash"],
        )
        for c in r["chunks"]
    ]
    existing = StoredDocument(**r["existing"]) if r["existing"] else None
    return Pending(doc, r["raw_hash"], r["size"], r["mtime_ns"], existing, chunks)
