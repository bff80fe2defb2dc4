"""The ``kv`` pipeline: answer from a document's KV pages (see :mod:`lcmem.kv`).

Given documents, it reads them (one stream) into pages and asks; given a library, it searches
it, reads the documents of the top hits by path, and keeps their pages under the library's
``kv/`` folder keyed by content hash, model and paging settings, so the next question about the
same documents loads the pages instead of reading them again. In one process, documents given
directly are also read only once.

Example:
    >>> from lcmem.pipelines import get_pipeline
    >>> pipe = get_pipeline("kv", llm)                                     # doctest: +SKIP
    >>> pipe.ask("What does -x do?", documents=[doc]).citations[0].span    # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lcmem.errors import ConfigError, IndexCorruptError
from lcmem.pipelines.base import Answer, Pipeline, Step
from lcmem.pipelines.prompts import check_question
from lcmem.pipelines.support import cite_supporting, supported_or_marked
from lcmem.types import Document

if TYPE_CHECKING:
    from lcmem.kv.reader import KVSettings, PagedDocument
    from lcmem.library import Library
    from lcmem.llm.base import LLM

_PREFILL_FIELDS = ("page_size", "sinks", "window", "top_k", "block", "kv_dtype")
_KEEP = 4  # documents kept read in one process


class KVPipeline(Pipeline):
    """Answers from KV pages of the given (or retrieved) documents.

    Args:
        llm: a :class:`~lcmem.llm.transformers.TransformersLLM`.
        settings: :class:`~lcmem.kv.KVSettings`; keyword fields (``top_k=16``...) override it.
        max_docs: documents read from a library's top hits.
        search_k: hits searched in a library to find those documents (``k`` is an alias,
            as the CLI's ``-k`` passes it).
        budget: most tokens of laid-out context (sinks + pages + window + block); sets
            ``top_k`` to the most pages that fit.
        max_tokens: most tokens in the answer.
        citations: pages cited (at least; more when the answer rests on more).
        check_support: check the answer against the cited pages and show the best cited
            sentence, marked, when it is not supported (:mod:`lcmem.pipelines.support`).
        cite: ``"answer"`` (default): cite the pages the answer rests on among every page it
            attended to, or, when none supports it, the pages holding the best evidence there
            (:func:`~lcmem.pipelines.support.cite_supporting`); ``"votes"``: the most
            retrieved pages (before issue 21's round 3: they held the answer in 0 of 11
            answers, ``benchmarks/results/answers.md``).
        on_text: called with each piece of the answer as it is generated (the CLI sets it).
    """

    name = "kv"

    def __init__(
        self,
        llm: LLM,
        *,
        settings: KVSettings | None = None,
        max_docs: int = 1,
        search_k: int = 5,
        k: int | None = None,
        budget: int | None = None,
        max_tokens: int = 128,
        citations: int = 3,
        check_support: bool = True,
        on_text: Callable[[str], None] | None = None,
        cite: str = "answer",
        **overrides: Any,
    ) -> None:
        super().__init__(llm)
        from lcmem.kv.reader import KVSettings

        base = settings or KVSettings()
        unknown = set(overrides) - set(asdict(base))
        if unknown:
            raise ConfigError(
                f"unknown kv option(s) {', '.join(sorted(unknown))}: choose from "
                f"{', '.join(asdict(base))}, max_docs, search_k, max_tokens, citations"
            )
        search_k = k if k is not None else search_k
        if cite not in ("answer", "votes"):
            raise ConfigError(f"cite must be 'answer' or 'votes', got {cite!r}")
        if max_docs < 1 or search_k < 1:
            raise ConfigError("max_docs and search_k (-k) must be at least 1")
        settings = replace(base, **overrides)
        if budget is not None:
            settings = replace(settings, top_k=_top_k_for(settings, budget))
        self.settings = settings
        self.max_docs, self.search_k = max_docs, search_k
        self.max_tokens, self.citations = max_tokens, citations
        self.check_support, self.on_text, self.cite = check_support, on_text, cite
        self._read: dict[str, PagedDocument] = {}

    def ask(
        self,
        question: str,
        *,
        library: Library | None = None,
        documents: Sequence[Document] | None = None,
    ) -> Answer:
        """Answer ``question`` from ``documents`` if given, else from ``library``'s top hits.

        Raises:
            EmptyQueryError: the question is empty.
            ConfigError: neither documents nor a library, or a model that cannot be paged.
        """
        question = check_question(question)
        steps: list[Step] = []
        doc: PagedDocument | None
        if documents:
            doc = self._documents(list(documents), steps)
        elif library is not None:
            doc = self._from_library(question, library, steps)
            if doc is None:
                return Answer(text="The library has no document matching the question.")
        else:
            raise ConfigError(
                "the kv pipeline needs documents (lcmem ask Q --pipeline kv --doc PATH) or a "
                "library to search"
            )
        choose = self.cite == "answer"
        answer = doc.ask(
            question,
            max_tokens=self.max_tokens,
            citations=None if choose else self.citations,
            on_text=self.on_text,
        )
        answer.trace.steps[:0] = steps
        if choose:  # cite what the answer rests on, among every page it attended to
            started = time.perf_counter()
            answer.citations, how = cite_supporting(
                question, answer.text, answer.citations, self.citations
            )
            answer.trace.add(Step("cite", seconds=time.perf_counter() - started, detail=how))
        return supported_or_marked(answer, question) if self.check_support else answer

    # -- sources -------------------------------------------------------------------------
    def _documents(self, docs: list[Document], steps: list[Step]) -> PagedDocument:
        from lcmem.kv.reader import PagedDocument

        key = self._key(docs)
        started = time.perf_counter()
        cached = key in self._read
        if not cached:
            self._remember(key, PagedDocument.read(self.llm, docs, self.settings))
        doc = self._read[key]
        steps.append(_read_step(doc, cached, time.perf_counter() - started))
        return doc

    def _from_library(
        self, question: str, library: Library, steps: list[Step]
    ) -> PagedDocument | None:
        from lcmem.kv.reader import PagedDocument

        started = time.perf_counter()
        hits = library.search(question, k=self.search_k)
        paths: list[str] = []
        for h in hits:
            if h.path not in paths:
                paths.append(h.path)
        paths = paths[: self.max_docs]
        steps.append(
            Step(
                "retrieve",
                seconds=time.perf_counter() - started,
                detail={"hits": len(hits), "documents": paths},
            )
        )
        if not paths:
            return None
        docs = [Document(text=library.document_text(p), path=p) for p in paths]
        key = self._key(docs)
        folder = Path(library.folder) / "kv" / key
        started = time.perf_counter()
        doc: PagedDocument | None = self._read.get(key)
        cached = doc is not None
        if doc is None and (folder / "meta.json").is_file():
            try:
                doc = PagedDocument.load(
                    folder, self.llm, memory_budget=self.settings.memory_budget
                )
                cached = True
            except (IndexCorruptError, ConfigError):
                doc = None  # another format or model: read again below
        if doc is None:
            doc = PagedDocument.read(self.llm, docs, self.settings, folder=folder)
            doc.save(folder)
        self._remember(key, doc)
        steps.append(_read_step(doc, cached, time.perf_counter() - started))
        return doc

    def _remember(self, key: str, doc: PagedDocument) -> None:
        """Keep the last few read documents in this process (their RAM is bounded each)."""
        self._read.pop(key, None)
        self._read[key] = doc
        while len(self._read) > _KEEP:
            self._read.pop(next(iter(self._read)))

    def _key(self, docs: list[Document]) -> str:
        from lcmem.kv.reader import FORMAT_VERSION, model_fingerprint

        paging = {f: getattr(self.settings, f) for f in _PREFILL_FIELDS}
        h = hashlib.sha256()
        h.update(json.dumps([FORMAT_VERSION, model_fingerprint(self.llm), paging]).encode())
        for d in docs:
            h.update(d.hash.encode())
            h.update(d.path.encode())
        return h.hexdigest()[:32]


def _top_k_for(settings: KVSettings, budget: int) -> int:
    """Most pages that fit ``budget`` tokens of laid-out context."""
    fixed = settings.sinks + (settings.window or 0) + settings.page_size + settings.block
    if settings.window is None or budget < fixed:
        raise ConfigError(
            f"--budget {budget} is below the kv pipeline's fixed context (sinks + window + "
            f"page + block = {fixed} tokens): raise it or lower window"
        )
    return (budget - fixed) // settings.page_size


def _read_step(doc: PagedDocument, cached: bool, seconds: float) -> Step:
    return Step(
        "kv read",
        seconds=seconds,
        detail={
            "tokens": doc.tokens,
            "pages": doc.store.shape.pages,
            "from_cache": cached,
            "prefill_seconds": doc.read_seconds,
            "on_disk": not doc.store.resident,
        },
    )


__all__ = ["KVPipeline"]
