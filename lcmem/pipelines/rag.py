"""Retrieval-augmented generation: retrieve, pack the best chunks into the budget, answer.

Hits come from ``library.search(question, k, mode="hybrid")`` (or an in-memory index of the
documents given). With ``hops=2`` (the default), the names that the hits' sentences about the
question's names introduce (the bridge of a two-hop question: "Mihevox was led by *Ana Lo*")
are searched for once more, and up to ``k`` hits naming them join, ranked after the hits about
the question's names (:func:`second_hop_query`, :func:`merge_hops`). The best ones that fit
``budget`` tokens of the LLM are shown to it in document order (path, then offset) as numbered
passages; the answer cites the passages packed, best first.

Example:
    >>> from lcmem.llm import load_llm                               # doctest: +SKIP
    >>> rag = RAGPipeline(load_llm(), k=8, budget=1024)              # doctest: +SKIP
    >>> answer = rag.ask("How do I rotate logs?", library=lib)       # doctest: +SKIP
    >>> answer.text, [h.span for h in answer.citations]              # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lcmem.errors import ConfigError
from lcmem.pipelines.base import Answer, Pipeline, Trace
from lcmem.pipelines.budget import (
    DEFAULT_BUDGET_CAP,
    context_budget,
    pack_hits,
    shrink_to_fit,
)
from lcmem.pipelines.evidence import mentions, names, sentence_spans
from lcmem.pipelines.prompts import (
    NO_ANSWER,
    call_llm,
    check_question,
    clean_answer,
    numbered_context,
    passage,
    rag_messages,
    require_positive,
    timed_step,
)
from lcmem.pipelines.sources import Sources, require_source
from lcmem.pipelines.support import supported_or_marked

if TYPE_CHECKING:
    from lcmem.library import Library
    from lcmem.llm.base import LLM
    from lcmem.types import Document, Hit


class RAGPipeline(Pipeline):
    """Retrieve ``k`` chunks, pack what fits in ``budget`` tokens, answer with citations.

    Args:
        llm: the model.
        k: chunks retrieved.
        budget: context tokens (LLM's tokenizer); default what fits the window after the
            prompt and answer, capped at ``budget_cap``.
        max_tokens: most answer tokens.
        mode: ``hybrid`` (default), ``dense`` or ``bm25``.
        where: metadata filter passed to ``library.search``.
        budget_cap: the default budget's cap (2048: fast on CPU).
        on_text: called with each piece of the answer as it streams (the CLI sets it).
        check_support: check the answer against the citations and show the best cited
            sentence, marked, when it is not supported (:mod:`lcmem.pipelines.support`).
        hops: 2 searches once more for the bridge names the first hits introduce (at most
            ``k`` more chunks); 1 does not.
    """

    name = "rag"

    def __init__(
        self,
        llm: LLM,
        *,
        k: int = 8,
        budget: int | None = None,
        max_tokens: int = 96,
        mode: str = "hybrid",
        where: dict[str, Any] | None = None,
        budget_cap: int = DEFAULT_BUDGET_CAP,
        on_text: Callable[[str], None] | None = None,
        check_support: bool = True,
        hops: int = 2,
    ) -> None:
        super().__init__(llm)
        require_positive(k=k, max_tokens=max_tokens)
        if hops not in (1, 2):
            raise ConfigError(f"hops must be 1 or 2, got {hops}")
        self.hops = hops
        self.k, self.budget, self.max_tokens = k, budget, max_tokens
        self.mode, self.where, self.budget_cap = mode, where, budget_cap
        self.on_text, self.check_support = on_text, check_support
        self._sources = Sources()

    def ask(
        self,
        question: str,
        *,
        library: Library | None = None,
        documents: Sequence[Document] | None = None,
    ) -> Answer:
        """Answer ``question`` from the library (searched) or the documents (indexed in memory).

        Raises:
            EmptyQueryError: the question is empty.
            EmptyLibraryError: the library or documents hold no text.
            ConfigError: no source given, or the budget does not fit the LLM's window.
        """
        question = check_question(question)
        require_source(library, documents)
        trace = Trace()
        budget = context_budget(
            self.llm, rag_messages("", question), self.max_tokens, self.budget, self.budget_cap
        )
        packed = retrieve_and_pack(
            self.llm,
            self._sources,
            trace,
            question,
            self.k,
            budget,
            library=library,
            documents=documents,
            mode=self.mode,
            where=self.where,
            hops=self.hops,
        )
        if not packed:
            return Answer(NO_ANSWER, [], trace)
        step = call_llm(
            self.llm,
            trace,
            "answer",
            rag_messages(numbered_context(packed), question),
            self.max_tokens,
            on_text=self.on_text,
        )
        citations = sorted(packed, key=lambda h: h.rank or 1 << 30)  # best first
        answer = Answer(clean_answer(step.output), citations, trace)
        return supported_or_marked(answer, question) if self.check_support else answer


def retrieve_and_pack(
    llm: LLM,
    sources: Sources,
    trace: Trace,
    question: str,
    k: int,
    budget: int,
    hops: int = 1,
    **retrieve: Any,
) -> list[Hit]:
    """Search for ``question``, then pack the hits into ``budget`` tokens in document order.

    Records the ``retrieve`` and ``pack`` steps in ``trace``; ``retrieve`` holds the source
    arguments of :meth:`Sources.retrieve` (``library``, ``documents``, ``mode``, ``where``).
    With ``hops=2``, one more search for :func:`second_hop_query` (a ``second hop`` step).
    Shared by the RAG and retrieve-then-reason pipelines.
    """
    started = time.perf_counter()
    hits = sources.retrieve(question, k, **retrieve)
    timed_step(trace, "retrieve", started, k=k, mode=retrieve.get("mode"), hits=len(hits))
    query = second_hop_query(question, hits) if hops == 2 else None
    if query is not None:
        started = time.perf_counter()
        more = sources.retrieve(query, k, **retrieve)
        hits, added = merge_hops(question, hits, more, query)
        timed_step(trace, "second hop", started, query=query, hits=len(more), added=added)
    started = time.perf_counter()
    packed, used = pack_hits(hits, llm, budget, lambda h: passage(99, h))
    packed = shrink_to_fit(packed, llm, budget, numbered_context)
    timed_step(
        trace,
        "pack",
        started,
        budget=budget,
        tokens=used,
        packed=[f"{h.path}:{h.chunk.start}-{h.chunk.end}" for h in packed],
        left_out=len(hits) - len(packed),
    )
    return packed


def second_hop_query(question: str, hits: Sequence[Hit]) -> str | None:
    """What to search for in a second hop: the names that the hits' sentences about the
    question's names introduce (the bridge entity of a two-hop question), or ``None``.

    Only sentences that mention a name of the question count, so a single-fact answer
    ("The code of Konel is 55771.") asks for nothing more.

    Example:
        >>> from lcmem.types import Chunk, Hit
        >>> t = "Logs rotate. Project Mihevox was led by Ana Lo. Git is fast."
        >>> hits = [Hit(Chunk(t, 0, len(t)), 1.0)]
        >>> second_hop_query("Where is the office of the person who led Mihevox?", hits)
        'Ana Lo'
        >>> second_hop_query("What is the code of Konel?", hits) is None
        True
    """
    asked = names(question)
    about = [
        text[a:b]
        for text in (h.chunk.text for h in hits)
        for a, b in sentence_spans(text)
        if any(mentions(text[a:b], n) for n in asked)
    ]
    bridge = [
        n
        for n in dict.fromkeys(n for sentence in about for n in names(sentence))
        if not any(mentions(n, q) or mentions(q, n) for q in asked)
    ]
    return " ".join(bridge) or None


def merge_hops(
    question: str, first: Sequence[Hit], second: Sequence[Hit], query: str
) -> tuple[list[Hit], int]:
    """``first`` and ``second``'s hits re-ranked for packing: first hits about the question's
    names, then second hits naming a bridge name of ``query`` (the fact the bridge leads to),
    then the other first hits, then the other second hits; chunks already among the first
    are not repeated. Returns them and how many second hits were new.

    Example:
        >>> from lcmem.types import Chunk, Hit
        >>> a = Hit(Chunk("Mihevox was led by Ana Lo.", 0, 26, doc_path="d"), 2.0, rank=1)
        >>> b = Hit(Chunk("Logs rotate daily.", 30, 48, doc_path="d"), 1.0, rank=2)
        >>> c = Hit(Chunk("Ana Lo is in Madurai.", 60, 81, doc_path="d"), 1.5, rank=1)
        >>> hits, added = merge_hops("Who led Mihevox?", [a, b], [c, a], "Ana Lo")
        >>> [h.chunk.text[:6] for h in hits], [h.rank for h in hits], added
        (['Mihevo', 'Ana Lo', 'Logs r'], [1, 2, 3], 1)
    """
    from dataclasses import replace

    asked, bridge = names(question), names(query)
    seen = {(h.path, h.chunk.start, h.chunk.end) for h in first}
    new = [h for h in second if (h.path, h.chunk.start, h.chunk.end) not in seen]

    def about(hit: Hit, wanted: Sequence[str]) -> bool:
        return any(mentions(hit.chunk.text, n) for n in wanted)

    order = (
        [h for h in first if about(h, asked)]
        + [h for h in new if about(h, bridge)]
        + [h for h in first if not about(h, asked)]
        + [h for h in new if not about(h, bridge)]
    )
    return [replace(h, rank=i + 1) for i, h in enumerate(order)], len(new)
