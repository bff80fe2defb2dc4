"""What an agent can do with a library, as plain methods returning JSON-ready dicts.

:class:`LibraryTools` is the protocol-free core of ``lcmem serve --mcp``: it validates
arguments a model may get wrong (empty query, unknown chunk id, a span past the end, a path
outside the allowed roots) and raises :class:`~lcmem.errors.LcmemError` subclasses whose
message says what to do. One lock serialises access to the library, which is opened once.

Example:
    >>> import lcmem                                          # doctest: +SKIP
    >>> tools = LibraryTools(lcmem.open("./.lcmem"))          # doctest: +SKIP
    >>> tools.search("rotate logs", k=3, mode="bm25")["hits"][0]["path"]  # doctest: +SKIP
    '/srv/docs/logrotate.txt'
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lcmem.errors import ConfigError, EmptyQueryError, LcmemError, PathNotFoundError
from lcmem.integrations.pathguard import PathGuard
from lcmem.types import line_starts

MODES = ("hybrid", "dense", "bm25")
MAX_K = 50
MAX_GREP = 200  # most matches one grep call returns
MAX_ANSWER_TOKENS = 1024
ASK_PIPELINES = ("rag", "rtr", "coa", "memory")
DEFAULT_SPAN_CHARS = 20_000
MAX_SPAN_CHARS = 200_000
DOCUMENT_URI_PREFIX = "lcmem://document/"


class NotFoundError(LcmemError, LookupError):
    """A chunk id or document a client asked for is not in the library."""


def document_uri(path: str) -> str:
    """The MCP resource URI of a document (its path, percent-encoded).

    Example:
        >>> document_uri("/docs/a b.md")
        'lcmem://document/%2Fdocs%2Fa%20b.md'
    """
    return DOCUMENT_URI_PREFIX + quote(path, safe="")


class LibraryTools:
    """Search, read and (optionally) index one library on behalf of an agent.

    Args:
        library: an open :class:`lcmem.Library`.
        allow_index: roots a client may index; empty (the default) makes the tools read-only.
        max_file_size: passed to :meth:`lcmem.Library.index` (and to the symlink check).
        llm: the model behind ``ask`` (an :class:`~lcmem.llm.base.LLM`, a path or an
            ``http(s)://`` endpoint); ``None`` loads the packaged default on the first question.
    """

    def __init__(
        self,
        library: Any,
        *,
        allow_index: Iterable[str | os.PathLike[str]] = (),
        max_file_size: int = 10 * 2**20,
        llm: Any = None,
    ) -> None:
        self.library = library
        self.guard = PathGuard(allow_index)
        self.max_file_size = max_file_size
        self.llm_spec = llm
        self._llm: Any = None
        self._workspace: Any = None
        self._lock = threading.RLock()

    @property
    def can_index(self) -> bool:
        """True when started with allowed roots."""
        return bool(self.guard)

    # -- search ------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int = 5,
        mode: str = "hybrid",
        where: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Best ``k`` chunks for ``query``: ``{"query", "mode", "hits": [...]}``."""
        if not isinstance(query, str) or not query.strip():
            raise EmptyQueryError("the query is empty: give some words to search for")
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise ConfigError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        where = _check_where(where)
        with self._lock:
            hits = self.library.search(query, k=k, mode=mode, where=where or None)
        out: dict[str, Any] = {"query": query, "mode": mode, "hits": [_hit(h) for h in hits]}
        if not hits:
            out["note"] = (
                "no chunk matches this filter: drop or change `where`"
                if where
                else "no hits: try other words or mode=hybrid"
            )
        return out

    def grep(
        self,
        pattern: str,
        limit: int = 20,
        where: dict[str, Any] | None = None,
        ignore_case: bool = False,
        normalize_whitespace: bool = False,
        count_only: bool = False,
    ) -> dict[str, Any]:
        """Exact occurrences of ``pattern``: ``{"pattern", "count", "matches": [...]}`` (the
        first ``limit`` in document order; ``count`` is every occurrence)."""
        if not isinstance(pattern, str) or pattern == "":
            raise EmptyQueryError("the pattern is empty: give the exact text to look for")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_GREP:
            raise ConfigError(f"limit must be an integer from 1 to {MAX_GREP}, got {limit!r}")
        where = _check_where(where)
        options = {"ignore_case": ignore_case, "normalize_whitespace": normalize_whitespace}
        with self._lock:
            count = self.library.count(pattern, where=where or None, **options)
            hits = (
                []
                if count_only or not count
                else self.library.find(pattern, limit=limit, where=where or None, **options)
            )
        matches = []
        for h in hits:
            c = h.chunk
            matches.append(
                {
                    "path": h.path,
                    "uri": document_uri(h.path),
                    "start": c.start,
                    "end": c.end,
                    "line_start": c.line_start,
                    "line_end": c.line_end,
                    "column": c.metadata.get("column"),
                    "text": c.text,
                    "snippet": c.metadata.get("snippet", ""),
                }
            )
        out: dict[str, Any] = {"pattern": pattern, "count": count, "matches": matches}
        if not count:
            out["note"] = "no exact occurrence: try ignore_case, normalize_whitespace or search"
        return out

    def get_chunks(self, ids: int | Sequence[int]) -> dict[str, Any]:
        """Chunks by id: ``{"chunks": [...], "missing": [ids not found]}``."""
        wanted = [ids] if isinstance(ids, int) else list(ids)
        if not wanted:
            raise ConfigError("give at least one chunk id (the chunk_id of a search hit)")
        if any(not isinstance(i, int) or isinstance(i, bool) for i in wanted):
            raise ConfigError(f"chunk ids are integers, got {wanted!r}")
        with self._lock:
            found = self.library.get_chunks(wanted)
        have = {c.id for c in found}
        missing = [i for i in wanted if i not in have]
        if not found:
            raise NotFoundError(
                f"no chunk with id {', '.join(map(str, missing))} in this library: use the "
                "chunk_id of a search hit (ids change when a document is re-indexed)"
            )
        return {"chunks": [_chunk(c) for c in found], "missing": missing}

    # -- documents ---------------------------------------------------------------------
    def find_document(self, path: str) -> str:
        """The stored path of a document: ``path`` itself, or the one document ending with it."""
        return self._open_document(path)[0]

    def document_text(self, path: str) -> str:
        """Full stored text of a document (what resources serve)."""
        return self._open_document(path)[1]

    def _open_document(self, path: str) -> tuple[str, str]:
        if not isinstance(path, str) or not path.strip():
            raise ConfigError("give a document path (the path of a search hit)")
        with self._lock:
            try:
                return path, self.library.document_text(path)
            except PathNotFoundError:
                docs = self.library.documents()
        tail = path if path.startswith("/") else "/" + path
        matches = [d for d in docs if d.endswith(tail)]
        if len(matches) > 1:
            shown = ", ".join(matches[:5])
            raise NotFoundError(f"{path} matches several documents ({shown}): give the full path")
        if matches:
            with self._lock:
                try:
                    return matches[0], self.library.document_text(matches[0])
                except PathNotFoundError:  # removed meanwhile
                    pass
        raise NotFoundError(
            f"{path} is not in this library: use the path of a search hit or list_documents"
        )

    def get_span(
        self,
        path: str,
        start: int | None = None,
        end: int | None = None,
        line_start: int | None = None,
        line_end: int | None = None,
        max_chars: int = DEFAULT_SPAN_CHARS,
    ) -> dict[str, Any]:
        """A piece of a document by character offsets ``[start, end)`` or 1-based lines.

        ``end`` / ``line_end`` past the end are clamped; the text is cut at ``max_chars``
        (``truncated`` says so, and ``end`` is where it stopped).
        """
        by_chars = start is not None or end is not None
        by_lines = line_start is not None or line_end is not None
        if by_chars and by_lines:
            raise ConfigError("give either start/end (characters) or line_start/line_end, not both")
        if not by_chars and not by_lines:
            raise ConfigError(
                "give start/end character offsets or line_start/line_end (1-based) to read"
            )
        for name, value in (("start", start), ("end", end), ("line_start", line_start)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ConfigError(f"{name} must be an integer, got {value!r}")
        if line_end is not None and (not isinstance(line_end, int) or isinstance(line_end, bool)):
            raise ConfigError(f"line_end must be an integer, got {line_end!r}")
        if not isinstance(max_chars, int) or not 1 <= max_chars <= MAX_SPAN_CHARS:
            raise ConfigError(f"max_chars must be from 1 to {MAX_SPAN_CHARS}, got {max_chars!r}")
        found, text = self._open_document(path)
        n = len(text)
        lines = line_starts(text)
        if by_lines:
            first = 1 if line_start is None else line_start
            if first < 1:
                raise ConfigError(f"line_start is 1-based, got {first}")
            if first > len(lines):
                raise ConfigError(f"{found} has {len(lines)} lines; line_start {first} is past it")
            last = len(lines) if line_end is None else min(line_end, len(lines))
            if last < first:
                raise ConfigError(f"line_end ({line_end}) is before line_start ({first})")
            s = lines[first - 1]
            e = lines[last] - 1 if last < len(lines) else n  # without the final newline
        else:
            s = 0 if start is None else start
            e = n if end is None else min(end, n)
            if s < 0:
                raise ConfigError(f"start must be 0 or more, got {s}")
            if s > n or (s == n and n > 0):
                raise ConfigError(f"{found} has {n} characters; start {s} is past the end")
            if end is not None and end <= s:
                raise ConfigError(f"end ({end}) must be greater than start ({s})")
        truncated = e - s > max_chars
        if truncated:
            e = s + max_chars
        return {
            "path": found,
            "uri": document_uri(found),
            "start": s,
            "end": e,
            "line_start": bisect.bisect_right(lines, s),
            "line_end": bisect.bisect_right(lines, max(s, e - 1)),
            "document_chars": n,
            "document_lines": len(lines),
            "truncated": truncated,
            "text": text[s:e],
        }

    def document_paths(self) -> list[str]:
        """Every document path, sorted."""
        with self._lock:
            return self.library.documents()

    def list_documents(
        self, contains: str | None = None, offset: int = 0, limit: int = 100
    ) -> dict[str, Any]:
        """Indexed document paths (optionally only those containing ``contains``), paged."""
        if not isinstance(offset, int) or offset < 0:
            raise ConfigError(f"offset must be 0 or more, got {offset!r}")
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ConfigError(f"limit must be from 1 to 1000, got {limit!r}")
        docs = self.document_paths()
        if contains:
            needle = contains.lower()
            docs = [d for d in docs if needle in d.lower()]
        page = docs[offset : offset + limit]
        nxt = offset + limit if offset + limit < len(docs) else None
        return {
            "total": len(docs),
            "offset": offset,
            "next_offset": nxt,
            "documents": [{"path": d, "uri": document_uri(d)} for d in page],
        }

    def status(self) -> dict[str, Any]:
        """Counts and settings of the library, and what this server allows."""
        with self._lock:
            info = self.library.status()
        info["read_only"] = not self.can_index
        info["allowed_roots"] = [str(r) for r in self.guard.roots]
        return info

    # -- indexing ----------------------------------------------------------------------
    def index(self, paths: Sequence[str]) -> dict[str, Any]:
        """Index files or folders inside the allowed roots (all refused if one is not)."""
        if isinstance(paths, str):
            paths = [paths]
        reals = self.guard.check_all(list(paths), max_file_size=self.max_file_size)
        with self._lock:
            report = self.library.index(
                [str(r) for r in reals], max_file_size=self.max_file_size, progress=False
            )
        return _report(report)

    def warm_up(self) -> None:
        """Load the embedder and both indices now, so the first search is not slow."""
        with self._lock:
            if self.library.status()["chunks"]:
                self.library.search("warm up", k=1, mode="hybrid")

    # -- questions (pipelines) and episodic memory ----------------------------------------
    def ask(
        self,
        question: str,
        pipeline: str = "rag",
        k: int | None = None,
        max_tokens: int | None = None,
    ) -> dict[str, Any]:
        """Answer ``question`` with a pipeline: ``{"answer", "citations": [hits], "usage"}``."""
        from lcmem.llm import load_llm

        if not isinstance(question, str) or not question.strip():
            raise EmptyQueryError("the question is empty: ask something about the library")
        if pipeline not in ASK_PIPELINES:
            raise ConfigError(
                f"pipeline must be one of {', '.join(ASK_PIPELINES)}, got {pipeline!r}"
            )
        options: dict[str, Any] = {}
        if k is not None:
            if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
                raise ConfigError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
            options["k"] = k
        if max_tokens is not None:
            if not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_ANSWER_TOKENS:
                raise ConfigError(
                    f"max_tokens must be an integer from 1 to {MAX_ANSWER_TOKENS}, "
                    f"got {max_tokens!r}"
                )
            options["max_tokens"] = max_tokens
        if pipeline == "memory":
            options["workspace"] = self.workspace
        with self._lock:
            if self._llm is None:
                self._llm = load_llm(self.llm_spec)
            answer = self.library.ask(question, pipeline=pipeline, llm=self._llm, **options)
        trace = answer.trace
        return {
            "question": question,
            "pipeline": pipeline,
            "answer": answer.text,
            "citations": [_hit(h) for h in answer.citations],
            "usage": {
                "prompt_tokens": trace.prompt_tokens,
                "completion_tokens": trace.completion_tokens,
                "llm_calls": trace.llm_calls,
                "seconds": round(trace.seconds, 3),
            },
        }

    @property
    def workspace(self) -> Any:
        """The library's episodic memory workspace (opened on first use)."""
        with self._lock:
            if self._workspace is None:
                from lcmem.memory import EpisodicWorkspace

                self._workspace = EpisodicWorkspace(self.library)
            return self._workspace

    def memory_observe(
        self, text: str, at: str | None = None, source: str | None = None
    ) -> dict[str, Any]:
        """Read ``text`` (a chat turn, a note, a chapter) into the episodic memory and save it."""
        if not isinstance(text, str) or not text.strip():
            raise EmptyQueryError("the text is empty: pass what was said or what happened")
        ws = self.workspace
        with self._lock:
            report = ws.observe(text, at=at, source=source or "mcp")
            ws.save()
        return {
            "events": [e.to_dict() for e in report.events],
            "duplicate": report.duplicate,
            "unresolved_dates": report.unresolved,
            "conflicts": [str(c) for c in report.conflicts],
            "warnings": report.warnings,
            "errors": report.errors,
        }

    def memory_query(self, question: str, max_events: int = 12) -> dict[str, Any]:
        """Answer from the episodic memory: a structured answer when the question has a known
        shape (where was X on T, who was at P, timeline of X...), and always the compact context
        of the events it is about."""
        if not isinstance(question, str) or not question.strip():
            raise EmptyQueryError("the question is empty: ask about people, places or dates")
        ws = self.workspace
        with self._lock:
            result = ws.ask(question)
            context = ws.context_for(question, max_events=max_events)
        out: dict[str, Any] = {"question": question, "context": context}
        if result is not None:
            out.update(
                kind=result.kind,
                answers=result.answers,
                answer=result.text,
                notes=result.notes,
                events=[e.to_dict() for e in result.events],
            )
        else:
            out["note"] = "not a structured question: read `context` to answer"
        return out


# -- helpers --------------------------------------------------------------------------
_SCALARS = (str, int, float, bool)


def _check_where(where: Any) -> dict[str, Any] | None:
    if where is None:
        return None
    if not isinstance(where, dict):
        raise ConfigError(
            'where must be an object such as {"lang": "python"} or {"kind": ["markdown", "rst"]}'
        )
    for key, value in where.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(key, str) or not key or not all(isinstance(v, _SCALARS) for v in values):
            raise ConfigError(
                f"where[{key!r}] must be a string, number, boolean or a list of them, got {value!r}"
            )
    return where


def _chunk(c: Any) -> dict[str, Any]:
    return {
        "chunk_id": c.id,
        "path": c.doc_path,
        "uri": document_uri(c.doc_path) if c.doc_path else None,
        "start": c.start,
        "end": c.end,
        "line_start": c.line_start,
        "line_end": c.line_end,
        "context": c.context,
        "text": c.text,
        "metadata": c.metadata,
    }


def _hit(h: Any) -> dict[str, Any]:
    out = h.to_dict()
    out["uri"] = document_uri(h.path) if h.chunk.doc_path else None
    out["score"] = round(out["score"], 6)
    out["scores"] = {k: round(v, 6) for k, v in out["scores"].items()}
    return out


def hit_metadata(hit: Any) -> dict[str, Any]:
    """Metadata the LangChain and LlamaIndex retrievers attach to a hit (lcmem's keys win)."""
    c = hit.chunk
    return {
        **c.metadata,
        "source": hit.path,
        "path": hit.path,
        "start": c.start,
        "end": c.end,
        "line_start": c.line_start,
        "line_end": c.line_end,
        "context": c.context,
        "score": float(hit.score),
        "rank": hit.rank,
        "chunk_id": c.id,
    }


def open_existing(store: str | os.PathLike[str]) -> Any:
    """Open a library that must exist already (a retriever or server never makes an empty one)."""
    import lcmem
    from lcmem.errors import StoreError

    store = os.fspath(store)
    if "://" not in store and not (Path(store).expanduser() / "lcmem.db").exists():
        raise StoreError(f"no library at {store}: run `lcmem index PATH --store {store}` first")
    return lcmem.open(store)


def _report(report: Any, keep: int = 50) -> dict[str, Any]:
    """An index report, with long path lists cut to ``keep`` entries (counts stay exact)."""
    full = report.to_dict()
    out: dict[str, Any] = {"summary": report.summary(), "ok": report.ok}
    for key, value in full.items():
        if isinstance(value, list):
            out[f"{key}_count"] = len(value)
            out[key] = value[:keep]
        else:
            out[key] = value
    return out
