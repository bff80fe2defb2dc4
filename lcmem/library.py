"""The Library: one folder (or database) of indexed documents, searchable three ways.

``Library`` wires the loaders, a chunker, the embedder, the SQL store and the FAISS + BM25
indices together. The SQL store is the source of truth; the indices are derived from it, saved
atomically, and brought back in line with it when opened (after a crash, say), without
re-embedding anything: vectors are cached in the store by content hash.

Example:
    >>> import lcmem                                          # doctest: +SKIP
    >>> lib = lcmem.open("./.lcmem")                          # doctest: +SKIP
    >>> report = lib.index(["./docs"])                        # doctest: +SKIP
    >>> for hit in lib.search("how do I install it?", k=3):  # doctest: +SKIP
    ...     print(hit.path, hit.chunk.line_start, hit.chunk.context)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from lcmem._atomic import atomic_path
from lcmem.embedders.base import Embedder
from lcmem.errors import (
    ConfigError,
    EmbedderMismatchError,
    EmptyQueryError,
    IndexCorruptError,
    PathNotFoundError,
    StoreError,
)
from lcmem.progress import make_progress
from lcmem.report import IndexReport
from lcmem.stores.store import Store
from lcmem.types import Chunk, Hit

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from lcmem.chunkers.base import Chunker  # imported when a chunker is made: ~0.07 s
    from lcmem.llm.base import LLM
    from lcmem.pipelines.base import Answer

FORMAT_VERSION = 1
DEFAULT_STORE = ".lcmem"
Mode = Literal["hybrid", "dense", "bm25"]
MODES = ("hybrid", "dense", "bm25")
GROUPS = ("chunk", "document")

_FLUSH_CHUNKS = 256  # chunks embedded and committed per transaction
BM25_DEFAULTS: dict[str, Any] = {"b": 0.5, "length_floor": 0.5}
"""``BM25Index`` settings of a new library, recorded in its manifest (``"bm25"``); a library
made before the manifest recorded them keeps plain BM25 (``b=0.75``, no floor).

