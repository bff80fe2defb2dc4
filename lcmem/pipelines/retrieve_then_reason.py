"""Retrieve-then-reason: quote the evidence first, verify every quote, reason over it only.

1. Retrieve and pack passages as RAG does; the model copies the sentences it needs.
2. Each quote is checked against the passages (exact, normalised, then fuzzy span match; see
   :mod:`lcmem.pipelines.quotes`). A quote that does not occur is dropped, and replaced by
   the best retrieval hit for the quote's words when that hit is not already evidence
   (``replace_dropped``). If nothing is left, the best hit for the question is the evidence.
   Evidence is always the source's own text at the span found, never the model's wording.
3. Anchor (``anchor=True``): the sentences of the passages shown that name a name of the
   question (:func:`~lcmem.pipelines.evidence.names`) are added as evidence (exact source
   spans), so a quote step that copied the wrong lines cannot leave the question's entity out.
4. Second hop (``hops=2``, the default): the names that the evidence chained to the
   question introduces (:func:`~lcmem.pipelines.evidence.bridge_names`: in "The Naram
   observatory is run by Lena Voss." asked about Naram, "Lena Voss") are searched for, and
   the sentences of those hits naming them are added (exact source spans). No LLM call.
5. Focus (``focus_chain=True``): when some evidence is chained to the question's names, the
   model reads only that, in chain order (question's entity, then what it links to); see
   :func:`~lcmem.pipelines.evidence.focus`. Otherwise all evidence, in document order.
6. The model answers from the verified evidence only.

The trace step ``verify quotes`` lists what was verified (with spans and method), dropped,
replaced, anchored, added by the second hop and set aside. Citations are the evidence spans.

Example:
    >>> from lcmem.llm import load_llm                                    # doctest: +SKIP
    >>> rtr = RetrieveThenReasonPipeline(load_llm(), k=6)                 # doctest: +SKIP
    >>> answer = rtr.ask("When did the bridge open?", library=lib)        # doctest: +SKIP
    >>> answer.trace.steps[3].detail["dropped"]                           # doctest: +SKIP
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
from lcmem.pipelines.evidence import (
    bridge_names,
    chain_order,
    focus,
    names,
    overlaps,
    sentences_naming,
)
from lcmem.pipelines.prompts import (
    NO_ANSWER,
    call_llm,
    check_question,
    clean_answer,
    numbered_context,
    quote_messages,
    reason_messages,
    require_positive,
    timed_step,
)
from lcmem.pipelines.quotes import FUZZY_THRESHOLD, split_quotes, sub_chunk, verify_quotes
from lcmem.pipelines.rag import retrieve_and_pack
from lcmem.pipelines.sources import Sources, require_source
from lcmem.pipelines.support import supported_or_marked
from lcmem.types import Hit

if TYPE_CHECKING:
    from lcmem.library import Library
    from lcmem.llm.base import LLM
    from lcmem.types import Document


class RetrieveThenReasonPipeline(Pipeline):
    """Quote evidence, keep only quotes found in the source, answer from them.

    Args:
        llm: the model.
        k: chunks retrieved.
        budget: context tokens of the quoting step; default what fits, capped at
            ``budget_cap``.
        max_tokens: most answer tokens.
        quote_tokens: most tokens of the quoting step's output.
        mode: ``hybrid`` (default), ``dense`` or ``bm25``.
        where: metadata filter passed to ``library.search``.
        threshold: least fuzzy score (0-100) for a quote to count as found.
        replace_dropped: replace a dropped quote with the best retrieval hit for its words.
        anchor: add the passages' sentences that name a name of the question.
        hops: 2 searches again for the names the evidence introduces (the bridge of a
            two-hop question); 1 does not.
        focus_chain: reason only over the evidence chained to the question's names, when
            there is some.
        budget_cap: the default budget's cap (2048: fast on CPU).
        on_text: called with each piece of the answer as it streams.
        check_support: check the answer against the evidence and show the best evidence
            sentence, marked, when it is not supported (:mod:`lcmem.pipelines.support`).
    """

    name = "rtr"

    def __init__(
        self,
        llm: LLM,
        *,
        k: int = 8,
        budget: int | None = None,
        max_tokens: int = 96,
        quote_tokens: int = 160,
        mode: str = "hybrid",
        where: dict[str, Any] | None = None,
        threshold: float = FUZZY_THRESHOLD,
        replace_dropped: bool = True,
        anchor: bool = True,
        hops: int = 2,
        focus_chain: bool = True,
        budget_cap: int = DEFAULT_BUDGET_CAP,
        on_text: Callable[[str], None] | None = None,
        check_support: bool = True,
    ) -> None:
        super().__init__(llm)
        require_positive(k=k, max_tokens=max_tokens, quote_tokens=quote_tokens)
        if hops not in (1, 2):
            raise ConfigError(f"hops must be 1 or 2, got {hops}")
        if not 0 < threshold <= 100:
            raise ConfigError(f"threshold must be in (0, 100], got {threshold}")
        self.k, self.budget, self.max_tokens = k, budget, max_tokens
        self.quote_tokens = quote_tokens
        self.mode, self.where, self.threshold = mode, where, threshold
        self.replace_dropped, self.budget_cap = replace_dropped, budget_cap
        self.anchor, self.hops, self.focus_chain = anchor, hops, focus_chain
        self.on_text, self.check_support = on_text, check_support
        self._sources = Sources()

    def ask(
        self,
        question: str,
        *,
        library: Library | None = None,
        documents: Sequence[Document] | None = None,
    ) -> Answer:
        """Answer ``question`` from verified quotes of the library's or documents' text.

        Raises:
            EmptyQueryError: the question is empty.
            EmptyLibraryError: the library or documents hold no text.
            ConfigError: no source given, or the budget does not fit the LLM's window.
        """
        question = check_question(question)
        require_source(library, documents)
        trace = Trace()
        budget = context_budget(
            self.llm, quote_messages("", question), self.quote_tokens, self.budget, self.budget_cap
        )
        retrieve: dict[str, Any] = dict(
            library=library, documents=documents, mode=self.mode, where=self.where
        )
        packed = retrieve_and_pack(
            self.llm, self._sources, trace, question, self.k, budget, **retrieve
        )
        if not packed:
            return Answer(NO_ANSWER, [], trace)

        step = call_llm(
            self.llm,
            trace,
            "quote",
            quote_messages(numbered_context(packed), question),
            self.quote_tokens,
        )
        started = time.perf_counter()
        quotes = split_quotes(step.output)
        check = verify_quotes(
            quotes,
            [h.chunk for h in packed],
            threshold=self.threshold,
            library=library,
            where=self.where,
        )
        evidence = list(check.verified)
        replaced: list[dict[str, Any]] = []
        if self.replace_dropped:
            for quote in check.dropped:
                found = self._sources.retrieve(quote, 1, **retrieve)
                if found and not any(_overlaps(found[0], e) for e in evidence):
                    evidence.append(_as_evidence(found[0], "replaced", quote))
                    replaced.append({"quote": quote, "by": _span(found[0])})
        fallback = None
        if not evidence:
            best = min(packed, key=lambda h: h.rank or 1 << 30)
            evidence.append(_as_evidence(best, "fallback", ""))
            fallback = _span(best)
        anchored = _add_naming(evidence, packed, names(question), "anchor") if self.anchor else []
        hop: list[str] = []
        if self.hops == 2:
            hop = self._second_hop(question, evidence, retrieve)
        aside: list[Hit] = []
        if self.focus_chain:
            evidence, aside = focus(question, evidence)
        room = context_budget(self.llm, reason_messages("", question), self.max_tokens, cap=budget)
        evidence, _ = pack_hits(evidence, self.llm, room, _evidence_line, separator="\n")
        evidence = shrink_to_fit(evidence, self.llm, room, _evidence_text)
        order, _ = chain_order(question, [h.chunk.text for h in evidence])
        evidence = [evidence[i] for i in order]
        for rank, hit in enumerate(evidence, start=1):
            hit.rank = rank
        timed_step(
            trace,
            "verify quotes",
            started,
            quotes=len(quotes),
            **check.detail(),
            replaced=replaced,
            fallback=fallback,
            anchored=anchored,
            hop=hop,
            set_aside=[_span(h) for h in aside],
            evidence=[_span(h) for h in evidence],
        )
        step = call_llm(
            self.llm,
            trace,
            "reason",
            reason_messages(_evidence_text(evidence), question),
            self.max_tokens,
            on_text=self.on_text,
        )
        answer = Answer(clean_answer(step.output), evidence, trace)
        return supported_or_marked(answer, question) if self.check_support else answer

    def _second_hop(
        self, question: str, evidence: list[Hit], retrieve: dict[str, Any]
    ) -> list[str]:
        """Add the sentences naming the evidence's bridge names (searched for) to ``evidence``;
        return their spans."""
        wanted = bridge_names(question, evidence)
        if not wanted:
            return []
        found = self._sources.retrieve(" ".join(wanted), self.k, **retrieve)
        return _add_naming(evidence, found, wanted, "hop")


def _add_naming(
    evidence: list[Hit], hits: Sequence[Hit], wanted: list[str], method: str
) -> list[str]:
    """Add the sentences of ``hits`` that name one of ``wanted`` (and overlap no evidence yet)
    to ``evidence``, marked with ``method``; return their spans."""
    added: list[str] = []
    if not wanted:
        return added
    for hit in hits:
        for sentence in sentences_naming(hit.chunk, wanted):
            if any(overlaps(sentence, e.chunk) for e in evidence):
                continue
            sentence.metadata = {"quote": "", "method": method, "score": hit.score}
            evidence.append(Hit(sentence, hit.score, rank=1 << 21))
            added.append(_span(evidence[-1]))
    return added


def _evidence_line(hit: Hit) -> str:
    return f"- {hit.chunk.text.strip()}"


def _evidence_text(hits: Sequence[Hit]) -> str:
    """Evidence as the reasoning step reads it: one ``- text`` line per span."""
    return "\n".join(_evidence_line(h) for h in hits)


def _as_evidence(hit: Hit, method: str, quote: str) -> Hit:
    """A retrieval hit used as evidence: its whole chunk, marked with how it got there."""
    chunk = sub_chunk(hit.chunk, 0, len(hit.chunk.text))
    chunk.id = hit.chunk.id
    chunk.metadata = {"quote": quote, "method": method, "score": hit.score}
    return Hit(chunk, hit.score, rank=1 << 20, scores=dict(hit.scores))


def _overlaps(a: Hit, b: Hit) -> bool:
    return a.path == b.path and a.chunk.start < b.chunk.end and b.chunk.start < a.chunk.end


def _span(hit: Hit) -> str:
    return f"{hit.path}:{hit.chunk.start}-{hit.chunk.end}"