A library's documents are chunks, and a chunk of a few words left beside full ones (a page
header, one inserted sentence) got a small length norm and outranked the full chunk holding
the answer. Chosen on the dev split of ``benchmarks/bm25_length_sweep.py`` (exact names in
16k-token documents, 360 dev documents of three generators: 21 wrong with b=0.75, 5 with
this; man-page retrieval nDCG@10 0.6965 -> 0.6944); see ``benchmarks/results/short_chunks.md``."""
_PHRASE_LIMIT = 100_000  # most occurrences of a quoted phrase considered by hybrid search


def open(
    path_or_url: str | os.PathLike[str] = DEFAULT_STORE,
    *,
    url: str | None = None,
    embedder: Embedder | str | None = None,
    chunker: Chunker | str | None = None,
    chunk_size: int | None = None,
    chunk_overlap: int | None = None,
    faiss_kind: str | None = None,
    index_dir: str | os.PathLike[str] | None = None,
    embed_precision: str | None = None,
    threads: int | None = None,
) -> Library:
    """Open (or create) a library.

    Args:
        path_or_url: a folder (created if missing; ``./.lcmem`` by default) or a SQLAlchemy
            database URL such as ``postgresql+psycopg://user@host/db``.
        url: same as a URL ``path_or_url`` (keyword form).
        embedder: an :class:`~lcmem.embedders.base.Embedder` or a sentence-transformers model
            name/path; default: the library's recorded embedder, else all-MiniLM-L6-v2.
        chunker: a :class:`~lcmem.chunkers.base.Chunker` or a name (``auto``, ``token``,
            ``sentence``, ``recursive``, ``markdown``); default ``auto``.
        chunk_size: budget in the embedder's tokens for named chunkers.
        chunk_overlap: overlap in the embedder's tokens for named chunkers.
        faiss_kind: for a new library: ``auto`` (default: exact while small, approximate from
            :data:`~lcmem.indexers.dense_policy.SWITCH_AT` chunks on; see
            :mod:`lcmem.indexers.dense_policy`), or ``flat`` (always exact), ``ivf``, ``hnsw``.
        index_dir: where index files live for a database URL (default: the user cache dir).
        embed_precision: ``fp32`` or ``int8`` for a new library (default fp32); an existing
            library keeps its recorded precision (asking for another is an error).
        threads: embedding threads (default: every core).

    Example:
        >>> lib = open("/tmp/lcmem-doc-example")                 # doctest: +SKIP
    """
    target = url or os.fspath(path_or_url)
    return Library(
        target,
        embedder=embedder,
        chunker=chunker,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        faiss_kind=faiss_kind,
        index_dir=index_dir,
        embed_precision=embed_precision,
        threads=threads,
    )


class Library:
    """A searchable library of documents. Use :func:`lcmem.open` to get one."""

    def __init__(
        self,
        target: str,
        *,
        embedder: Embedder | str | None = None,
        chunker: Chunker | str | None = None,
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
        faiss_kind: str | None = None,
        index_dir: str | os.PathLike[str] | None = None,
        embed_precision: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.location = target
        db_url, folder = _resolve_target(target, index_dir)
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.store = Store(db_url)
        self.manifest: dict[str, Any] = self.store.get_meta("manifest") or {}
        self._embedder = self._choose_embedder(embedder, embed_precision, threads)
        self._dim_checked = False
        self._chunker_arg = (chunker, chunk_size, chunk_overlap)
        self._chunker: Chunker | None = None
        self._analyzer: Any = None
        from lcmem.indexers.dense_policy import KINDS

        if faiss_kind is not None and faiss_kind not in KINDS:
            raise ConfigError(f"faiss kind must be auto, flat, ivf or hnsw, got {faiss_kind!r}")
        recorded_kind = self.manifest.get("faiss", {}).get("kind")
        if faiss_kind and recorded_kind and faiss_kind != recorded_kind:
            raise ConfigError(
                f"this library uses a {recorded_kind} FAISS index; index into a new --store "
                f"to use {faiss_kind}"
            )
        self.faiss_kind = faiss_kind or recorded_kind or "auto"
        self._dense: Any = None
        self._sparse: Any = None
        # store generation each loaded index ("dense", "sparse") was last brought in line with
        self._synced: dict[str, int] = {}
        self._exact_indices: dict[str, Any] = {}  # variant -> ExactIndex, loaded on first use
        self._exact_synced: dict[str, int] = {}  # variant -> store generation last reconciled
        self._exact_merges: list[Any] = []  # background merge processes this object started

    # -- components (loaded lazily) -------------------------------------------------------
    def _choose_embedder(
        self, embedder: Embedder | str | None, precision: str | None, threads: int | None
    ) -> Embedder:
        """The embedder asked for, else the recorded one, else the default.

        A plain sentence-transformers model runs on ONNX Runtime when it exports (issue 15):
        its fp32 vectors are the same model's (minimum cosine >= 0.99999 against torch), so a
        library built with the torch backend is searched with the ONNX one and vice versa; the
        recorded ``name`` is the model's, not the backend's. The precision is recorded
        (missing: ``fp32``, libraries made before issue 15) and must match.
        """
        from lcmem.embedders.auto import load_embedder, precision_of
        from lcmem.embedders.sentence import DEFAULT_MODEL

        recorded = self.manifest.get("embedder")
        recorded_precision = recorded.get("precision", "fp32") if recorded else None
        if precision and recorded_precision and precision != recorded_precision:
            raise EmbedderMismatchError(
                f"the library at {self.location} was embedded at {recorded_precision} "
                f"precision, not {precision}: omit --embed-precision, or index into a new --store"
            )
        asked = precision
        precision = precision or recorded_precision or "fp32"
        if embedder is None:
            model = recorded.get("model", DEFAULT_MODEL) if recorded else DEFAULT_MODEL
            # -- long-context embedder setting (issue 4): rebuilt from the manifest ----------
            if recorded and recorded.get("strategy"):
                from lcmem.embedders.longctx import make_embedder

                return make_embedder(
                    model,
                    strategy=recorded["strategy"],
                    max_tokens=recorded.get("max_tokens"),
                    trust_remote_code=bool(recorded.get("trust_remote_code")),
                    # libraries made before the window was recorded used the position table
                    native_tokens=recorded.get("native_tokens", "table"),
                )
            return load_embedder(model, precision=precision, threads=threads)
        emb = (
            load_embedder(embedder, precision=precision, threads=threads)
            if isinstance(embedder, str)
            else embedder
        )
        if asked and precision_of(emb) != asked:
            raise ConfigError(
                f"precision {asked} was asked for but the embedder given computes in "
                f"{precision_of(emb)}: drop one of the two settings"
            )
        if recorded and precision_of(emb) != recorded_precision:
            raise EmbedderMismatchError(
                f"the library at {self.location} was embedded at {recorded_precision} "
                f"precision, not {precision_of(emb)}: index into a new --store"
            )
        if recorded and emb.name != recorded.get("name"):
            raise EmbedderMismatchError(
                f"the library at {self.location} was built with embedder "
                f"{recorded.get('name')!r} (dim {recorded.get('dim')}), not {emb.name!r}: "
                "open it without an embedder setting, or index into a new --store"
            )
        return emb

    @property
    def embedder(self) -> Embedder:
        """The embedder; its dimension is checked against the library's on first use."""
        recorded = self.manifest.get("embedder")
        if recorded and not self._dim_checked:
            if self._embedder.dim != recorded.get("dim"):
                raise EmbedderMismatchError(
                    f"embedder {self._embedder.name!r} gives {self._embedder.dim}-dim vectors "
                    f"but the library at {self.location} holds {recorded.get('dim')}-dim ones: "
                    "use the library's embedder or index into a new --store"
                )
            self._dim_checked = True
        return self._embedder

    @property
    def chunker(self) -> Chunker:
        """The chunker (``auto`` by default), with budgets in the embedder's tokens."""
        if self._chunker is None:
            self._chunker = self._make_chunker()
        return self._chunker

    def _make_chunker(self) -> Chunker:
        """The chunker asked for, completed from the library's recorded settings.

        Only the settings a user chooses (name, size, overlap) must match the library's; the
        rest of ``config()`` may change between lcmem versions (documents indexed before keep
        their chunks, changed files get the new ones).
        """
        from lcmem.chunkers import get_chunker
        from lcmem.chunkers.base import Chunker
        from lcmem.tokens import HFTokenizer

        arg, size, overlap = self._chunker_arg
        recorded = self.manifest.get("chunker") or {}
        if isinstance(arg, Chunker):
            chunker = arg
        else:
            name = arg or recorded.get("name", "auto")
            same_name = name == recorded.get("name")
            kwargs: dict[str, Any] = {
                "chunk_size": size
                if size is not None
                else (recorded.get("chunk_size") if same_name else None),
                "chunk_overlap": overlap
                if overlap is not None
                else (recorded.get("overlap") if same_name else None),
            }
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
            tokenizer = _embedder_tokenizer(self._embedder) or HFTokenizer.default()
            if name == "topic":  # sentences are embedded with the library's own model
                kwargs["embedder"] = self.embedder
            chunker = get_chunker(name, tokenizer=tokenizer, **kwargs)
        if recorded and _chunker_key(chunker.config()) != _chunker_key(recorded):
            raise ConfigError(
                f"this library was chunked with {_describe_chunker(recorded)}, not "
                f"{_describe_chunker(chunker.config())}: keep its chunker settings (omit "
                "--chunker/--chunk-size/--chunk-overlap) or index into a new --store"
            )
        return chunker

    @property
    def analyzer(self) -> Any:
        """The BM25 analyzer (lowercase, stopwords, stemming)."""
        if self._analyzer is None:
            from lcmem.indexers.analyzer import Analyzer

            recorded = self.manifest.get("analyzer")
            self._analyzer = (
                Analyzer.from_config(_analyzer_kwargs(recorded)) if recorded else Analyzer()
            )
        return self._analyzer

    # -- index files ----------------------------------------------------------------------
    @property
    def _faiss_path(self) -> Path:
        return self.folder / "faiss.index"

    @property
    def _bm25_path(self) -> Path:
        return self.folder / "bm25"

    @property
    def _state_path(self) -> Path:
        return self.folder / "index_state.json"

    def _indices(self, need_dense: bool = True) -> tuple[Any, Any]:
        """Load (or create) both indices and bring them in line with the store."""
        from lcmem.indexers.bm25 import BM25Index

        loading = self._sparse is None or (need_dense and self._dense is None)
        state = self._state() if loading else {}  # read first: the files are at least this new
        if self._sparse is None:
            params = self._bm25_params()
            self._sparse = self._load_or_new(
                BM25Index, self._bm25_path, lambda: BM25Index(**params)
            )
            self._reconcile_sparse(state=state)
        if need_dense and self._dense is None:
            from lcmem.indexers.dense_policy import index_spec, new_setting
            from lcmem.indexers.faiss import FaissIndex

            dim = self._dim()
            kind, params = index_spec(self.manifest.get("faiss") or new_setting(self.faiss_kind))
            self._dense = self._load_or_new(
                FaissIndex, self._faiss_path, lambda: FaissIndex(dim, kind=kind, **params), state
            )
            if self._dense.dim != dim:
                raise EmbedderMismatchError(
                    f"faiss.index in {self.folder} holds {self._dense.dim}-dim vectors but the "
                    f"embedder gives {dim}: delete {self._faiss_path} to rebuild it"
                )
            self._reconcile_dense(state=state)
        return self._dense, self._sparse

    def _current_indices(self, need_dense: bool = True) -> tuple[Any, Any]:
        """:meth:`_indices`, also following commits made since they were loaded, by this
        process or another one (a second store on the same PostgreSQL database, or an
        ``lcmem index`` run beside a long-lived ``lcmem serve``): one generation read per
        call; when it moved, the loaded indices take the store's added chunks and drop its
        removed ones (an id diff, as at open). Not used while indexing: the index run
        updates its own indices as it commits."""
        dense, sparse = self._indices(need_dense)
        generation = self.store.generation
        if self._synced.get("sparse") != generation:
            self._reconcile_sparse(generation)
        if dense is not None and self._synced.get("dense") != generation:
            self._reconcile_dense(generation)
        return dense, sparse

    def _dim(self) -> int:
        """Vector dimension: the recorded one, so opening and re-indexing unchanged files does
        not load the model (it is checked against the model when something is embedded)."""
        recorded = self.manifest.get("embedder") or {}
        return int(recorded["dim"]) if "dim" in recorded else self.embedder.dim

    def _bm25_params(self) -> dict[str, Any]:
        """The BM25 settings of this library: its manifest's, :data:`BM25_DEFAULTS` for a
        new one, plain BM25 for one whose manifest predates them."""
        if not self.manifest:
            return dict(BM25_DEFAULTS)
        return dict(self.manifest.get("bm25") or {})

    def _load_or_new(
        self, cls: Any, path: Path, new: Any, state: dict[str, Any] | None = None
    ) -> Any:
        """``cls`` loaded from ``path``, or ``new()`` when there is no file or it is corrupt.
        ``state``: the :meth:`_state` read before loading (its file stamps)."""
        if not path.exists():
            return new()
        try:
            if cls.__name__ == "FaissIndex":
                # The whole-file checksum reads every vector (7.7 s for 1.5 GB here, measured at
                # 195 MiB/s under load): skip it for the file this library saved itself, same
                # size and mtime as recorded at save time; any other file is verified.
                return cls.load(path, mmap=True, verify=not _saved_file(path, state or {}))
            return cls.load(path, mmap=True)
        except IndexCorruptError:
            # Derived data: rebuild it from the store rather than fail.
            return new()

    def _state(self) -> dict[str, Any]:
        """``index_state.json``: the store generation the indices were saved at, with (since
        issue 18) the chunk count then and the size and mtime of each index file. Read once
        per index load, so the generation, the count and the file stamps that decide it come
        from one save (another process may save meanwhile)."""
        try:
            state = json.loads(self._state_path.read_text())
            return state if isinstance(state, dict) else {}
        except (OSError, ValueError):
            return {}

    def _index_is_current(self, index: Any, state: dict[str, Any] | None, generation: int) -> bool:
        """Whether ``index``, just loaded from files saved as ``state`` records, matches
        the store at ``generation`` without an id diff."""
        if state is None or _generation_of(state) != generation:
            return False
        # Same generation: no chunk changed since the save, so the count recorded then is the
        # store's (a COUNT over a million rows costs ~0.7 s; only old state files need it).
        count = state.get("chunks")
        return len(index) == (count if isinstance(count, int) else self.store.chunk_count())

    def _reconcile_sparse(
        self, generation: int | None = None, state: dict[str, Any] | None = None
    ) -> None:
        """Bring BM25 in line with the store at ``generation`` (read now if not given; it
        must be read before the store's ids, so that a commit made meanwhile is seen by
        the next check). ``state``: the :meth:`_state` of freshly loaded files."""
        generation = self.store.generation if generation is None else generation
        if not self._index_is_current(self._sparse, state, generation):
            missing, extra = _id_diff(self._sparse.ids(), self.store.chunk_ids())
            if len(extra):
                self._sparse.remove(extra)
            for batch in self.store.iter_chunk_texts(missing.tolist()):
                ids = [r[0] for r in batch]
                tokens = self.analyzer.many([_embedding_text(r[1], r[2]) for r in batch])
                self._sparse.add(np.asarray(ids, dtype=np.int64), tokens)
        self._synced["sparse"] = generation

    def _reconcile_dense(
        self, generation: int | None = None, state: dict[str, Any] | None = None
    ) -> None:
        """Bring FAISS in line with the store, as :meth:`_reconcile_sparse` does BM25."""
        generation = self.store.generation if generation is None else generation
        if not self._index_is_current(self._dense, state, generation):
            self._diff_dense()
        self._synced["dense"] = generation

    def _diff_dense(self) -> None:
        """Add the store's chunks FAISS lacks (vectors from the store's cache) and drop the
        ones the store no longer has."""
        missing, extra = _id_diff(self._dense.ids(), self.store.chunk_ids())
        if len(extra):
            self._dense.remove(extra)
        dim = self._dim()
        for batch in self.store.iter_chunk_texts(missing.tolist()):
            cached = self.store.get_embeddings([r[3] for r in batch], dim)
            absent = [r for r in batch if r[3] not in cached]
            if absent:  # only if the cache lost rows; embed them again
                vecs = self.embedder.embed([_embedding_text(r[1], r[2]) for r in absent])
                fresh = {r[3]: v for r, v in zip(absent, vecs, strict=True)}
                with self.store.engine.begin() as conn:
                    self.store.put_embeddings(conn, fresh)
                cached.update(fresh)
            ids = np.asarray([r[0] for r in batch], dtype=np.int64)
            self._dense.add(ids, np.stack([cached[r[3]] for r in batch]))

    def save(self) -> None:
        """Write the indices (atomically) and the manifest."""
        generation = self.store.generation
        chunks = self.store.chunk_count()
        if self._sparse is not None:
            self._sparse.save(self._bm25_path)
        if self._dense is not None:
            self._dense.save(self._faiss_path)
        for exact_index in self._exact_indices.values():
            exact_index.save()
        files = dict(self._state().get("files") or {})  # an index not loaded keeps its entry
        if self._dense is not None and self._faiss_path.is_file():
            st = self._faiss_path.stat()
            files[self._faiss_path.name] = [st.st_size, st.st_mtime_ns]
        state = {"generation": generation, "chunks": chunks, "files": files}
        with atomic_path(self._state_path) as tmp:
            tmp.write_text(json.dumps(state))
        for name, index in (("sparse", self._sparse), ("dense", self._dense)):
            if index is not None:  # they hold what the store held at this generation
                self._synced[name] = generation
        self._write_manifest_file()

    def _write_manifest_file(self) -> None:
        if not self.manifest:
            return
        with atomic_path(self.folder / "manifest.json") as tmp:
            tmp.write_text(json.dumps(self.manifest, indent=2, sort_keys=True) + "\n")

    def _ensure_manifest(self) -> None:
        """Record embedder, chunker and analyzer settings the first time a library is filled."""
        if self.manifest:
            return
        from lcmem import __version__
        from lcmem.embedders.auto import precision_of
        from lcmem.indexers.bm25 import BM25Index
        from lcmem.indexers.dense_policy import new_setting
        from lcmem.indexers.exact_merge import MergePolicy

        emb = self.embedder
        self.manifest = {
            "format_version": FORMAT_VERSION,
            "lcmem_version": __version__,
            "embedder": {
                "name": emb.name,
                "model": getattr(emb, "model_name", emb.name),
                "dim": emb.dim,
                "max_tokens": emb.max_tokens,
                "precision": precision_of(emb),
                **_long_context_setting(emb),
            },
            "chunker": self.chunker.config(),
            "analyzer": self.analyzer.config(),
            "bm25": BM25Index(**BM25_DEFAULTS).params(),
            "faiss": new_setting(self.faiss_kind),
            "fusion": self.fusion.to_dict(),
            "exact": {"variants": ["exact"], "merge": MergePolicy().to_dict()},
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.store.set_meta("manifest", self.manifest)
        self._write_manifest_file()

    # -- indexing -------------------------------------------------------------------------
    def index(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        max_file_size: int = 10 * 2**20,
        progress: bool | None = False,
        batch_chunks: int = _FLUSH_CHUNKS,
        executor: Literal["local", "ray"] = "local",
        ray_address: str | None = "auto",
        ray_actors: int | None = None,
        ray_batch_docs: int | None = None,
    ) -> IndexReport:
        """Index files and folders incrementally.

        Unchanged files (same size and mtime, or same content hash) are not re-read, chunked
        nor embedded; changed files are re-chunked; files under ``paths`` that disappeared
        (or are now ignored) leave every index. A file that cannot be read is reported in
        ``errors`` and its previously indexed version, if any, is kept.

        Args:
            paths: files and folders.
            max_file_size: larger files are skipped (bytes).
            progress: show progress bars on stderr (``None``: if it is a terminal).
            batch_chunks: chunks embedded and committed per transaction; a crash loses at
                most one batch of work.
            executor: ``local`` (this process) or ``ray`` (Ray Data reads and chunks, a pool
                of embedder actors embeds and writes to the store; needs ``lcmem[ray]``).
            ray_address: the Ray cluster: ``auto`` (a running one, else a local one),
                ``local`` or an address such as ``ray://head:10001``.
            ray_actors: embedder actors (default: one per GPU, else one per two CPUs).
            ray_batch_docs: documents embedded and committed per transaction on Ray
                (default 16).

        Returns:
            An :class:`~lcmem.report.IndexReport`.
        """
        from lcmem.indexing import EXECUTORS, local, stages
        from lcmem.indexing import ray as ray_executor
        from lcmem.indexing.plan import gone, plan, resolve_roots

        started = time.perf_counter()
        report = IndexReport()
        given, roots = resolve_roots(paths)
        if executor not in EXECUTORS:
            raise ConfigError(f"executor must be local or ray, got {executor!r}")
        if executor == "ray":
            ray_executor.import_ray()  # a missing extra fails before any work
        with self._lock(), make_progress(progress) as bar:
            self._ensure_manifest()
            _ = self.chunker  # settings that differ from the library's fail before any work
            dense, sparse = self._indices(need_dense=True)
            the_plan = plan(given, roots, self.store, max_file_size, report)
            bar.files_total(len(the_plan.files))
            if executor == "ray":
                ray_executor.run(
                    self,
                    the_plan,
                    report,
                    bar,
                    address=ray_address,
                    actors=ray_actors,
                    write_batch=ray_batch_docs,
                )
            else:
                local.run(self, the_plan, report, bar, max(1, batch_chunks))
            removed = gone(the_plan)
            if removed:
                removed_ids = stages.delete(self.store, removed)
                stages.drop_from_indices(dense, sparse, removed_ids)
                report.removed += [d.path for d in removed]
                report.chunks_removed += len(removed_ids)
            if executor == "ray":  # workers wrote to the store: indices follow it
                self._reconcile_sparse()
                self._reconcile_dense()
            for variant in self._exact_variants():
                self._exact(variant)  # one new segment for this run's documents
            self._switch_dense()
            self.save()
            self._merge_exact()
        report.seconds = time.perf_counter() - started
        _warn_truncated(self.embedder, report)
        return report

    def _switch_dense(self) -> None:
        """Convert an ``auto`` library's flat index to the approximate one once it is large
        enough, and record it in the manifest (see :mod:`lcmem.indexers.dense_policy`)."""
        from lcmem.indexers.dense_policy import switch, switched

        setting = self.manifest.get("faiss")
        change = switch(setting, len(self._dense)) if self._dense is not None else None
        if change is None or setting is None:
            return
        kind, params = change
        started = time.perf_counter()
        self._dense = self._dense.convert(kind, **params)
        n = len(self._dense)
        self.manifest = {**self.manifest, "faiss": switched(setting, kind, params, n)}
        self.store.set_meta("manifest", self.manifest)
        log.info(
            "dense index switched from flat to %s %s at %d chunks (%.1f s)",
            kind,
            params,
            n,
            time.perf_counter() - started,
        )

    @contextlib.contextmanager
    def _lock(self) -> Any:
        """One writer at a time per library: an OS lock on ``folder/lock`` (``filelock``:
        ``flock`` on POSIX, ``msvcrt.locking`` on Windows), released when the process dies."""
        from filelock import FileLock, Timeout

        lock = FileLock(self.folder / "lock", timeout=0)
        try:
            lock.acquire()
        except Timeout as exc:
            raise StoreError(
                f"another process is indexing the library at {self.location}: wait for it to finish"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    # -- search ---------------------------------------------------------------------------
    @property
    def fusion(self) -> Any:
        """The hybrid fusion setting: the manifest's, else
        :data:`~lcmem.indexers.fusion.DEFAULT_FUSION` (libraries made before it was recorded)."""
        from lcmem.indexers.fusion import DEFAULT_FUSION, Fusion

        recorded = self.manifest.get("fusion")
        return Fusion.from_dict(recorded) if recorded else DEFAULT_FUSION

    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode = "hybrid",
        where: dict[str, Any] | None = None,
        fusion: Any = None,
        group: Literal["chunk", "document"] = "chunk",
    ) -> list[Hit]:
        """Best ``k`` chunks (or documents) for ``query``.

        Args:
            query: free text; words in quotes and identifier-like tokens (``parse_header``,
                ``E1234``) raise the BM25 weight of a hybrid search.
            k: number of hits.
            mode: ``hybrid`` (dense + BM25, fused by score), ``dense`` or ``bm25``.
            where: metadata filter, e.g. ``{"lang": "python"}``, ``{"kind": ["markdown",
                "rst"]}``, ``{"path": "*/docs/*"}``; applied in every mode.
            fusion: override the library's fusion for this search: a
                :class:`~lcmem.indexers.fusion.Fusion` or its text form (``"rrf"``,
                ``"zscore:dense=0.4"``, ``"minmax"``, ``"tmm"``).
            group: ``chunk`` (default) or ``document``: the best chunk of each of the best
                ``k`` documents, with the document's other matching chunks in ``Hit.others``.

        Example:
            >>> hits = lib.search("rotate log files", k=5, where={"kind": "text"})  # doctest: +SKIP
            >>> files = lib.search("ENOSPC", group="document", fusion="rrf")        # doctest: +SKIP
        """
        from lcmem.indexers.fusion import Fusion

        if not isinstance(query, str) or not query.strip():
            raise EmptyQueryError("the query is empty: give some words to search for")
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if group not in GROUPS:
            raise ConfigError(f"group must be one of {', '.join(GROUPS)}, got {group!r}")
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        setting = Fusion.parse(fusion, base=self.fusion) if fusion is not None else self.fusion
        if not self.store.has_chunks():  # not chunk_count(): a COUNT reads every row
            return []
        allowed = None
        if where:
            allowed = self.store.filter_chunk_ids(where)
            if len(allowed) == 0:
                return []
        if mode == "hybrid" and '"' in query:  # "quoted phrases" must occur (exact index)
            allowed = self._phrase_filter(query, where, allowed)
            if allowed is not None and len(allowed) == 0:
                return []
        # Grouping needs more chunks than documents asked for: take every fused candidate.
        n = k if group == "chunk" else max(4 * k, setting.candidates)
        dense, sparse = self._current_indices(need_dense=mode != "bm25")
        scored: list[tuple[int, float, dict[str, float]]]
        if mode == "bm25":
            res = sparse.search(self.analyzer(query), n, allowed=allowed)
            scored = [(i, s, {"bm25": s}) for i, s in res]
        elif mode == "dense":
            res = dense.search(self.embedder.embed_query(query), n, allowed=allowed)
            scored = [(i, s, {"dense": s}) for i, s in res]
        else:
            from lcmem.indexers.hybrid import HybridIndex

            hybrid = HybridIndex(dense, sparse, fusion=setting)
            scored = hybrid.search(
                self.embedder.embed_query(query),
                self.analyzer(query),
                n,
                allowed=allowed,
                text=query,
                terms_of=self._chunk_terms,
            )
        if group == "document":
            return self._document_hits(scored, k)
        chunks = self.store.get_chunks([i for i, _, _ in scored])
        hits: list[Hit] = []
        for i, score, detail in scored:
            if i in chunks:
                hits.append(
                    Hit(chunk=chunks[i], score=float(score), rank=len(hits) + 1, scores=detail)
                )
        return hits

    def _chunk_terms(self, ids: list[int]) -> dict[int, list[str]]:
        """The analyzed terms of chunks, as BM25 indexed them (phrase evidence of a hybrid
        search, :mod:`lcmem.indexers.phrase`)."""
        chunks = self.store.get_chunks(ids)
        order = list(chunks)
        terms = self.analyzer.many([chunks[i].embedding_text() for i in order])
        return dict(zip(order, terms, strict=True))

    # -- exact search (issue 19) ----------------------------------------------------------
    def count(
        self,
        text: str,
        where: dict[str, Any] | None = None,
        *,
        ignore_case: bool = False,
        normalize_whitespace: bool = False,
    ) -> int:
        """How many times ``text`` occurs in the library, exactly (overlapping occurrences
        count: ``"aa"`` is twice in ``"aaa"``).

        Args:
            text: any string (code points, not bytes); empty is an error.
            where: metadata filter, as in :meth:`search`.
            ignore_case: match case-insensitively (builds a lowercased index on first use,
                recorded in the manifest and kept up to date from then on).
            normalize_whitespace: any run of whitespace in ``text`` matches any run of
                whitespace (ASCII space, tab, newline...) in the documents.

        Example:
            >>> lib.count("Traceback (most recent call last)")          # doctest: +SKIP
            12
        """
        from lcmem.indexers.exact import count_normalized

        index, allowed = self._exact_query(text, where, ignore_case)
        if allowed is not None and not len(allowed):
            return 0
        if normalize_whitespace:
            return count_normalized(index, text, allowed=allowed)
        return index.count(text, allowed=allowed)

    def find(
        self,
        text: str,
        limit: int = 100,
        where: dict[str, Any] | None = None,
        *,
        ignore_case: bool = False,
        normalize_whitespace: bool = False,
    ) -> list[Hit]:
        """Where ``text`` occurs: exact spans in document order (path, then offset).

        Each hit's chunk is the matched span (``document_text(hit.path)[start:end]`` is the
        match), with its 1-based lines; ``chunk.metadata["snippet"]`` is the line around it.
        Options as in :meth:`count`.

        Example:
            >>> [(h.path, h.chunk.line_start) for h in lib.find("TODO", limit=5)]  # doctest: +SKIP
        """
        from lcmem.indexers.exact import locate_normalized, to_chars

        if limit < 1:
            raise ConfigError(f"limit must be at least 1, got {limit}")
        index, allowed = self._exact_query(text, where, ignore_case)
        if allowed is not None and not len(allowed):
            return []
        if normalize_whitespace:
            matches = locate_normalized(index, text, limit=limit, allowed=allowed)
        else:
            matches = index.locate(text, limit=limit, allowed=allowed)
        hits: list[Hit] = []
        originals: dict[str, str] = {}
        for m in to_chars(index, matches):
            text, snippet = m.text, m.snippet
            if ignore_case:  # the index holds lowercased text; show the document's own
                if m.path not in originals:
                    originals[m.path] = self.store.document_text(m.path) or ""
                original = originals[m.path]
                text = original[m.start : m.end]
                snippet = original[m.snippet_start : m.snippet_end]
            chunk = Chunk(
                text=text,
                start=m.start,
                end=m.end,
                doc_path=m.path,
                line_start=m.line_start,
                line_end=m.line_end,
                metadata={"snippet": snippet, "column": m.column, "document_id": m.doc_id},
            )
            hits.append(Hit(chunk=chunk, score=1.0, rank=len(hits) + 1, scores={"exact": 1.0}))
        return hits

    def optimize(self) -> None:
        """Merge the exact index's segments into one, dropping deleted documents' text."""
        with self._lock():
            for variant in self._exact_variants():
                self._exact(variant).optimize()
            self.save()

    def _exact_policy(self) -> Any:
        """The exact index's merge policy: the manifest's, else the default (libraries made
        before it was recorded)."""
        from lcmem.indexers.exact_merge import MergePolicy

        return MergePolicy.from_dict((self.manifest.get("exact") or {}).get("merge"))

    def _merge_exact(self) -> None:
        """After an index run's commit: merge the exact index's segments if the policy asks,
        in a detached process (default; the run returns at once) or here.

        ``$LCMEM_EXACT_MERGE``: ``background`` (default), ``inline`` or ``off``.
        """
        from lcmem.indexers.exact_merge import segment_sizes, spawn

        mode = os.environ.get("LCMEM_EXACT_MERGE", "background") or "background"
        if mode not in ("background", "inline", "off"):
            raise ConfigError(f"LCMEM_EXACT_MERGE must be background, inline or off, not {mode!r}")
        policy = self._exact_policy()
        for variant, index in self._exact_indices.items():
            if mode == "off" or not policy.plan(segment_sizes(index)):
                continue
            if policy.background and mode == "background":
                self._exact_merges.append(spawn(index.folder, variant, policy))
            else:
                index.merge(policy)

    def _exact_status(self) -> dict[str, Any]:
        """The exact indices for ``status``: segments, documents, masks, bytes, merge state."""
        from lcmem.indexers.exact_merge import describe

        policy = self._exact_policy()
        recorded = (self.manifest.get("exact") or {}).get("merge") is not None
        generation = self.store.generation
        return {
            "merge_policy": {**policy.to_dict(), "recorded": recorded},
            "whitespace_normalised": "at query time (no index of its own)",
            "variants": {
                v: describe(self._exact_folder(v), v, policy, generation)
                for v in self._exact_variants()
            },
        }

    def _exact_folder(self, variant: str) -> Path:
        return self.folder / ("exact" if variant == "exact" else f"exact-{variant}")

    def _phrase_filter(
        self, query: str, where: dict[str, Any] | None, allowed: np.ndarray | None
    ) -> np.ndarray | None:
        """Chunk ids (within ``allowed``) that hold every ``"quoted phrase"`` of ``query``
        verbatim, found with the exact index; ``allowed`` unchanged if nothing is quoted."""
        import re

        phrases = [p for p in re.findall(r'"([^"]+)"', query) if p.strip()]
        for phrase in phrases:
            spans: dict[int, list[tuple[int, int]]] = {}
            for hit in self.find(phrase, limit=_PHRASE_LIMIT, where=where):
                doc_id = hit.chunk.metadata["document_id"]
                spans.setdefault(doc_id, []).append((hit.chunk.start, hit.chunk.end))
            ids = self.store.chunks_holding(spans)
            allowed = ids if allowed is None else np.intersect1d(allowed, ids)
        return allowed

    def _exact_query(
        self, text: str, where: dict[str, Any] | None, ignore_case: bool
    ) -> tuple[Any, np.ndarray | None]:
        from lcmem.indexers.exact import check_pattern

        check_pattern(text)
        variant = "fold" if ignore_case else "exact"
        if variant not in self._exact_variants() and self.manifest:
            # the case-insensitive index is built on first use, then kept like the other
            self.manifest.setdefault("exact", {})["variants"] = [
                *self._exact_variants(),
                variant,
            ]
            self.store.set_meta("manifest", self.manifest)
            self._write_manifest_file()
        allowed = self.store.filter_document_ids(where) if where else None
        return self._exact(variant), allowed

    def _exact_variants(self) -> list[str]:
        """Exact indices this library keeps: ``exact``, plus ``fold`` once asked for."""
        return list((self.manifest.get("exact") or {}).get("variants", ["exact"]))

    def _exact(self, variant: str = "exact") -> Any:
        """The exact index of ``variant``, loaded and brought in line with the store: documents
        added or changed since it was saved go into one new segment, removed ones are masked."""
        from lcmem.indexers.exact import ExactDoc, ExactIndex

        index = self._exact_indices.get(variant)
        if index is None:
            folder = self._exact_folder(variant)
            try:
                index = ExactIndex(folder, variant=variant)
            except IndexCorruptError:
                # Derived data: rebuild it from the store rather than fail.
                import shutil

                shutil.rmtree(folder, ignore_errors=True)
                index = ExactIndex(folder, variant=variant)
            self._exact_indices[variant] = index
        generation = self.store.generation
        if self._exact_synced.get(variant) == generation or index.generation == generation:
            self._exact_synced[variant] = generation
            return index  # nothing changed in the store since the last check (or save)
        have = index.documents()
        want = {d.id: d.content_hash for d in self.store.all_documents()}
        stale = [i for i, h in have.items() if want.get(i) != h]
        missing = [i for i, h in want.items() if have.get(i) != h]
        if stale:
            index.remove(stale)
        if missing:
            docs = (
                ExactDoc(i, path, h, text)
                for batch in self.store.iter_document_texts(missing)
                for i, path, h, text in batch
            )
            index.add(docs)
        if stale or missing or index.generation != generation:
            # record the generation (a new process then skips this comparison) and keep the
            # work, unless an index run holds the lock (it saves)
            index.generation = generation
            index._dirty = True
            # a read-only library folder (OSError) keeps working: it just compares again
            with contextlib.suppress(StoreError, OSError), self._lock():
                index.save()
        self._exact_synced[variant] = generation
        return index

    def _document_hits(
        self, scored: list[tuple[int, float, dict[str, float]]], k: int
    ) -> list[Hit]:
        """The best chunk of each of the first ``k`` documents (in ``scored`` order), each with
        the document's other chunks of ``scored`` in ``others``."""
        chunks = self.store.get_chunks([i for i, _, _ in scored])
        by_doc: dict[str, Hit] = {}
        for i, score, detail in scored:
            chunk = chunks.get(i)
            if chunk is None:
                continue
            path = chunk.doc_path or ""
            hit = Hit(chunk=chunk, score=float(score), scores=detail)
            first = by_doc.get(path)
            if first is None:
                if len(by_doc) < k:
                    hit.rank = len(by_doc) + 1
                    by_doc[path] = hit
            else:
                hit.rank = first.rank
                first.others.append(hit)
        return list(by_doc.values())

    # -- questions ------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        pipeline: str = "rag",
        llm: LLM | str | None = None,
        **options: Any,
    ) -> Answer:
        """Answer ``question`` from this library with a pipeline; returns an
        :class:`~lcmem.pipelines.base.Answer` (text, citations, trace).

        Args:
            question: free text.
            pipeline: ``rag`` (default), ``coa``, ``rtr``, ``kv`` or ``memory``.
            llm: an :class:`~lcmem.llm.base.LLM`, a model path or an ``http(s)://`` endpoint;
                ``None`` for the packaged SmolLM2 (loaded once, kept on the library).
            options: the pipeline's settings (``k=``, ``budget=``, ``max_tokens=``...).

        Example:
            >>> answer = lib.ask("how do I rotate logs?", k=5)             # doctest: +SKIP
            >>> answer.text, [h.span for h in answer.citations]             # doctest: +SKIP
        """
        from lcmem.llm import load_llm
        from lcmem.pipelines import get_pipeline

        if llm is None:
            model = getattr(self, "_default_llm", None)
            if model is None:
                model = self._default_llm = load_llm()
        else:
            model = load_llm(llm)
        return get_pipeline(pipeline, model, **options).ask(question, library=self)

    # -- inspection -----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Counts and settings of the library (``lcmem status``)."""
        from lcmem.indexers.dense_policy import describe
        from lcmem.indexers.faiss import index_file_info

        state = _generation_of(self._state())
        setting = self.manifest.get("faiss")
        return {
            "location": self.location,
            "folder": str(self.folder),
            "database": self.store.dialect,
            "documents": self.store.document_count(),
            "chunks": self.store.chunk_count(),
            "generation": self.store.generation,
            "indices_current": state == self.store.generation,
            "dense": {
                "setting": setting,
                "summary": describe(setting) if setting else None,
                "index_file": index_file_info(self._faiss_path),
            },
            "manifest": self.manifest,
            "exact": self._exact_status(),
        }

    def documents(self) -> list[str]:
        """Paths of every indexed document."""
        return [d.path for d in self.store.all_documents()]

    def document_text(self, path: str) -> str:
        """The stored text of an indexed document (offsets of chunks point into it)."""
        text = self.store.document_text(str(path))
        if text is None:
            raise PathNotFoundError(f"{path} is not in the library: index it first")
        return text

    def get_chunks(self, ids: Sequence[int]) -> list[Chunk]:
        """Chunks by id, in the order given (unknown ids are left out)."""
        found = self.store.get_chunks(ids)
        return [found[i] for i in ids if i in found]

    def close(self) -> None:
        """Release the database connection."""
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Library({self.location!r})"


# -- helpers ------------------------------------------------------------------------------
def _resolve_target(target: str, index_dir: str | os.PathLike[str] | None) -> tuple[str, Path]:
    """Database URL and folder of index files for a folder path or a database URL."""
    if "://" in target:
        if target.startswith("sqlite:///") and index_dir is None:
            folder = Path(target[len("sqlite:///") :]).expanduser().resolve().parent
            return target, folder
        if index_dir is None:
            import platformdirs

            key = hashlib.sha1(target.encode()).hexdigest()[:16]
            index_dir = Path(platformdirs.user_cache_dir("lcmem")) / "libraries" / key
        return target, Path(index_dir)
    folder = Path(target).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"{folder} is a file: --store takes a folder or a database URL")
    return f"sqlite:///{folder / 'lcmem.db'}", Path(index_dir) if index_dir else folder


def _long_context_setting(embedder: Embedder) -> dict[str, Any]:
    """``strategy`` and ``max_tokens`` of a long-context embedder (issue 4), for the manifest;
    ``{}`` for a plain one."""
    config = getattr(embedder, "config", None)
    setting = config() if callable(config) else {}
    if not setting.get("strategy"):
        return {}
    keep = ("strategy", "max_tokens", "native_tokens", "trust_remote_code")
    return {k: setting[k] for k in keep if k in setting}


def _embedder_tokenizer(embedder: Embedder) -> Any:
    """An HFTokenizer for a sentence-transformers embedder's model folder, if it has one."""
    from lcmem.tokens import HFTokenizer

    model = getattr(embedder, "model_name", None)
    if model is None:
        return None
    from lcmem.embedders.sentence import DEFAULT_MODEL, resolve_model_path

    if model == DEFAULT_MODEL:
        return HFTokenizer.default()
    path = Path(resolve_model_path(model))
    if (path / "tokenizer.json").exists():
        return HFTokenizer(path)
    return None


def _describe_chunker(config: dict[str, Any]) -> str:
    """``auto (size 200, overlap 20)``; only the name's settings that change its output."""
    from lcmem.chunkers.base import describe_chunker

    return describe_chunker(config)


def _chunker_key(config: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The chunker settings a user chooses: name, size and overlap (name only for ``none``)."""
    from lcmem.chunkers.base import UNSIZED

    if config.get("name") in UNSIZED:
        return (config.get("name"), None, None)
    return (config.get("name"), config.get("chunk_size"), config.get("overlap"))


def _analyzer_kwargs(recorded: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in recorded.items() if k != "name"}


def _embedding_text(context: str, text: str) -> str:
    return Chunk(text=text, start=0, end=len(text), context=context).embedding_text()


def _generation_of(state: dict[str, Any]) -> int | None:
    """The store generation an :meth:`Library._state` records (``None``: none or unreadable).

    Example:
        >>> _generation_of({"generation": 7, "chunks": 70}), _generation_of({})
        (7, None)
    """
    try:
        return int(state["generation"])
    except (KeyError, TypeError, ValueError):
        return None


def _saved_file(path: Path, state: dict[str, Any]) -> bool:
    """True if ``path`` is the index file that the save ``state`` records (same size and
    mtime), so its checksum need not be read again."""
    recorded = (state.get("files") or {}).get(path.name)
    try:
        st = path.stat()
    except OSError:
        return False
    return recorded == [st.st_size, st.st_mtime_ns]


def _id_diff(index_ids: np.ndarray, store_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids the index lacks, ids the index has but the store does not)."""
    index_ids = np.asarray(index_ids, dtype=np.int64)
    missing = np.setdiff1d(store_ids, index_ids, assume_unique=True)
    extra = np.setdiff1d(index_ids, store_ids, assume_unique=True)
    return missing, extra


def _warn_truncated(embedder: Embedder, report: IndexReport) -> None:
    """One warning per run when the embedder cut text (see ``IndexReport.truncated``)."""
    if report.truncated:
        tokens = sum(n for _, n in report.truncated)
        log.warning(
            "the embedder %s reads at most %s tokens of a text: %d tokens of %d document(s) "
            "were not embedded (IndexReport.truncated); use a smaller --chunk-size or a longer "
            "--embed-max-tokens",
            embedder.name,
            embedder.max_tokens,
            tokens,
            len(report.truncated),
        )
